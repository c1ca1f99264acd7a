/**
 * Reads one ds:Signature into plain values, refusing everything VBS's profile does not use rather
 * than interpreting it: exclusive c14n only (for SignedInfo and as each Reference's last transform;
 * the enveloped-signature transform node-soap adds before it is accepted, it removes nothing from a
 * Body or Timestamp), accepted signature and digest methods only (SHA-1 behind allowSha1; the
 * signature method also fixes the key kind that may verify it), no
 * ds:Object, and a KeyInfo that is exactly one SecurityTokenReference to a token in this message.
 * No certificate or key is ever taken from KeyInfo itself.
 */
import type { Element } from '@xmldom/xmldom';
import type { KeyKind } from './key-kind.js';
import {
  DIGEST_METHODS,
  DS_NS,
  ENVELOPED_SIGNATURE,
  EXC_C14N,
  SIGNATURE_METHODS,
  WSSE_NS,
  X509_TOKEN,
  type HashChoice,
} from './names.js';
import {
  attribute,
  authFailure,
  decodeBase64,
  isElement,
  localReference,
  structuralChildren,
  textOnly,
} from './strict-xml.js';

export interface SignedReference {
  readonly id: string;
  readonly hash: HashChoice['hash'];
  readonly digest: Buffer;
  readonly inclusivePrefixes: readonly string[];
}

export interface SignatureParts {
  readonly signedInfo: Element;
  readonly inclusivePrefixes: readonly string[];
  readonly hash: HashChoice['hash'];
  /** The one kind of key the SignatureMethod may be verified with. */
  readonly keyKind: KeyKind;
  readonly references: readonly SignedReference[];
  readonly signatureValue: Buffer;
  /** The Id of the BinarySecurityToken that KeyInfo's SecurityTokenReference points to. */
  readonly tokenId: string;
}

export function readSignature(signature: Element, allowSha1: boolean): SignatureParts {
  const [signedInfo, value, keyInfo, ...rest] = structuralChildren(signature, 'Signature');
  if (
    !signedInfo ||
    !isElement(signedInfo, DS_NS, 'SignedInfo') ||
    !value ||
    !isElement(value, DS_NS, 'SignatureValue') ||
    !keyInfo ||
    !isElement(keyInfo, DS_NS, 'KeyInfo') ||
    rest.length > 0
  ) {
    throw authFailure('The Signature must hold SignedInfo, SignatureValue and KeyInfo, and nothing else.');
  }
  const [c14n, method, ...refs] = structuralChildren(signedInfo, 'SignedInfo');
  if (!c14n || !isElement(c14n, DS_NS, 'CanonicalizationMethod')) {
    throw authFailure('SignedInfo must start with CanonicalizationMethod.');
  }
  const inclusivePrefixes = readExclusiveC14n(c14n);
  if (
    !method ||
    !isElement(method, DS_NS, 'SignatureMethod') ||
    structuralChildren(method, 'SignatureMethod').length > 0
  ) {
    throw authFailure('SignedInfo must name its SignatureMethod after CanonicalizationMethod.');
  }
  const signatureMethod = algorithm(SIGNATURE_METHODS, method, allowSha1, 'signature method');
  return {
    signedInfo,
    inclusivePrefixes,
    hash: signatureMethod.hash,
    keyKind: signatureMethod.key,
    references: refs.map((r) => readReference(r, allowSha1)),
    signatureValue: decodeBase64(textOnly(value, 'SignatureValue'), 'SignatureValue'),
    tokenId: readKeyInfo(keyInfo),
  };
}

function readReference(ref: Element, allowSha1: boolean): SignedReference {
  if (!isElement(ref, DS_NS, 'Reference')) throw authFailure('SignedInfo may hold only References after its methods.');
  const id = localReference(attribute(ref, 'URI'), 'Reference URI');
  const [transforms, method, value, ...rest] = structuralChildren(ref, 'Reference');
  if (
    !transforms ||
    !isElement(transforms, DS_NS, 'Transforms') ||
    !method ||
    !isElement(method, DS_NS, 'DigestMethod') ||
    !value ||
    !isElement(value, DS_NS, 'DigestValue') ||
    rest.length > 0
  ) {
    throw authFailure('Each Reference must hold Transforms, DigestMethod and DigestValue.');
  }
  const steps = structuralChildren(transforms, 'Transforms');
  const last = steps[steps.length - 1];
  const first = steps[0];
  if (
    !last ||
    !isElement(last, DS_NS, 'Transform') ||
    steps.length > 2 ||
    (steps.length === 2 &&
      (!first ||
        !isElement(first, DS_NS, 'Transform') ||
        attribute(first, 'Algorithm') !== ENVELOPED_SIGNATURE ||
        structuralChildren(first, 'Transform').length > 0))
  ) {
    throw authFailure('Each Reference must be transformed by exclusive canonicalization only.');
  }
  if (structuralChildren(method, 'DigestMethod').length > 0) throw authFailure('DigestMethod must be empty.');
  const digestMethod = algorithm(DIGEST_METHODS, method, allowSha1, 'digest method');
  const digest = decodeBase64(textOnly(value, 'DigestValue'), 'DigestValue');
  if (digest.length !== digestMethod.bytes)
    throw authFailure('A DigestValue does not have the length of its digest method.');
  return { id, hash: digestMethod.hash, digest, inclusivePrefixes: readExclusiveC14n(last) };
}

/** Checks an exclusive c14n (without comments) method element; returns its PrefixList. */
function readExclusiveC14n(el: Element): string[] {
  if (attribute(el, 'Algorithm') !== EXC_C14N) {
    throw authFailure(`Only exclusive XML canonicalization (${EXC_C14N}) is accepted.`);
  }
  const [inclusive, ...rest] = structuralChildren(el, 'canonicalization method');
  if (!inclusive) return [];
  if (
    !isElement(inclusive, EXC_C14N, 'InclusiveNamespaces') ||
    rest.length > 0 ||
    structuralChildren(inclusive, 'InclusiveNamespaces').length > 0
  ) {
    throw authFailure('A canonicalization method may hold only InclusiveNamespaces.');
  }
  return (attribute(inclusive, 'PrefixList') ?? '').split(/[ \t\r\n]+/).filter((p) => p !== '');
}

function algorithm<T extends HashChoice>(
  table: ReadonlyMap<string, T>,
  el: Element,
  allowSha1: boolean,
  what: string,
): T {
  const choice = table.get(attribute(el, 'Algorithm') ?? '');
  if (!choice) {
    throw authFailure(
      `The ${what} is not supported; use ${what === 'digest method' ? 'SHA-256' : 'rsa-sha256 or ecdsa-sha256 (P-256)'}.`,
    );
  }
  if (choice.legacy && !allowSha1)
    throw authFailure(`The ${what} uses SHA-1, which this service does not accept; use SHA-256.`);
  return choice;
}

function readKeyInfo(keyInfo: Element): string {
  const [str, ...rest] = structuralChildren(keyInfo, 'KeyInfo');
  if (!str || !isElement(str, WSSE_NS, 'SecurityTokenReference') || rest.length > 0) {
    throw authFailure('KeyInfo must hold exactly one SecurityTokenReference to the BinarySecurityToken.');
  }
  const [ref, ...more] = structuralChildren(str, 'SecurityTokenReference');
  if (
    !ref ||
    !isElement(ref, WSSE_NS, 'Reference') ||
    more.length > 0 ||
    structuralChildren(ref, 'Reference').length > 0
  ) {
    throw authFailure('The SecurityTokenReference must hold exactly one Reference to the BinarySecurityToken.');
  }
  const valueType = attribute(ref, 'ValueType');
  if (valueType !== undefined && valueType !== X509_TOKEN) {
    throw authFailure('The SecurityTokenReference must point to an X.509 v3 BinarySecurityToken.');
  }
  return localReference(attribute(ref, 'URI'), 'SecurityTokenReference');
}
