/**
 * A micro-benchmark, printed and never asserted (timings on a shared 2-core machine are noise for a
 * test): the mean cost of verifySignedEnvelope on the parsed request, per client flavour, its parts,
 * and, for comparison, a naive xml-crypto checkSignature (which parses the text again).
 * The replay cache is a no-op here so that one message can be verified over and over.
 */
import { hash, verify, X509Certificate } from 'node:crypto';
import type { Element } from '@xmldom/xmldom';
import { SignedXml } from 'xml-crypto';
import { parseEnvelope } from '../../../src/soap/envelope.js';
import { MemoryReplayCache } from '../../../src/security/wssec/replay-cache.js';
import { indexDocument } from '../../../src/security/wssec/document-index.js';
import { exclusiveC14n } from '../../../src/security/wssec/exc-c14n.js';
import { signEnvelope } from '../../../src/security/wssec/sign.js';
import { readSignature } from '../../../src/security/wssec/signature-parts.js';
import { verifySignedEnvelope } from '../../../src/security/wssec/verify.js';
import { CREATE_VOLUME, fixtures, options } from './helpers.js';
import { nodeSoapRequest, zeepRequest } from './interop-tools.js';

const DS = 'http://www.w3.org/2000/09/xmldsig#';

interface Cost {
  readonly wall: number;
  /** This process's CPU time: less disturbed than wall time by other work on a shared machine. */
  readonly cpu: number;
}

function meanMicros(iterations: number, fn: () => unknown): Cost {
  for (let i = 0; i < Math.min(500, iterations); i++) fn();
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn();
  const wall = Number(process.hrtime.bigint() - started) / iterations / 1000;
  const used = process.cpuUsage(cpu);
  return { wall, cpu: (used.user + used.system) / iterations };
}

const show = (label: string, cost: Cost): void =>
  console.log(`      ${label.padEnd(56)} ${cost.wall.toFixed(1).padStart(8)} µs wall ${cost.cpu.toFixed(1).padStart(8)} µs cpu`);

describe('WS-Security: verify cost (printed, not asserted)', function () {
  this.timeout(120_000);

  it('prints the mean verify time over 2000 iterations, and its breakdown', async () => {
    const { alice } = fixtures();
    const noReplay = options({ replayCache: { seen: () => false, since: 0 } });
    const messages: Array<[string, string]> = [
      ['signEnvelope', signEnvelope(CREATE_VOLUME, alice)],
      ['node-soap WSSecurityCert', await nodeSoapRequest(alice)],
      ['zeep BinarySignature', await zeepRequest(alice)],
    ];
    // Every flavour once first, so that the first one measured does not pay for the JIT alone.
    for (const [, text] of messages) meanMicros(500, () => verifySignedEnvelope(parseEnvelope(text), noReplay));
    for (const [name, text] of messages) {
      const message = parseEnvelope(text);
      show(`parseEnvelope, ${name} (not part of verify)`, meanMicros(2000, () => parseEnvelope(text)));
      show(`verifySignedEnvelope, ${name}`, meanMicros(2000, () => verifySignedEnvelope(message, noReplay)));
    }

    const text = messages[0]?.[1] ?? '';
    const message = parseEnvelope(text);
    const signature = message.document.getElementsByTagNameNS(DS, 'Signature').item(0) as Element;
    const parts = readSignature(signature, false);
    const key = new X509Certificate(alice.certPem).publicKey;
    const signedInfo = Buffer.from(exclusiveC14n(parts.signedInfo));
    console.log('      breakdown (signEnvelope message):');
    show('  indexDocument (Ids, Signature count)', meanMicros(2000, () => indexDocument(message.document)));
    show('  readSignature (structure, base64)', meanMicros(2000, () => readSignature(signature, false)));
    show('  c14n SignedInfo', meanMicros(2000, () => exclusiveC14n(parts.signedInfo)));
    show('  c14n + sha256 Body', meanMicros(2000, () => hash('sha256', exclusiveC14n(message.body), 'buffer')));
    show('  RSA-2048 verify (crypto.verify)', meanMicros(2000, () => verify('sha256', signedInfo, key, parts.signatureValue)));
    const der = new X509Certificate(alice.certPem).raw;
    show('  trust store lookup (sha256 of DER)', meanMicros(2000, () => fixtures().store.resolve(der)));
    const cache = new MemoryReplayCache();
    let n = 0;
    show('  MemoryReplayCache.seen (new key)', meanMicros(2000, () => cache.seen(`key-${n++}`, Date.now() + 300_000)));

    const naive = (): boolean => {
      const doc = parseEnvelope(text).document;
      const sig = new SignedXml({ publicCert: alice.certPem, idMode: 'wssecurity' });
      sig.loadSignature(doc.getElementsByTagNameNS(DS, 'Signature').item(0) as unknown as Parameters<typeof sig.loadSignature>[0]);
      return sig.checkSignature(text);
    };
    show('naive xml-crypto parse + checkSignature', meanMicros(200, naive));
  });
});
