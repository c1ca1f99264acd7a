/**
 * Why: the frontend checks the signature of every request before it routes it, so that check must stay
 * cheap next to the request itself. This times it from the text as received to the verdict (parse,
 * then verifySignedEnvelope with the SQLite trust store) for a request signed by VBS's own signer, by
 * node-soap's WSSecurityCert and by Python zeep (when installed), against the naive way: the same parse,
 * then xml-crypto's checkSignature, which parses the text again. The naive check is given alice's
 * certificate and does less (no trust-store lookup, Timestamp or replay check, no structure rules),
 * so a ratio below 1 is an understatement. The replay cache is a no-op here, so that one message can
 * be checked over and over (verify-parts.ts times its cost).
 */
import { SignedXml } from 'xml-crypto';
import { schema } from '../../src/generated/frontend.js';
import { DS_NS } from '../../src/security/wssec/names.js';
import { signEnvelope } from '../../src/security/wssec/sign.js';
import { verifySignedEnvelope, type VerifyOptions } from '../../src/security/wssec/verify.js';
import { encodeElement } from '../../src/soap/encode.js';
import { parseEnvelope } from '../../src/soap/envelope.js';
import { plainEnvelope } from '../../src/soap/faults.js';
import { nodeSoapRequest, zeepRequest } from '../../test/security/wssec/interop-tools.js';
import type { MicroOptions } from '../lib/micro-timing.js';
import { xmldomRegExpCache } from '../lib/xmldom-regexp-cache.js';
import type { StepIdentities } from './identities.js';
import { measureSection, type SectionStep, type StepSection } from './section.js';
import { verifyParts } from './verify-parts.js';

interface Flavour {
  readonly id: string;
  readonly name: string;
  readonly text: string;
}

export interface VerifyFigures {
  readonly sections: readonly StepSection[];
  readonly requestBytes: Readonly<Record<string, number>>;
  readonly skipped: readonly string[];
}

/** What a service that trusted xml-crypto alone would do with the text it received. */
function naiveCheck(text: string, certPem: string): boolean {
  const document = parseEnvelope(text).document;
  const signature = document.getElementsByTagNameNS(DS_NS, 'Signature').item(0);
  if (!signature) throw new Error('no ds:Signature in the request');
  const check = new SignedXml({ publicCert: certPem, idMode: 'wssecurity' });
  // xml-crypto types it as the DOM's Node; xmldom's Element lacks only the DOM's event methods.
  check.loadSignature(signature as unknown as Parameters<typeof check.loadSignature>[0]);
  return check.checkSignature(text);
}

async function flavours(ids: StepIdentities, body: string, skipped: string[]): Promise<Flavour[]> {
  const out: Flavour[] = [
    { id: 'vbs', name: 'VBS signEnvelope', text: signEnvelope(body, ids.alice) },
    { id: 'node-soap', name: 'node-soap WSSecurityCert', text: await nodeSoapRequest(ids.alice) },
  ];
  try {
    out.push({ id: 'zeep', name: 'zeep BinarySignature', text: await zeepRequest(ids.alice) });
  } catch (e) {
    const why = (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';
    skipped.push(`zeep BinarySignature request: not run (Python zeep and xmlsec are needed: ${why})`);
  }
  return out;
}

export async function verifySteps(
  ids: StepIdentities,
  options: MicroOptions,
  log: (line: string) => void,
): Promise<VerifyFigures> {
  const skipped: string[] = [];
  const body = encodeElement(schema, 'CreateVolume', { size: '1', availabilityZone: 'zone-a' });
  log('request steps: signing the requests to check (node-soap, zeep)');
  const requests = await flavours(ids, body, skipped);
  const opts: VerifyOptions = {
    resolveCertificate: ids.trust.resolve,
    now: () => new Date(),
    clockSkewSeconds: 30,
    replayCache: { record: () => 'new', since: 0 },
  };
  // Nothing is timed unless both checks accept every request: a refusal would time an error path.
  for (const r of requests) {
    const user = verifySignedEnvelope(parseEnvelope(r.text), opts).userId;
    if (user !== 'alice') throw new Error(`${r.name}: verified as ${user}, not alice`);
    if (!naiveCheck(r.text, ids.alice.certPem)) throw new Error(`${r.name}: xml-crypto refuses the request`);
  }

  const steps: SectionStep[] = [];
  for (const r of requests) {
    const parsed = parseEnvelope(r.text);
    steps.push(
      {
        id: `${r.id}.naive`,
        label: `${r.name}: parse + xml-crypto checkSignature (naive)`,
        call: () => naiveCheck(r.text, ids.alice.certPem),
      },
      {
        id: `${r.id}.full`,
        label: `${r.name}: parse + verifySignedEnvelope`,
        call: () => verifySignedEnvelope(parseEnvelope(r.text), opts),
        baseline: `${r.id}.naive`,
      },
      {
        id: `${r.id}.parse`,
        label: '  of which: parseEnvelope',
        call: () => parseEnvelope(r.text),
        baseline: `${r.id}.full`,
      },
      {
        id: `${r.id}.verify`,
        label: '  of which: verifySignedEnvelope',
        call: () => verifySignedEnvelope(parsed, opts),
        baseline: `${r.id}.full`,
      },
    );
  }
  const vbsText = requests[0]?.text ?? '';
  const unsigned = plainEnvelope(body);
  const cached = xmldomRegExpCache();
  steps.push(
    {
      id: 'parse.unsigned',
      label: 'parseEnvelope, the same Body unsigned (plain envelope)',
      call: () => parseEnvelope(unsigned),
      baseline: 'vbs.parse',
    },
    {
      id: 'parse.cached-regexp',
      label: "parseEnvelope of the VBS request, xmldom's end-tag RegExp compiled once",
      call: () => cached(() => parseEnvelope(vbsText)),
      baseline: 'vbs.parse',
    },
  );
  const checking = measureSection(
    'Checking a signed request (CreateVolume), from its text to the verdict',
    steps,
    [
      'xml-crypto is given the certificate; it does no trust-store lookup, Timestamp, replay or structure check.',
      "parseEnvelope: the service parses every request once, signed or not; xmldom's RegExp fix is upstream's to make (xmldom#950).",
    ],
    options,
    log,
  );
  return {
    sections: [checking, verifyParts(ids, vbsText, opts, options, log)],
    requestBytes: {
      ...Object.fromEntries(requests.map((r) => [r.id, Buffer.byteLength(r.text)])),
      unsigned: Buffer.byteLength(unsigned),
    },
    skipped,
  };
}
