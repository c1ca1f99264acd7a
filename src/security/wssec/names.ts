/**
 * The namespaces and algorithm URIs of the WS-Security 1.0 X.509 token profile as VBS speaks it, in
 * one place so that the signer and the verifier cannot drift apart. The verifier accepts only what is
 * listed here: exclusive c14n (no comments), RSA PKCS#1 v1.5 with SHA-256/384/512, ECDSA P-256 with
 * SHA-256 (the services' keys), and SHA-1 only behind the operator's legacy switch (EC2-era clients).
 * Each signature method names the one key kind it may be verified with.
 */
import type { KeyKind } from './key-kind.js';

export const WSSE_NS = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd';
export const WSU_NS = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd';
export const DS_NS = 'http://www.w3.org/2000/09/xmldsig#';
export const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
export const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';
export const XML_NS = 'http://www.w3.org/XML/1998/namespace';

export const ENVELOPED_SIGNATURE = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';
export const X509_TOKEN = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3';
export const BASE64_ENCODING =
  'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary';

export const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
/** Its SignatureValue is r || s, 32 bytes each (RFC 4050, XML-DSig 1.1), not DER. */
export const ECDSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256';
export const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';

/** Node's name of the hash, and whether it is the legacy SHA-1 that needs allowSha1. */
export interface HashChoice {
  readonly hash: 'sha1' | 'sha256' | 'sha384' | 'sha512';
  readonly legacy: boolean;
  /** Digest length in bytes, so a DigestValue of the wrong size is refused before hashing. */
  readonly bytes: number;
}

export interface SignatureChoice extends HashChoice {
  /** The only kind of key this method may be verified with. */
  readonly key: KeyKind;
}

export const SIGNATURE_METHODS: ReadonlyMap<string, SignatureChoice> = new Map<string, SignatureChoice>([
  ['http://www.w3.org/2000/09/xmldsig#rsa-sha1', { hash: 'sha1', legacy: true, bytes: 20, key: 'rsa' }],
  [RSA_SHA256, { hash: 'sha256', legacy: false, bytes: 32, key: 'rsa' }],
  ['http://www.w3.org/2001/04/xmldsig-more#rsa-sha384', { hash: 'sha384', legacy: false, bytes: 48, key: 'rsa' }],
  ['http://www.w3.org/2001/04/xmldsig-more#rsa-sha512', { hash: 'sha512', legacy: false, bytes: 64, key: 'rsa' }],
  [ECDSA_SHA256, { hash: 'sha256', legacy: false, bytes: 32, key: 'ec-p256' }],
]);

/** The length of an ECDSA P-256 SignatureValue: r and s, 32 bytes each. */
export const P256_SIGNATURE_BYTES = 64;

export const DIGEST_METHODS: ReadonlyMap<string, HashChoice> = new Map([
  ['http://www.w3.org/2000/09/xmldsig#sha1', { hash: 'sha1', legacy: true, bytes: 20 }],
  [SHA256, { hash: 'sha256', legacy: false, bytes: 32 }],
  ['http://www.w3.org/2001/04/xmldsig-more#sha384', { hash: 'sha384', legacy: false, bytes: 48 }],
  ['http://www.w3.org/2001/04/xmlenc#sha512', { hash: 'sha512', legacy: false, bytes: 64 }],
]);
