/**
 * Strict readers for the WS-Security structures. Where a lenient reader takes "the text" or "the first
 * child", an attacker hides a second one (CVE-2025-29775: a comment inside DigestValue made
 * xml-crypto read half of it). Here a structural element may hold only elements and white space, a
 * value element only text, and every failure is the same client-safe AuthFailure.
 */
import type { Element } from '@xmldom/xmldom';
import { VbsError } from '../../core/errors.js';

export function authFailure(message: string): VbsError {
  return new VbsError('AuthFailure', message);
}

export function isElement(el: Element, ns: string, localName: string): boolean {
  return el.namespaceURI === ns && el.localName === localName;
}

/** The element children of a structural element; anything else but white space is refused. */
export function structuralChildren(el: Element, what: string): Element[] {
  const out: Element[] = [];
  for (let n = el.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1) out.push(n as Element);
    else if (n.nodeType !== 3 || (n.nodeValue ?? '').trim() !== '') {
      throw authFailure(`The ${what} may contain only elements.`);
    }
  }
  return out;
}

/** The text of a value element; a comment, CDATA section or child element in it is refused. */
export function textOnly(el: Element, what: string): string {
  let text = '';
  for (let n = el.firstChild; n; n = n.nextSibling) {
    if (n.nodeType !== 3) throw authFailure(`The ${what} must contain only text.`);
    text += n.nodeValue ?? '';
  }
  return text;
}

/** An unqualified attribute, or undefined. */
export function attribute(el: Element, name: string): string | undefined {
  return el.getAttributeNS(null, name) ?? undefined;
}

// A simple character-class scan: the grouped {4} form of this check cost more than the RSA verify.
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const XML_SPACE = /[ \t\r\n]+/g;

/** Strict base64 (line breaks and spaces allowed, nothing else); Node's decoder skips junk silently. */
export function decodeBase64(text: string, what: string): Buffer {
  const compact = text.replace(XML_SPACE, '');
  if (compact.length % 4 !== 0 || !BASE64.test(compact)) throw authFailure(`The ${what} is not valid base64.`);
  return Buffer.from(compact, 'base64');
}

/** "#id" to "id"; XPointer forms and references to other documents are refused. */
export function localReference(uri: string | undefined, what: string): string {
  if (uri === undefined || !/^#[A-Za-z_][\w.-]*$/.test(uri)) {
    throw authFailure(`The ${what} must point to an element of this message by "#Id".`);
  }
  return uri.slice(1);
}
