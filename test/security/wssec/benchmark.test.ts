/**
 * A micro-benchmark, printed and never asserted (timings on a shared 2-core machine are noise for a
 * test): the mean cost of verifySignedEnvelope on the parsed request, per client flavour, its parts,
 * and, for comparison, a naive xml-crypto checkSignature (which parses the text again); then the cost
 * of signing an answer (signEnvelope on a DescribeVolumesResponse of 10 volumes) with an RSA-2048 and
 * an EC P-256 service key, and its parts.
 * The replay cache is a no-op here so that one message can be verified over and over.
 */
import { createPrivateKey, hash, sign, verify, X509Certificate } from 'node:crypto';
import type { Element } from '@xmldom/xmldom';
import { SignedXml } from 'xml-crypto';
import { parseEnvelope } from '../../../src/soap/envelope.js';
import { MemoryReplayCache } from '../../../src/security/wssec/replay-cache.js';
import { indexDocument } from '../../../src/security/wssec/document-index.js';
import { exclusiveC14n } from '../../../src/security/wssec/exc-c14n.js';
import { signEnvelope } from '../../../src/security/wssec/sign.js';
import { exclusiveC14nOfText } from '../../../src/security/wssec/text-c14n.js';
import { schema } from '../../../src/generated/frontend.js';
import { encodeElement } from '../../../src/soap/encode.js';
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
  console.log(
    `      ${label.padEnd(56)} ${cost.wall.toFixed(1).padStart(8)} µs wall ${cost.cpu.toFixed(1).padStart(8)} µs cpu`,
  );

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
      show(
        `parseEnvelope, ${name} (not part of verify)`,
        meanMicros(2000, () => parseEnvelope(text)),
      );
      show(
        `verifySignedEnvelope, ${name}`,
        meanMicros(2000, () => verifySignedEnvelope(message, noReplay)),
      );
    }

    const text = messages[0]?.[1] ?? '';
    const message = parseEnvelope(text);
    const signature = message.document.getElementsByTagNameNS(DS, 'Signature').item(0) as Element;
    const parts = readSignature(signature, false);
    const key = new X509Certificate(alice.certPem).publicKey;
    const signedInfo = Buffer.from(exclusiveC14n(parts.signedInfo));
    console.log('      breakdown (signEnvelope message):');
    show(
      '  indexDocument (Ids, Signature count)',
      meanMicros(2000, () => indexDocument(message.document)),
    );
    show(
      '  readSignature (structure, base64)',
      meanMicros(2000, () => readSignature(signature, false)),
    );
    show(
      '  c14n SignedInfo',
      meanMicros(2000, () => exclusiveC14n(parts.signedInfo)),
    );
    show(
      '  c14n + sha256 Body',
      meanMicros(2000, () => hash('sha256', exclusiveC14n(message.body), 'buffer')),
    );
    show(
      '  RSA-2048 verify (crypto.verify)',
      meanMicros(2000, () => verify('sha256', signedInfo, key, parts.signatureValue)),
    );
    const der = new X509Certificate(alice.certPem).raw;
    show(
      '  trust store lookup (sha256 of DER)',
      meanMicros(2000, () => fixtures().store.resolve(der)),
    );
    const cache = new MemoryReplayCache();
    let n = 0;
    show(
      '  MemoryReplayCache.seen (new key)',
      meanMicros(2000, () => cache.seen(`key-${n++}`, Date.now() + 300_000)),
    );

    const naive = (): boolean => {
      const doc = parseEnvelope(text).document;
      const sig = new SignedXml({ publicCert: alice.certPem, idMode: 'wssecurity' });
      sig.loadSignature(
        doc.getElementsByTagNameNS(DS, 'Signature').item(0) as unknown as Parameters<typeof sig.loadSignature>[0],
      );
      return sig.checkSignature(text);
    };
    show('naive xml-crypto parse + checkSignature', meanMicros(200, naive));
  });

  it('prints the mean cost of signing an answer (10 volumes) with RSA-2048 and EC P-256 service keys', () => {
    const { service, rsaService } = fixtures();
    const volume = (i: number): object => ({
      volumeId: `vol-0123456789abcdef${i}`,
      size: String(1 + i),
      snapshotId: '',
      availabilityZone: 'vbs-local-1a',
      status: 'available',
      createTime: '2026-11-27T10:08:00.000Z',
      attachmentSet: {},
      volumeType: 'sparse',
    });
    const answer = {
      requestId: 'ba5e0000-0000-4000-8000-000000000000',
      volumeSet: { item: Array.from({ length: 10 }, (_, i) => volume(i)) },
    };
    const body = encodeElement(schema, 'DescribeVolumesResponse', answer);
    console.log(`      DescribeVolumesResponse: ${body.length} bytes of payload`);
    for (const [name, who] of [
      ['EC P-256', service],
      ['RSA-2048', rsaService],
    ] as const) {
      show(
        `encode + signEnvelope (${name})`,
        meanMicros(3000, () => signEnvelope(encodeElement(schema, 'DescribeVolumesResponse', answer), who)),
      );
      show(
        `signEnvelope (${name})`,
        meanMicros(3000, () => signEnvelope(body, who)),
      );
    }
    const context = {
      inScope: new Map([
        ['soap', 'urn:soap'],
        ['wsse', 'urn:wsse'],
        ['wsu', 'urn:wsu'],
      ]),
      rendered: new Map([
        ['soap', 'urn:soap'],
        ['wsu', 'urn:wsu'],
      ]),
    };
    const signedInfo = Buffer.alloc(900, 'a');
    const ec = createPrivateKey(service.keyPem);
    const rsa = createPrivateKey(rsaService.keyPem);
    console.log('      breakdown:');
    show(
      '  exclusive c14n of the payload, from its text',
      meanMicros(3000, () => exclusiveC14nOfText(body, context)),
    );
    show(
      '  sha256 of the payload',
      meanMicros(3000, () => hash('sha256', body, 'base64')),
    );
    show(
      '  ECDSA P-256 sign (r || s)',
      meanMicros(3000, () => sign('sha256', signedInfo, { key: ec, dsaEncoding: 'ieee-p1363' })),
    );
    show(
      '  RSA-2048 sign',
      meanMicros(1000, () => sign('sha256', signedInfo, rsa)),
    );
  });
});
