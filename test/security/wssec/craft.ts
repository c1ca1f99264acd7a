/**
 * A test-only signer that can be told to do the wrong thing: sign with one key while the token holds
 * another certificate, reference the Body twice, leave the Timestamp out, use SHA-1 or inclusive
 * c14n, add a certificate to KeyInfo, add header blocks, label an ECDSA signature as RSA (or the
 * reverse), write an ECDSA value as DER. The signature it writes is valid for what it signs, so each
 * attack test is refused for the attack, not for a broken signature.
 * Digests use the verifier's canonicalizer, which the interop tests check against xmlsec1 and zeep.
 */
import { createPrivateKey, hash, sign } from 'node:crypto';
import type { Element } from '@xmldom/xmldom';
import { parseXml } from '../../../src/soap/envelope.js';
import { exclusiveC14n } from '../../../src/security/wssec/exc-c14n.js';
import { CREATE_VOLUME, tokenOf, type Identity } from './helpers.js';

const SOAP = 'http://schemas.xmlsoap.org/soap/envelope/';
const WSSE = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd';
const WSU = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd';
const DS = 'http://www.w3.org/2000/09/xmldsig#';
const X509 = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3';
export const EXC = 'http://www.w3.org/2001/10/xml-exc-c14n#';
export const RSA_SHA1 = 'http://www.w3.org/2000/09/xmldsig#rsa-sha1';
export const SHA1 = 'http://www.w3.org/2000/09/xmldsig#sha1';
export const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
export const ECDSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256';
const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';

export interface CraftSpec {
  /** Whose key signs. */
  readonly signer: Identity;
  /** The certificate in the BinarySecurityToken (default: the signer's). */
  readonly tokenCertPem?: string;
  readonly body?: string;
  /** null: no Timestamp at all. */
  readonly timestamp?: { readonly created: Date; readonly expires: Date } | null;
  /** Ids to reference, in order; the message's Ids are TS-1, Body-1 and X509-1. */
  readonly references?: readonly string[];
  readonly c14n?: string;
  readonly signatureMethod?: string;
  readonly digestMethod?: string;
  /** Replaces KeyInfo's content (default: a SecurityTokenReference to X509-1). */
  readonly keyInfo?: string;
  /** Added after the Security header, inside the SOAP Header. */
  readonly extraHeader?: string;
  /** Added inside the Security header, before the Signature. */
  readonly extraSecurity?: string;
  /** How an EC key's signature value is written: r || s as XML-DSig says (default), or DER. */
  readonly ecdsaEncoding?: 'ieee-p1363' | 'der';
}

const iso = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export function craft(spec: CraftSpec): string {
  const now = Date.now();
  const ts =
    spec.timestamp === undefined ? { created: new Date(now), expires: new Date(now + 300_000) } : spec.timestamp;
  const sha1 = spec.signatureMethod === RSA_SHA1;
  const head =
    `<soap:Envelope xmlns:soap="${SOAP}" xmlns:wsse="${WSSE}" xmlns:wsu="${WSU}"><soap:Header>` +
    `<wsse:Security soap:mustUnderstand="1">` +
    `<wsse:BinarySecurityToken ValueType="${X509}" wsu:Id="X509-1">${tokenOf(spec.tokenCertPem ?? spec.signer.certPem)}</wsse:BinarySecurityToken>` +
    (ts
      ? `<wsu:Timestamp wsu:Id="TS-1"><wsu:Created>${iso(ts.created)}</wsu:Created><wsu:Expires>${iso(ts.expires)}</wsu:Expires></wsu:Timestamp>`
      : '') +
    (spec.extraSecurity ?? '');
  const tail =
    `</wsse:Security>${spec.extraHeader ?? ''}</soap:Header>` +
    `<soap:Body wsu:Id="Body-1">${spec.body ?? CREATE_VOLUME}</soap:Body></soap:Envelope>`;

  const doc = parseXml(head + tail);
  const byId = new Map<string, Element>();
  const all = doc.getElementsByTagName('*');
  for (let i = 0; i < all.length; i++) {
    const el = all.item(i);
    const id = el?.getAttributeNS(WSU, 'Id') ?? el?.getAttributeNS(null, 'Id');
    if (el && id && !byId.has(id)) byId.set(id, el);
  }
  const digestMethod = spec.digestMethod ?? (sha1 ? SHA1 : SHA256);
  const refs = (spec.references ?? (ts ? ['TS-1', 'Body-1'] : ['Body-1']))
    .map((id) => {
      const el = byId.get(id);
      if (!el) throw new Error(`craft: no element with Id ${id}`);
      const value = hash(digestMethod === SHA1 ? 'sha1' : 'sha256', exclusiveC14n(el), 'base64');
      return (
        `<ds:Reference URI="#${id}"><ds:Transforms><ds:Transform Algorithm="${EXC}"></ds:Transform></ds:Transforms>` +
        `<ds:DigestMethod Algorithm="${digestMethod}"></ds:DigestMethod><ds:DigestValue>${value}</ds:DigestValue></ds:Reference>`
      );
    })
    .join('');
  const inner =
    `<ds:CanonicalizationMethod Algorithm="${spec.c14n ?? EXC}"></ds:CanonicalizationMethod>` +
    `<ds:SignatureMethod Algorithm="${spec.signatureMethod ?? RSA_SHA256}"></ds:SignatureMethod>${refs}</ds:SignedInfo>`;
  const key = createPrivateKey(spec.signer.keyPem);
  const signingKey = key.asymmetricKeyType === 'ec' ? { key, dsaEncoding: spec.ecdsaEncoding ?? 'ieee-p1363' } : key;
  const value = sign(sha1 ? 'sha1' : 'sha256', Buffer.from(`<ds:SignedInfo xmlns:ds="${DS}">${inner}`), signingKey);
  const keyInfo =
    spec.keyInfo ??
    `<wsse:SecurityTokenReference><wsse:Reference URI="#X509-1" ValueType="${X509}"/></wsse:SecurityTokenReference>`;
  const signature =
    `<ds:Signature xmlns:ds="${DS}"><ds:SignedInfo>${inner}<ds:SignatureValue>${value.toString('base64')}` +
    `</ds:SignatureValue><ds:KeyInfo>${keyInfo}</ds:KeyInfo></ds:Signature>`;
  return head + signature + tail;
}
