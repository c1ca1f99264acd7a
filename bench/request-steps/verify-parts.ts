/**
 * Why: when the signature check costs more than it should, the question is which of its steps does.
 * This times verifySignedEnvelope on the VBS-signed request, parsed beforehand, with its main parts
 * alone (index, structure, the two canonicalizations and digests, the RSA verify, the trust-store
 * lookup) as shares of the whole, and the replay cache that the whole skips here (a no-op, so that
 * one message can be verified over and over) as what the service pays on top.
 */
import { hash, verify, X509Certificate } from 'node:crypto';
import { indexDocument } from '../../src/security/wssec/document-index.js';
import { exclusiveC14n } from '../../src/security/wssec/exc-c14n.js';
import { DS_NS } from '../../src/security/wssec/names.js';
import { MemoryReplayCache } from '../../src/security/wssec/replay-cache.js';
import { readSignature } from '../../src/security/wssec/signature-parts.js';
import { verifySignedEnvelope, type VerifyOptions } from '../../src/security/wssec/verify.js';
import { parseEnvelope } from '../../src/soap/envelope.js';
import type { MicroOptions } from '../lib/micro-timing.js';
import type { StepIdentities } from './identities.js';
import { measureSection, type StepSection } from './section.js';

/** verifySignedEnvelope's parts on the VBS-signed request, each against the whole. */
export function verifyParts(
  ids: StepIdentities,
  text: string,
  opts: VerifyOptions,
  options: MicroOptions,
  log: (line: string) => void,
): StepSection {
  const message = parseEnvelope(text);
  const signature = message.document.getElementsByTagNameNS(DS_NS, 'Signature').item(0);
  if (!signature) throw new Error('no ds:Signature in the request');
  const parts = readSignature(signature, false);
  const key = new X509Certificate(ids.alice.certPem).publicKey;
  const signedInfo = Buffer.from(exclusiveC14n(parts.signedInfo));
  // A new cache every 100 000 keys: one that filled up to its limit would time its refusals instead.
  let replay = new MemoryReplayCache();
  let n = 0;
  const seenNewKey = (): boolean => {
    if (++n % 100_000 === 0) replay = new MemoryReplayCache();
    return replay.record(`key-${n}`, Date.now() + 300_000, 'alice') !== 'new';
  };
  return measureSection(
    'Inside verifySignedEnvelope (VBS-signed request, parsed before)',
    [
      { id: 'whole', label: 'verifySignedEnvelope, all of it', call: () => verifySignedEnvelope(message, opts) },
      {
        id: 'index',
        label: '  indexDocument (Ids, Signature count)',
        call: () => indexDocument(message.document),
        baseline: 'whole',
      },
      {
        id: 'structure',
        label: '  readSignature (structure, base64)',
        call: () => readSignature(signature, false),
        baseline: 'whole',
      },
      {
        id: 'c14n-signedinfo',
        label: '  exclusive c14n of SignedInfo',
        call: () => exclusiveC14n(parts.signedInfo),
        baseline: 'whole',
      },
      {
        id: 'c14n-body',
        label: '  exclusive c14n + sha256 of the Body',
        call: () => hash('sha256', exclusiveC14n(message.body), 'buffer'),
        baseline: 'whole',
      },
      {
        id: 'rsa-verify',
        label: '  RSA-2048 verify (crypto.verify)',
        call: () => verify('sha256', signedInfo, key, parts.signatureValue),
        baseline: 'whole',
      },
      {
        id: 'trust-lookup',
        label: '  trust store lookup (TrustStore.resolveUser)',
        call: () => ids.trust.resolveUser(ids.aliceDer),
        baseline: 'whole',
      },
      {
        id: 'replay',
        label: '  MemoryReplayCache.seen, a new key (not part of the whole here)',
        call: seenNewKey,
        baseline: 'whole',
      },
    ],
    ['The replay check is a no-op in "all of it"; the service pays the MemoryReplayCache row on top.'],
    options,
    log,
  );
}
