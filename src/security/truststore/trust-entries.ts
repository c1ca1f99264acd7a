/**
 * One stored certificate as the request path sees it, checked once when it is loaded: a row is
 * trusted only if its PEM is the certificate its fingerprint names, its CN is the user ID recorded
 * with it (and a name users may hold), and, for source 'ca', the VBS CA really issued it. Whatever a
 * row claims, an edited or foreign row gives an entry that resolves to nothing. Dates and revocation
 * are not decided here: dates change with the clock, revocation with the database.
 */
import { X509Certificate } from 'node:crypto';
import type { TrustedCertificate } from '../wssec/verify.js';
import { factsOf, issuedBy } from './certificate-facts.js';
import { USER_NAME, isReservedName } from './user-names.js';

export type CertificateSource = 'ca' | 'manual';

export interface StoredIdentity {
  readonly fingerprint: string;
  readonly user_id: string;
  readonly source: string;
}

export interface TrustEntry {
  readonly userId: string;
  readonly source: string;
  /** Undefined when the row failed a check; `problem` says which. */
  readonly trusted: TrustedCertificate | undefined;
  readonly problem: string | undefined;
  readonly notBefore: number;
  readonly notAfter: number;
}

export function isCertificateSource(value: string): value is CertificateSource {
  return value === 'ca' || value === 'manual';
}

export function evaluateRow(row: StoredIdentity, pem: string, ca: X509Certificate): TrustEntry {
  const refused = (problem: string, notBefore = 0, notAfter = 0): TrustEntry => ({
    userId: row.user_id,
    source: row.source,
    trusted: undefined,
    problem,
    notBefore,
    notAfter,
  });
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(pem);
  } catch {
    return refused('the stored PEM is not a certificate');
  }
  const facts = factsOf(x509);
  if (facts.fingerprint !== row.fingerprint) return refused('the stored PEM does not match its fingerprint');
  if (facts.commonName !== row.user_id) return refused('the certificate CN is not the recorded user ID');
  if (!USER_NAME.test(row.user_id) || isReservedName(row.user_id)) return refused('the user ID is not allowed');
  if (!isCertificateSource(row.source)) return refused(`unknown source ${JSON.stringify(row.source)}`);
  if (row.source === 'ca' && !issuedBy(x509, ca)) {
    return refused('not issued by the VBS CA', facts.notBefore, facts.notAfter);
  }
  return {
    userId: row.user_id,
    source: row.source,
    trusted: { x509, userId: row.user_id },
    problem: undefined,
    notBefore: facts.notBefore,
    notAfter: facts.notAfter,
  };
}
