/**
 * Verifies a WS-Security 1.0 X.509-signed request on the document parseEnvelope already built, in the
 * order of guides/security.md: one Security header with one Signature, no duplicate Ids anywhere, the
 * certificate from the trust store (looked up from the BinarySecurityToken the SecurityTokenReference
 * names, never from KeyInfo), the signature over the exclusive-c14n SignedInfo with Node's crypto (the
 * SignatureMethod must name the certificate's key kind: rsa-* for RSA >= 2048, ecdsa-sha256 for P-256
 * with a raw r||s value), its References covering exactly the Envelope's own Body and the Security
 * header's Timestamp, their digests, the Timestamp's life, and the replay cache. Only the SignedInfo,
 * Body and Timestamp are canonicalized; nothing is parsed again. Every failure is AuthFailure with a
 * client-safe message.
 *
 * The replay cache is keyed on the canonical SignedInfo, not on the signature value: an ECDSA
 * signature (r, s) has a twin (r, n - s) that verifies as well, so anyone holding a captured message
 * could replay it with the twin value; the SignedInfo (Ids, digests of Body and Timestamp) cannot be
 * changed without the signer's key.
 */
import {
  hash,
  verify as verifySignature,
  type KeyObject,
  type VerifyKeyObjectInput,
  type X509Certificate,
} from 'node:crypto';
import type { Element } from '@xmldom/xmldom';
import { elementChildren, type ParsedEnvelope } from '../../soap/envelope.js';
import { indexDocument } from './document-index.js';
import { exclusiveC14n } from './exc-c14n.js';
import { describeKeyKind, keyKindOf, type KeyKind } from './key-kind.js';
import { BASE64_ENCODING, DS_NS, P256_SIGNATURE_BYTES, WSSE_NS, WSU_NS, X509_TOKEN } from './names.js';
import { replayRefusal, type ReplayCache } from './replay-cache.js';
import { readSignature } from './signature-parts.js';
import { attribute, authFailure, decodeBase64, isElement, structuralChildren, textOnly } from './strict-xml.js';
import { checkTimestamp } from './timestamp.js';

export interface TrustedCertificate {
  readonly x509: X509Certificate;
  /** The user ID this certificate authenticates. */
  readonly userId: string;
}

export interface VerifyOptions {
  /** The trust store: the certificate for these exact DER bytes (by SHA-256 fingerprint), if enrolled. */
  readonly resolveCertificate: (tokenDer: Buffer) => TrustedCertificate | undefined;
  readonly now: () => Date;
  readonly clockSkewSeconds: number;
  /** How long after its Created a request is accepted (default 300, EC2's rule). */
  readonly maxTimestampAgeSeconds?: number;
  readonly replayCache: ReplayCache;
  /** The legacy switch: accept rsa-sha1 and sha1 (EC2-era clients). Default false. */
  readonly allowSha1?: boolean;
}

export interface VerifiedSender {
  readonly userId: string;
  readonly certificate: X509Certificate;
  /** Base64 of the signature value, normalized. */
  readonly signatureValue: string;
}

interface KeyInfoCache {
  readonly key: KeyObject;
  /** RSA of at least 2048 bits or EC P-256: the only keys the accepted signature methods name. */
  readonly kind: KeyKind | undefined;
  readonly notBefore: number;
  readonly notAfter: number;
}

// Parsing a certificate's key and dates costs more than the signature check; certificates are long-lived objects.
const certificateFacts = new WeakMap<X509Certificate, KeyInfoCache>();

function factsOf(x509: X509Certificate): KeyInfoCache {
  let facts = certificateFacts.get(x509);
  if (!facts) {
    const key = x509.publicKey;
    facts = { key, kind: keyKindOf(key), notBefore: Date.parse(x509.validFrom), notAfter: Date.parse(x509.validTo) };
    certificateFacts.set(x509, facts);
  }
  return facts;
}

export function verifySignedEnvelope(message: ParsedEnvelope, options: VerifyOptions): VerifiedSender {
  const allowSha1 = options.allowSha1 ?? false;
  const securities = message.header
    ? elementChildren(message.header).filter((el) => isElement(el, WSSE_NS, 'Security'))
    : [];
  const security = securities[0];
  if (!security)
    throw authFailure('The request is not signed: a WS-Security header with an X.509 signature is required.');
  const index = indexDocument(message.document);
  if (securities.length !== 1 || index.securityHeaders !== 1) {
    throw authFailure('The request must carry exactly one WS-Security header, in the SOAP Header.');
  }
  if (index.duplicateId) throw authFailure('The request uses the same Id on more than one element.');

  const { timestamp, signature } = securityParts(security);
  if (index.signatures !== 1) throw authFailure('The request must carry exactly one signature.');
  const parts = readSignature(signature, allowSha1);

  // The References must name exactly the Envelope's own Body and this header's Timestamp, once each.
  const targets = parts.references.map((r) => index.referable.get(r.id));
  if (parts.references.length !== 2 || !targets.includes(message.body) || !targets.includes(timestamp)) {
    throw authFailure('The signature must cover exactly the SOAP Body and the WS-Security Timestamp, each once.');
  }

  const tokenDer = readToken(index.referable.get(parts.tokenId), security);
  const trusted = options.resolveCertificate(tokenDer);
  // The store is asked by the token's bytes; a store that answers with another certificate is not trusted either.
  if (!trusted || !trusted.x509.raw.equals(tokenDer)) {
    throw authFailure('The signing certificate is not enrolled with this service.');
  }
  const now = options.now();
  const facts = factsOf(trusted.x509);
  if (!(now.getTime() >= facts.notBefore && now.getTime() <= facts.notAfter)) {
    throw authFailure('The signing certificate is not valid at this time.');
  }
  if (!facts.kind)
    throw authFailure('The signing certificate must hold an RSA key of at least 2048 bits or an EC P-256 key.');
  // Node's verify goes by the key, not by the label: without this an EC key would check a signature
  // labelled rsa-sha256, and an RSA key one labelled ecdsa-sha256.
  if (facts.kind !== parts.keyKind) {
    throw authFailure(
      `The SignatureMethod is for ${describeKeyKind(parts.keyKind)} keys; the signing certificate holds ${describeKeyKind(facts.kind)}.`,
    );
  }
  let key: KeyObject | VerifyKeyObjectInput = facts.key;
  if (facts.kind === 'ec-p256') {
    // XML-DSig's ECDSA value is r || s (IEEE P1363); a DER SEQUENCE is another encoding, refused.
    if (parts.signatureValue.length !== P256_SIGNATURE_BYTES) {
      throw authFailure('An ecdsa-sha256 SignatureValue must be the 64 bytes r || s of XML Signature (not DER).');
    }
    key = { key: facts.key, dsaEncoding: 'ieee-p1363' };
  }
  const signedInfo = Buffer.from(exclusiveC14n(parts.signedInfo, parts.inclusivePrefixes), 'utf8');
  let good: boolean;
  try {
    good = verifySignature(parts.hash, signedInfo, key, parts.signatureValue);
  } catch {
    good = false;
  }
  if (!good) throw authFailure('The signature does not verify with the signing certificate.');

  parts.references.forEach((ref, i) => {
    const target = targets[i] as Element;
    // crypto.hash: one call, a third of createHash's cost on these small inputs.
    const digest = hash(ref.hash, exclusiveC14n(target, ref.inclusivePrefixes), 'buffer');
    if (!digest.equals(ref.digest)) {
      throw authFailure(
        `The signed ${target === message.body ? 'Body' : 'Timestamp'} was changed after it was signed.`,
      );
    }
  });

  const window = checkTimestamp(timestamp, {
    now,
    clockSkewSeconds: options.clockSkewSeconds,
    maxAgeSeconds: options.maxTimestampAgeSeconds ?? 300,
  });
  // A request signed before this process began remembering could be the replay of one accepted
  // before a restart; an honest client signs again and is accepted. (Clients write Created in whole
  // seconds, so a request of the very second the cache began is still taken.)
  if (window.created + 1000 <= options.replayCache.since) {
    throw authFailure('The request was signed before this service started; sign it again.');
  }
  // Keyed on what was signed, not on the signature value: ECDSA values are malleable ((r, s) and
  // (r, n - s) both verify). A re-encoded message is the same key too. 128 bits of its SHA-256, as 22
  // base64url characters: what the cache holds for up to 7 minutes per request.
  const replayKey = hash('sha256', signedInfo, 'buffer').toString('base64url', 0, 16);
  const replay = options.replayCache.record(replayKey, window.acceptedUntil, trusted.userId);
  if (replay !== 'new') throw replayRefusal(replay);
  return { userId: trusted.userId, certificate: trusted.x509, signatureValue: parts.signatureValue.toString('base64') };
}

/** The Security header holds the token(s), one Timestamp and one Signature, and nothing else. */
function securityParts(security: Element): { timestamp: Element; signature: Element } {
  let timestamp: Element | undefined;
  let signature: Element | undefined;
  for (const el of structuralChildren(security, 'WS-Security header')) {
    if (isElement(el, WSU_NS, 'Timestamp')) {
      if (timestamp) throw authFailure('The WS-Security header must hold exactly one Timestamp.');
      timestamp = el;
    } else if (isElement(el, DS_NS, 'Signature')) {
      if (signature) throw authFailure('The WS-Security header must hold exactly one Signature.');
      signature = el;
    } else if (!isElement(el, WSSE_NS, 'BinarySecurityToken')) {
      throw authFailure(
        `The WS-Security header holds an element this service does not support (${clip(el.localName)}).`,
      );
    }
  }
  if (!signature) throw authFailure('The request is not signed: the WS-Security header holds no Signature.');
  if (!timestamp) throw authFailure('A signed wsu:Timestamp is required in the WS-Security header.');
  return { timestamp, signature };
}

function readToken(token: Element | undefined, security: Element): Buffer {
  if (
    !token ||
    !isElement(token, WSSE_NS, 'BinarySecurityToken') ||
    token.parentNode !== security ||
    attribute(token, 'ValueType') !== X509_TOKEN
  ) {
    throw authFailure(
      'The SecurityTokenReference must point to an X.509 v3 BinarySecurityToken in the WS-Security header.',
    );
  }
  const encoding = attribute(token, 'EncodingType');
  if (encoding !== undefined && encoding !== BASE64_ENCODING)
    throw authFailure('The BinarySecurityToken must be base64.');
  return decodeBase64(textOnly(token, 'BinarySecurityToken'), 'BinarySecurityToken');
}

function clip(name: string | null | undefined): string {
  const n = name ?? '?';
  return n.length > 64 ? `${n.slice(0, 64)}...` : n;
}
