/**
 * Why: the request steps must be timed on the product's own material, not a test double: a VBS CA,
 * the SQLite trust store the frontend resolves every request's certificate in (in a temporary home),
 * an enrolled user alice with an RSA-2048 key (users keep RSA), and a service identity with the EC
 * P-256 key that ensureServiceTls issues today next to one with the RSA-2048 key services used before,
 * so that both signing costs can be compared in the same run. The store also holds `otherUsers`
 * further certificates, so that its lookups and reloads work on a store of some size; they share one
 * key (the store allows that across users), because RSA key generation would take minutes.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createCa,
  generateKeyPair,
  issueCertificate,
  type CaMaterial,
} from '../../src/security/ca/certificate-authority.js';
import type { KeyKind } from '../../src/security/wssec/key-kind.js';
import type { Signer } from '../../src/security/wssec/sign.js';
import { TrustStore } from '../../src/security/truststore/trust-store.js';

export interface StepIdentities {
  readonly ca: CaMaterial;
  /** Enrolled in `trust` by the CA (source 'ca'), as `vbs-admin` enrols a user. */
  readonly alice: Signer;
  readonly aliceDer: Buffer;
  /** The frontend's identity as issued today (EC P-256). */
  readonly ecService: Signer;
  /** The same name with an RSA-2048 key, as services were issued before. */
  readonly rsaService: Signer;
  readonly trustFile: string;
  readonly trust: TrustStore;
  /** DER of every other certificate in `trust`, in the order added. */
  readonly otherUsers: readonly Buffer[];
  /** Closes the store and removes its home. */
  readonly close: () => void;
}

function service(ca: CaMaterial, kind: KeyKind): Signer {
  const pair = generateKeyPair(kind);
  const { certPem } = issueCertificate(ca, {
    commonName: 'frontend',
    publicKeyPem: pair.publicKeyPem,
    usage: 'server',
    dnsNames: ['localhost'],
  });
  return { certPem, keyPem: pair.privateKeyPem };
}

export function makeIdentities(otherUsers: number): StepIdentities {
  const ca = createCa('VBS bench CA');
  const dir = mkdtempSync(join(tmpdir(), 'vbs-bench-steps-'));
  const trustFile = join(dir, 'trust.sqlite');
  const trust = new TrustStore(trustFile, ca.certPem);
  try {
    const issued = trust.issueUser('alice', ca);
    const shared = generateKeyPair();
    const others: Buffer[] = [];
    for (let i = 0; i < otherUsers; i++) {
      const { certPem } = issueCertificate(ca, {
        commonName: `user-${String(i).padStart(4, '0')}`,
        publicKeyPem: shared.publicKeyPem,
        usage: 'client',
      });
      trust.trustManual(certPem);
      others.push(new X509Certificate(certPem).raw);
    }
    return {
      ca,
      alice: { certPem: issued.certPem, keyPem: issued.keyPem },
      aliceDer: new X509Certificate(issued.certPem).raw,
      ecService: service(ca, 'ec-p256'),
      rsaService: service(ca, 'rsa'),
      trustFile,
      trust,
      otherUsers: others,
      close: () => {
        trust.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    trust.close();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
