/**
 * The signing keys VBS accepts, named once so that the CA, the trust stores, the signer and the
 * verifier cannot disagree: RSA of at least 2048 bits, and ECDSA on NIST P-256 (prime256v1), named by
 * its OID (a key with explicit curve parameters has no namedCurve and is refused). Every other key
 * (smaller RSA, RSA-PSS keys, other curves such as P-384 or secp256k1, Ed25519) is no kind at all.
 * A signature method names the one kind it may be verified with (names.ts), so that an EC key never
 * checks a signature labelled RSA, nor the reverse.
 */
import type { KeyObject } from 'node:crypto';

export type KeyKind = 'rsa' | 'ec-p256';

export const MIN_RSA_BITS = 2048;

export function keyKindOf(key: KeyObject): KeyKind | undefined {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'rsa') return (details?.modulusLength ?? 0) >= MIN_RSA_BITS ? 'rsa' : undefined;
  if (key.asymmetricKeyType === 'ec') return details?.namedCurve === 'prime256v1' ? 'ec-p256' : undefined;
  return undefined;
}

/** For messages: what a kind is called. */
export function describeKeyKind(kind: KeyKind): string {
  return kind === 'rsa' ? 'RSA' : 'EC P-256';
}
