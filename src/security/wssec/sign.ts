/**
 * Signs a SOAP 1.1 message the way VBS's verifier (and xmlsec1, zeep, WSS4J) expect: a wsse:Security
 * header with the X.509 BinarySecurityToken, a wsu:Timestamp, and one ds:Signature (exclusive c14n,
 * sha256 digests; rsa-sha256 with an RSA key, ecdsa-sha256 with an EC P-256 key, its value r || s)
 * over the Body and the Timestamp, both referenced by wsu:Id, with KeyInfo a SecurityTokenReference
 * to the token. Used for responses, frontend → delegate calls, delegate callbacks and the CLI.
 *
 * Nothing is parsed: signing is on every answer's path, and parsing the envelope it had just written
 * cost as much as the RSA signature. The Timestamp and the Body's start tag are written here, so their
 * canonical forms are known as text; the payload (bodyXml) is canonicalized from its text in one pass
 * (text-c14n.ts, which also refuses anything but one element of a plain XML subset). The envelope
 * carries bodyXml exactly as given; what is digested is its canonical form as a child of this Body.
 *
 * One exception: xmldom (hence VBS's own verifier) applies XML 1.1's line ends to the raw text, so it
 * reads a literal U+0085, U+2028 or U+2029 as a line feed where libxml2 (xmlsec1, zeep) keeps the
 * character. A payload holding one is sent in its canonical form with those characters as character
 * references, which every parser reads alike (they can only be in text and attribute values there).
 */
import {
  X509Certificate,
  createPrivateKey,
  createPublicKey,
  hash,
  randomBytes,
  sign,
  type KeyObject,
  type SignKeyObjectInput,
} from 'node:crypto';
import type { Element } from '@xmldom/xmldom';
import { elementChildren, SOAP_ENV_NS, type ParsedEnvelope } from '../../soap/envelope.js';
import type { EnvelopeWriter } from '../../soap/envelope-writer.js';
import { keyKindOf, type KeyKind } from './key-kind.js';
import {
  BASE64_ENCODING,
  DS_NS,
  ECDSA_SHA256,
  EXC_C14N,
  RSA_SHA256,
  SHA256,
  SIGNATURE_METHODS,
  WSSE_NS,
  WSU_NS,
  X509_TOKEN,
} from './names.js';
import { isElement } from './strict-xml.js';
import { exclusiveC14nOfText, TextC14nError, type TextC14nContext } from './text-c14n.js';

export interface Signer {
  readonly certPem: string;
  /** PKCS#8 or traditional PEM: RSA of at least 2048 bits, or EC P-256. It must match certPem. */
  readonly keyPem: string;
}

export interface SignOptions {
  readonly now?: Date;
  /** Timestamp life; the verifier accepts at most 300 s after Created whatever Expires says. */
  readonly ttlSeconds?: number;
}

interface SigningMaterial {
  /** Base64 DER of the certificate, for the BinarySecurityToken. */
  readonly token: string;
  readonly subject: string;
  /** The certificate's validity (epoch ms), checked before each request is signed (signedAs). */
  readonly notBefore: number;
  readonly notAfter: number;
  readonly key: KeyObject | SignKeyObjectInput;
  readonly method: string;
}

const materials = new Map<string, SigningMaterial>();
const CACHE_LIMIT = 16;

/** Reads and checks a signer once: the key's kind decides the signature method. */
function materialOf(signer: Signer): SigningMaterial {
  const cacheKey = `${signer.certPem}\u0000${signer.keyPem}`;
  let material = materials.get(cacheKey);
  if (material === undefined) {
    const x509 = new X509Certificate(signer.certPem);
    const key = createPrivateKey(signer.keyPem);
    const kind = keyKindOf(key);
    if (!kind) throw new Error('signEnvelope: the key must be RSA of at least 2048 bits or EC P-256');
    const fromKey = createPublicKey(key).export({ type: 'spki', format: 'der' });
    if (!fromKey.equals(x509.publicKey.export({ type: 'spki', format: 'der' }))) {
      throw new Error('signEnvelope: the key does not match the certificate');
    }
    const facts = {
      token: x509.raw.toString('base64'),
      subject: x509.subject,
      notBefore: Date.parse(x509.validFrom),
      notAfter: Date.parse(x509.validTo),
    };
    material =
      kind === 'rsa'
        ? { ...facts, key, method: RSA_SHA256 }
        : { ...facts, key: { key, dsaEncoding: 'ieee-p1363' }, method: ECDSA_SHA256 };
    if (materials.size >= CACHE_LIMIT) materials.clear();
    materials.set(cacheKey, material);
  }
  return material;
}

/**
 * The payload's surroundings, as the envelope below writes them: the Envelope declares soap, wsse and
 * wsu; the Body's canonical form (its own declarations, then wsu:Id) renders soap and wsu.
 */
const BODY_CONTEXT: TextC14nContext = {
  inScope: new Map([
    ['soap', SOAP_ENV_NS],
    ['wsse', WSSE_NS],
    ['wsu', WSU_NS],
  ]),
  rendered: new Map([
    ['soap', SOAP_ENV_NS],
    ['wsu', WSU_NS],
  ]),
};

/** xsd:dateTime in UTC, whole seconds: what every client here writes and parses. */
function dateTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * The signer's own certificate cannot sign now (expired, not yet valid): a problem of whoever signs,
 * never of the party it calls for. Deliberately not a VbsError: a service that meets it while serving
 * a request answers Server.InternalError with the generic message, and this message (which names the
 * certificate) goes to its log under the request ID.
 */
export class SigningCertificateError extends Error {
  override readonly name = 'SigningCertificateError';
}

/**
 * The envelope writer that signs every message of a SoapClient or SoapEndpoint as `signer`. A request
 * (written by a client: no `answering`) is not signed with a certificate outside its validity: the
 * receiver would refuse it with AuthFailure ("the signing certificate is not ..."), and a frontend
 * would pass that on to its user as theirs, when the fault is its own. An answer is signed whatever
 * the dates (one must be written; the caller judges it).
 */
export function signedAs(signer: Signer): EnvelopeWriter {
  return (bodyXml, answering) => {
    if (answering !== undefined) return signEnvelope(bodyXml, signer);
    const { subject, notBefore, notAfter } = materialOf(signer);
    const now = Date.now();
    if (now > notAfter)
      throw new SigningCertificateError(
        `the signing certificate (${subject}) expired on ${new Date(notAfter).toISOString()}: renew it`,
      );
    if (now < notBefore)
      throw new SigningCertificateError(
        `the signing certificate (${subject}) is valid only from ${new Date(notBefore).toISOString()}`,
      );
    return signEnvelope(bodyXml, signer);
  };
}

/**
 * A server's envelope writer: signs each answer as `signer` (the service's own, EC P-256 key),
 * except the answer to a request signed with RSA, which it signs as `forRsaPeers` when given (the
 * service's second certificate, same identity, an RSA key): a client that signs only with RSA may
 * verify only RSA (stock gSOAP 2.8 hands XML-DSig's r || s to OpenSSL, which wants DER, and fails
 * every ECDSA answer). An answer to a request with no readable signature (unsigned, unparsable) is
 * signed as `signer`: cheaper, and not worth more to whoever sends such requests.
 */
export function answersSignedAs(signer: Signer, forRsaPeers?: Signer): EnvelopeWriter {
  if (!forRsaPeers) return (bodyXml) => signEnvelope(bodyXml, signer);
  return (bodyXml, answering) =>
    signEnvelope(bodyXml, answering?.request && requestKeyKind(answering.request) === 'rsa' ? forRsaPeers : signer);
}

/**
 * The key kind the request's SignatureMethod names (rsa-* or ecdsa-sha256), read from the parsed
 * request without checking anything else: it only chooses which of the service's own keys signs the
 * answer. Undefined unless there is exactly one Security header holding exactly one Signature with
 * a SignatureMethod VBS knows.
 */
export function requestKeyKind(request: ParsedEnvelope): KeyKind | undefined {
  const only = (parent: Element | undefined, ns: string, name: string): Element | undefined => {
    const found = parent ? elementChildren(parent).filter((el) => isElement(el, ns, name)) : [];
    return found.length === 1 ? found[0] : undefined;
  };
  const signedInfo = only(only(only(request.header, WSSE_NS, 'Security'), DS_NS, 'Signature'), DS_NS, 'SignedInfo');
  const method = only(signedInfo, DS_NS, 'SignatureMethod');
  return method ? SIGNATURE_METHODS.get(method.getAttribute('Algorithm') ?? '')?.key : undefined;
}

/** Literal characters that xmldom reads as XML 1.1 line ends and XML 1.0 parsers do not. */
const XML11_LINE_ENDS = /[\u0085\u2028\u2029]/g;

/**
 * bodyXml: one element, in the subset text-c14n.ts reads (what the SOAP encoder and faultElement
 * write); it may use the prefixes soap, wsse and wsu without declaring them. Anything else throws.
 */
export function signEnvelope(bodyXml: string, signer: Signer, options: SignOptions = {}): string {
  const now = (options.now ?? new Date()).getTime();
  const ttl = options.ttlSeconds ?? 300;
  if (!(ttl > 0)) throw new Error('ttlSeconds must be positive');
  const material = materialOf(signer);
  let payload: string;
  try {
    payload = exclusiveC14nOfText(bodyXml, BODY_CONTEXT);
  } catch (e) {
    if (!(e instanceof TextC14nError)) throw e;
    throw new Error(`signEnvelope: bodyXml must be exactly one well-formed element (${e.message})`, { cause: e });
  }
  const wirePayload =
    bodyXml.search(XML11_LINE_ENDS) === -1
      ? bodyXml
      : payload.replace(XML11_LINE_ENDS, (c) => `&#x${(c.codePointAt(0) ?? 0).toString(16).toUpperCase()};`);
  // One call for the three Ids' randomness: 12 bytes (24 hex digits) each.
  const random = randomBytes(36).toString('hex');
  const tokenId = `X509-${random.slice(0, 24)}`;
  const timestampId = `TS-${random.slice(24, 48)}`;
  const bodyId = `Body-${random.slice(48)}`;

  // Ids are hex and dates digits: nothing here needs escaping, and both forms are written directly.
  const timestampContent = `<wsu:Created>${dateTime(now)}</wsu:Created><wsu:Expires>${dateTime(now + ttl * 1000)}</wsu:Expires></wsu:Timestamp>`;
  const timestamp = `<wsu:Timestamp wsu:Id="${timestampId}">${timestampContent}`;
  const timestampC14n = `<wsu:Timestamp xmlns:wsu="${WSU_NS}" wsu:Id="${timestampId}">${timestampContent}`;
  const bodyC14n = `<soap:Body xmlns:soap="${SOAP_ENV_NS}" xmlns:wsu="${WSU_NS}" wsu:Id="${bodyId}">${payload}</soap:Body>`;

  const reference = (id: string, canonical: string): string =>
    `<ds:Reference URI="#${id}"><ds:Transforms><ds:Transform Algorithm="${EXC_C14N}"></ds:Transform></ds:Transforms>` +
    `<ds:DigestMethod Algorithm="${SHA256}"></ds:DigestMethod><ds:DigestValue>${hash('sha256', canonical, 'base64')}</ds:DigestValue></ds:Reference>`;
  // Written directly in canonical form: as the apex of exclusive c14n, SignedInfo declares ds itself.
  const signedInfoBody =
    `<ds:CanonicalizationMethod Algorithm="${EXC_C14N}"></ds:CanonicalizationMethod>` +
    `<ds:SignatureMethod Algorithm="${material.method}"></ds:SignatureMethod>` +
    reference(timestampId, timestampC14n) +
    reference(bodyId, bodyC14n) +
    `</ds:SignedInfo>`;
  const signatureValue = sign(
    'sha256',
    Buffer.from(`<ds:SignedInfo xmlns:ds="${DS_NS}">${signedInfoBody}`, 'utf8'),
    material.key,
  );
  const signature =
    `<ds:Signature xmlns:ds="${DS_NS}"><ds:SignedInfo>${signedInfoBody}` +
    `<ds:SignatureValue>${signatureValue.toString('base64')}</ds:SignatureValue>` +
    `<ds:KeyInfo><wsse:SecurityTokenReference><wsse:Reference URI="#${tokenId}" ValueType="${X509_TOKEN}"/>` +
    `</wsse:SecurityTokenReference></ds:KeyInfo></ds:Signature>`;

  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<soap:Envelope xmlns:soap="${SOAP_ENV_NS}" xmlns:wsse="${WSSE_NS}" xmlns:wsu="${WSU_NS}"><soap:Header>` +
    `<wsse:Security soap:mustUnderstand="1">` +
    `<wsse:BinarySecurityToken EncodingType="${BASE64_ENCODING}" ValueType="${X509_TOKEN}" wsu:Id="${tokenId}">${material.token}</wsse:BinarySecurityToken>` +
    timestamp +
    signature +
    `</wsse:Security></soap:Header><soap:Body wsu:Id="${bodyId}">${wirePayload}</soap:Body></soap:Envelope>`
  );
}
