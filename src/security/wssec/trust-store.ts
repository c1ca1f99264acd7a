/**
 * The simplest trust store the verifier can use: enrolled certificates by SHA-256 fingerprint of
 * their DER bytes. Looking up by fingerprint, never by subject name, is what stops a self-signed
 * certificate that copies an enrolled user's name. Revocation and CA checks belong to whoever fills
 * the store (enrollment removes a revoked certificate); this class only answers "is it this one".
 */
import { X509Certificate, hash } from 'node:crypto';
import type { TrustedCertificate } from './verify.js';

export function fingerprint(der: Buffer): string {
  return hash('sha256', der, 'hex');
}

export class FingerprintTrustStore {
  private readonly byFingerprint = new Map<string, TrustedCertificate>();

  /** Enrolls a certificate for a user ID; returns its fingerprint (hex SHA-256 of the DER). */
  add(certPem: string, userId: string): string {
    const x509 = new X509Certificate(certPem);
    const fp = fingerprint(x509.raw);
    this.byFingerprint.set(fp, { x509, userId });
    return fp;
  }

  remove(fp: string): boolean {
    return this.byFingerprint.delete(fp);
  }

  /** The verifier's resolveCertificate. */
  readonly resolve = (tokenDer: Buffer): TrustedCertificate | undefined =>
    this.byFingerprint.get(fingerprint(tokenDer));
}
