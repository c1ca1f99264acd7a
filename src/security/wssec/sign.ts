/**
 * Signs a SOAP 1.1 message the way VBS's verifier (and xmlsec1, zeep, WSS4J) expect: a wsse:Security
 * header with the X.509 BinarySecurityToken, a wsu:Timestamp, and one ds:Signature (exclusive c14n,
 * rsa-sha256, sha256 digests) over the Body and the Timestamp, both referenced by wsu:Id, with KeyInfo
 * a SecurityTokenReference to the token. Used for responses, frontend → delegate calls, delegate
 * callbacks and the CLI.
 *
 * The envelope is written as text, parsed once with the same parseEnvelope the services use (which
 * also checks that bodyXml is one element), and the Body and Timestamp digests are taken with the
 * verifier's own canonicalizer; the Signature is then spliced in, which changes neither of them.
 */
import { X509Certificate, createPrivateKey, hash, randomBytes, sign, type KeyObject } from 'node:crypto';
import type { Element } from '@xmldom/xmldom';
import { parseEnvelope, SOAP_ENV_NS, type ParsedEnvelope } from '../../soap/envelope.js';
import { exclusiveC14n } from './exc-c14n.js';
import { BASE64_ENCODING, DS_NS, EXC_C14N, RSA_SHA256, SHA256, WSSE_NS, WSU_NS, X509_TOKEN } from './names.js';
import { isElement } from './strict-xml.js';

export interface Signer {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface SignOptions {
  readonly now?: Date;
  /** Timestamp life; the verifier accepts at most 300 s after Created whatever Expires says. */
  readonly ttlSeconds?: number;
}

const keys = new Map<string, KeyObject>();
const tokens = new Map<string, string>();
const CACHE_LIMIT = 16;

function cached<T>(cache: Map<string, T>, pem: string, make: () => T): T {
  let v = cache.get(pem);
  if (v === undefined) {
    v = make();
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(pem, v);
  }
  return v;
}

/** xsd:dateTime in UTC, whole seconds: what every client here writes and parses. */
function dateTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function newId(kind: string): string {
  return `${kind}-${randomBytes(12).toString('hex')}`;
}

export function signEnvelope(bodyXml: string, signer: Signer, options: SignOptions = {}): string {
  const now = (options.now ?? new Date()).getTime();
  const ttl = options.ttlSeconds ?? 300;
  if (!(ttl > 0)) throw new Error('ttlSeconds must be positive');
  const token = cached(tokens, signer.certPem, () => new X509Certificate(signer.certPem).raw.toString('base64'));
  const key = cached(keys, signer.keyPem, () => createPrivateKey(signer.keyPem));
  const tokenId = newId('X509');
  const timestampId = newId('TS');
  const bodyId = newId('Body');

  const head = `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<soap:Envelope xmlns:soap="${SOAP_ENV_NS}" xmlns:wsse="${WSSE_NS}" xmlns:wsu="${WSU_NS}"><soap:Header>` +
    `<wsse:Security soap:mustUnderstand="1">` +
    `<wsse:BinarySecurityToken EncodingType="${BASE64_ENCODING}" ValueType="${X509_TOKEN}" wsu:Id="${tokenId}">${token}</wsse:BinarySecurityToken>` +
    `<wsu:Timestamp wsu:Id="${timestampId}"><wsu:Created>${dateTime(now)}</wsu:Created>` +
    `<wsu:Expires>${dateTime(now + ttl * 1000)}</wsu:Expires></wsu:Timestamp>`;
  const tail = `</wsse:Security></soap:Header><soap:Body wsu:Id="${bodyId}">${bodyXml}</soap:Body></soap:Envelope>`;

  let parsed: ParsedEnvelope;
  try {
    parsed = parseEnvelope(head + tail);
  } catch (e) {
    throw new Error('signEnvelope: bodyXml must be exactly one well-formed element', { cause: e });
  }
  const timestamp = parsed.header?.firstChild?.lastChild as Element | null | undefined;
  if (!timestamp || timestamp.nodeType !== 1 || !isElement(timestamp, WSU_NS, 'Timestamp')) {
    throw new Error('signEnvelope: the Timestamp is not where it was written');
  }
  const digest = (el: Element): string => hash('sha256', exclusiveC14n(el), 'base64');
  const reference = (id: string, value: string): string =>
    `<ds:Reference URI="#${id}"><ds:Transforms><ds:Transform Algorithm="${EXC_C14N}"></ds:Transform></ds:Transforms>` +
    `<ds:DigestMethod Algorithm="${SHA256}"></ds:DigestMethod><ds:DigestValue>${value}</ds:DigestValue></ds:Reference>`;
  // Written directly in canonical form: as the apex of exclusive c14n, SignedInfo declares ds itself.
  const signedInfoBody = `<ds:CanonicalizationMethod Algorithm="${EXC_C14N}"></ds:CanonicalizationMethod>` +
    `<ds:SignatureMethod Algorithm="${RSA_SHA256}"></ds:SignatureMethod>` +
    reference(timestampId, digest(timestamp)) + reference(bodyId, digest(parsed.body)) + `</ds:SignedInfo>`;
  const signatureValue = sign('sha256', Buffer.from(`<ds:SignedInfo xmlns:ds="${DS_NS}">${signedInfoBody}`, 'utf8'), key);
  const signature = `<ds:Signature xmlns:ds="${DS_NS}"><ds:SignedInfo>${signedInfoBody}` +
    `<ds:SignatureValue>${signatureValue.toString('base64')}</ds:SignatureValue>` +
    `<ds:KeyInfo><wsse:SecurityTokenReference><wsse:Reference URI="#${tokenId}" ValueType="${X509_TOKEN}"/>` +
    `</wsse:SecurityTokenReference></ds:KeyInfo></ds:Signature>`;
  return head + signature + tail;
}
