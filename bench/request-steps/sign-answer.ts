/**
 * Why: the frontend signs every answer it sends, so signing is on every request's path. This times
 * signEnvelope on a DescribeVolumesResponse of 8 volumes (the answer of the signed-request part)
 * against node-soap's WSSecurityCert, the usual way to sign WS-Security in Node (xml-crypto, which
 * parses the envelope to sign it), with the same RSA-2048 key; then signEnvelope with the EC P-256
 * key against RSA-2048; then signEnvelope's parts as shares of it. The frontend signs its answers to
 * users (who sign with RSA) with its RSA-2048 certificate, so that RSA-only toolkits can check them,
 * and its answers to services (EC P-256) with its EC key: both rows are on a request's path.
 * Every signed answer is checked by VBS's verifier before anything is timed.
 */
import { createPrivateKey, hash, sign, X509Certificate } from 'node:crypto';
import { WSSecurityCert } from 'soap';
import { schema } from '../../src/generated/frontend.js';
import { encodeElement } from '../../src/soap/encode.js';
import { parseEnvelope, SOAP_ENV_NS } from '../../src/soap/envelope.js';
import { WSSE_NS, WSU_NS } from '../../src/security/wssec/names.js';
import { signEnvelope, type Signer } from '../../src/security/wssec/sign.js';
import { exclusiveC14nOfText } from '../../src/security/wssec/text-c14n.js';
import { verifySignedEnvelope } from '../../src/security/wssec/verify.js';
import type { MicroOptions } from '../lib/micro-timing.js';
import type { StepIdentities } from './identities.js';
import { measureSection, type StepSection } from './section.js';

export const ANSWER_VOLUMES = 8;

export interface SignFigures {
  readonly section: StepSection;
  readonly answerPayloadBytes: number;
}

function answer(): Record<string, unknown> {
  const volume = (i: number): Record<string, unknown> => ({
    volumeId: `vol-0123456789abcdef${i}`,
    size: String(1 + i),
    snapshotId: '',
    availabilityZone: 'vbs-local-1a',
    status: 'available',
    createTime: '2026-11-27T10:08:00.000Z',
    attachmentSet: {},
    volumeType: 'sparse',
  });
  return {
    requestId: 'ba5e0000-0000-4000-8000-000000000000',
    volumeSet: { item: Array.from({ length: ANSWER_VOLUMES }, (_, i) => volume(i)) },
  };
}

/** The answer must verify as coming from `who` (this throws if not), or its signing time would mean nothing. */
function checkSigned(text: string, who: Signer): void {
  const x509 = new X509Certificate(who.certPem);
  verifySignedEnvelope(parseEnvelope(text), {
    resolveCertificate: (der) => (der.equals(x509.raw) ? { x509, userId: 'frontend' } : undefined),
    now: () => new Date(),
    clockSkewSeconds: 30,
    replayCache: { record: () => 'new', since: 0 },
  });
}

export function signSteps(ids: StepIdentities, options: MicroOptions, log: (line: string) => void): SignFigures {
  const data = answer();
  const payload = encodeElement(schema, 'DescribeVolumesResponse', data);
  const envelope = `<soap:Envelope xmlns:soap="${SOAP_ENV_NS}"><soap:Header></soap:Header><soap:Body>${payload}</soap:Body></soap:Envelope>`;
  const nodeSoap = new WSSecurityCert(ids.rsaService.keyPem, ids.rsaService.certPem, '', {});
  checkSigned(nodeSoap.postProcess(envelope, 'soap'), ids.rsaService);
  checkSigned(signEnvelope(payload, ids.rsaService), ids.rsaService);
  checkSigned(signEnvelope(payload, ids.ecService), ids.ecService);

  // The payload's surroundings as signEnvelope writes them (its Envelope and Body).
  const context = {
    inScope: new Map([
      ['soap', SOAP_ENV_NS],
      ['wsse', WSSE_NS],
      ['wsu', WSU_NS],
    ]),
    rendered: new Map([
      ['soap', SOAP_ENV_NS],
      ['wsu', WSU_NS],
    ]),
  };
  const canonical = exclusiveC14nOfText(payload, context);
  // A SignedInfo of two References is ~900 bytes; what is signed is its canonical text.
  const signedInfo = Buffer.alloc(900, 'a');
  const ec = createPrivateKey(ids.ecService.keyPem);
  const rsa = createPrivateKey(ids.rsaService.keyPem);
  const section = measureSection(
    `Signing an answer (DescribeVolumesResponse, ${ANSWER_VOLUMES} volumes)`,
    [
      {
        id: 'node-soap.rsa',
        label: 'node-soap WSSecurityCert (xml-crypto), RSA-2048',
        call: () => nodeSoap.postProcess(envelope, 'soap'),
      },
      {
        id: 'vbs.rsa',
        label: 'signEnvelope, RSA-2048 (answers to users)',
        call: () => signEnvelope(payload, ids.rsaService),
        baseline: 'node-soap.rsa',
      },
      {
        id: 'vbs.ec',
        label: 'signEnvelope, EC P-256 (answers to services)',
        call: () => signEnvelope(payload, ids.ecService),
        baseline: 'vbs.rsa',
      },
      {
        id: 'c14n',
        label: '  of which: exclusive c14n of the payload, from its text',
        call: () => exclusiveC14nOfText(payload, context),
        baseline: 'vbs.ec',
      },
      {
        id: 'sha256',
        label: '  of which: sha256 of the canonical payload',
        call: () => hash('sha256', canonical, 'base64'),
        baseline: 'vbs.ec',
      },
      {
        id: 'ecdsa',
        label: '  of which: ECDSA P-256 sign (r || s)',
        call: () => sign('sha256', signedInfo, { key: ec, dsaEncoding: 'ieee-p1363' }),
        baseline: 'vbs.ec',
      },
      {
        id: 'rsa',
        label: 'RSA-2048 sign, the same bytes',
        call: () => sign('sha256', signedInfo, rsa),
        baseline: 'ecdsa',
      },
      {
        id: 'encode',
        label: 'encode the answer (before signing; not part of it)',
        call: () => encodeElement(schema, 'DescribeVolumesResponse', data),
        baseline: 'vbs.ec',
      },
    ],
    [
      `The answer's payload is ${Buffer.byteLength(payload)} bytes; node-soap is handed the envelope, signEnvelope writes it.`,
    ],
    options,
    log,
  );
  return { section, answerPayloadBytes: Buffer.byteLength(payload) };
}
