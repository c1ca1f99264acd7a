/**
 * Why: every request's certificate is looked up in the SQLite trust store, which also has to see a
 * revocation made by vbs-admin in another process on the very next request. The natural baseline is
 * the simplest store the verifier can use, FingerprintTrustStore: the same certificates in a map by
 * SHA-256 of the DER, which never sees a revocation. So this times TrustStore.resolveUser against it,
 * for an enrolled and for an unknown certificate, and the first resolveUser after another connection
 * revoked a certificate (the reload) against an ordinary one.
 */
import { hash, X509Certificate } from 'node:crypto';
import { fingerprintOf } from '../../src/security/truststore/certificate-facts.js';
import { TrustStore } from '../../src/security/truststore/trust-store.js';
import { FingerprintTrustStore } from '../../src/security/wssec/trust-store.js';
import type { MicroOptions } from '../lib/micro-timing.js';
import type { StepIdentities } from './identities.js';
import { measureSection, type StepSection } from './section.js';

/** Certificates looked up in turn; the rest of the store's users are revoked, one per reload. */
const LOOKED_UP = 20;
const RELOADS_PER_ROUND = 10;

export function trustSteps(ids: StepIdentities, options: MicroOptions, log: (line: string) => void): StepSection {
  const known = [ids.aliceDer, ...ids.otherUsers.slice(0, LOOKED_UP - 1)];
  const victims = ids.otherUsers.slice(LOOKED_UP - 1);
  // Warm-up reloads too: one round's worth before the rounds.
  const needed = RELOADS_PER_ROUND * (options.rounds + 1);
  if (victims.length < needed)
    throw new Error(`the trust store needs ${needed} certificates to revoke, has ${victims.length}`);
  const rowsAtStart = 1 + ids.otherUsers.length;

  const memory = new FingerprintTrustStore();
  for (const der of [ids.aliceDer, ...ids.otherUsers]) memory.add(new X509Certificate(der).toString(), 'user');
  const unknown = new X509Certificate(ids.ecService.certPem).raw;
  for (const der of known) if (!ids.trust.resolveUser(der)) throw new Error('an enrolled certificate did not resolve');
  if (ids.trust.resolveUser(unknown)) throw new Error('a certificate never enrolled resolved');

  // Another connection to the same file, as vbs-admin in another process would open.
  const admin = new TrustStore(ids.trustFile, ids.ca.certPem);
  let k = 0;
  const next = (): Buffer => known[k++ % known.length] ?? ids.aliceDer;
  let revoked = 0;
  try {
    const section = measureSection(
      `Trust store lookup (SQLite, ${rowsAtStart} certificates)`,
      [
        {
          id: 'memory.known',
          label: 'FingerprintTrustStore.resolve (in memory), an enrolled certificate',
          call: () => memory.resolve(next()),
        },
        {
          id: 'sqlite.known',
          label: 'TrustStore.resolveUser, an enrolled certificate',
          call: () => ids.trust.resolveUser(next()),
          baseline: 'memory.known',
        },
        {
          id: 'sha256',
          label: '  of which: sha256 of the DER (the fingerprint)',
          call: () => hash('sha256', next(), 'hex'),
          baseline: 'sqlite.known',
        },
        {
          id: 'memory.unknown',
          label: 'FingerprintTrustStore.resolve, an unknown certificate',
          call: () => memory.resolve(unknown),
        },
        {
          id: 'sqlite.unknown',
          label: 'TrustStore.resolveUser, an unknown certificate',
          call: () => ids.trust.resolveUser(unknown),
          baseline: 'memory.unknown',
        },
        {
          id: 'sqlite.reload',
          label: 'TrustStore.resolveUser just after another connection revoked a certificate',
          before: () => {
            const victim = victims[revoked++];
            if (!victim || !admin.revokeCertificate(fingerprintOf(victim))) throw new Error('nothing left to revoke');
          },
          call: () => ids.trust.resolveUser(ids.aliceDer),
          callsPerRound: RELOADS_PER_ROUND,
          baseline: 'sqlite.known',
        },
      ],
      [
        `The reload rows start with ${rowsAtStart} active certificates and end with ${rowsAtStart - needed}: each revokes one.`,
        'FingerprintTrustStore never sees a revocation; TrustStore checks PRAGMA data_version on every lookup.',
      ],
      options,
      log,
    );
    for (const der of victims.slice(0, revoked))
      if (ids.trust.resolveUser(der)) throw new Error('a revoked certificate still resolved');
    return section;
  } finally {
    admin.close();
  }
}
