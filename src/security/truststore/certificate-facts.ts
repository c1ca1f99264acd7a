/**
 * What the trust store needs to know about a certificate, read once with Node's X509Certificate
 * (never node-forge, see guides/security.md): its fingerprint (SHA-256 of the DER, the key of the
 * store), the fingerprint of its public key (to tell a renewal from another key claiming a name),
 * its single subject CN (the user ID), serial and validity.
 */
import { X509Certificate, hash } from 'node:crypto';
import { keyKindOf } from '../wssec/key-kind.js';
import { TrustStoreError } from './user-names.js';

export interface CertificateFacts {
  readonly x509: X509Certificate;
  readonly fingerprint: string;
  readonly keyFingerprint: string;
  /** The subject CN, or undefined when there is none or more than one. */
  readonly commonName: string | undefined;
  readonly serial: string;
  readonly notBefore: number;
  readonly notAfter: number;
}

/** Hex SHA-256 of the certificate's DER bytes: how requests find their certificate. */
export function fingerprintOf(der: Buffer): string {
  return hash('sha256', der, 'hex');
}

/**
 * The one CN of the subject, as Node prints it (one RDN per line, RFC 2253 escapes). A subject with
 * no CN, two CNs, or a multi-valued RDN gives undefined or a value that no user-name rule accepts.
 */
export function subjectCommonName(x509: X509Certificate): string | undefined {
  const cns = x509.subject.split('\n').filter((line) => line.startsWith('CN='));
  return cns.length === 1 ? cns[0]?.slice(3) : undefined;
}

export function factsOf(x509: X509Certificate): CertificateFacts {
  const spki = x509.publicKey.export({ type: 'spki', format: 'der' });
  return {
    x509,
    fingerprint: fingerprintOf(x509.raw),
    keyFingerprint: fingerprintOf(spki),
    commonName: subjectCommonName(x509),
    serial: x509.serialNumber,
    notBefore: Date.parse(x509.validFrom),
    notAfter: Date.parse(x509.validTo),
  };
}

/** One certificate from PEM text or DER bytes; a PEM file holding several is refused, not cut short. */
export function readCertificate(data: string | Buffer): CertificateFacts {
  const text = typeof data === 'string' ? data : data.toString('latin1');
  const pemCount = text.match(/-----BEGIN CERTIFICATE-----/g)?.length ?? 0;
  if (pemCount > 1) throw new TrustStoreError(`expected one certificate, found ${pemCount}`);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(data);
  } catch (err) {
    throw new TrustStoreError(
      `not an X.509 certificate (PEM or DER): ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  return factsOf(x509);
}

/** Users sign with RSA keys of 2048 bits or more: refuse others when they are added. */
export function hasUsableUserKey(x509: X509Certificate): boolean {
  return keyKindOf(x509.publicKey) === 'rsa';
}

/** Services sign with EC P-256 keys, or RSA of 2048 bits or more (certificates issued before EC). */
export function hasUsableServiceKey(x509: X509Certificate): boolean {
  return keyKindOf(x509.publicKey) !== undefined;
}

/** Whether the VBS CA issued this certificate: its issuer name and its signature, both checked. */
export function issuedBy(x509: X509Certificate, ca: X509Certificate): boolean {
  try {
    return x509.checkIssued(ca) && x509.verify(ca.publicKey);
  } catch {
    return false;
  }
}
