/**
 * Parses a SOAP 1.1 request into one DOM and checks its frame before anything looks inside: no
 * DOCTYPE (no entities), no deeper nesting and no more markup than a request needs (counted on the
 * text, before any DOM is built), exactly one Envelope / optional Header / Body, each in the SOAP
 * namespace, and exactly one element in the Body. The operation is that element, never the
 * SOAPAction header.
 */
import { DOMParser, type Document, type Element } from '@xmldom/xmldom';
import { VbsError } from '../core/errors.js';
import { MAX_XML_DEPTH, MAX_XML_NODES } from './limits.js';

export const SOAP_ENV_NS = 'http://schemas.xmlsoap.org/soap/envelope/';

export interface ParsedEnvelope {
  readonly document: Document;
  readonly envelope: Element;
  readonly header: Element | undefined;
  readonly body: Element;
  /** The one element inside Body: the operation's input. */
  readonly payload: Element;
}

export function elementChildren(el: Element): Element[] {
  const out: Element[] = [];
  for (let n = el.firstChild; n; n = n.nextSibling) if (n.nodeType === 1) out.push(n as Element);
  return out;
}

/** True when `el` has text other than white space directly inside it. */
export function hasOwnText(el: Element): boolean {
  for (let n = el.firstChild; n; n = n.nextSibling) {
    if ((n.nodeType === 3 || n.nodeType === 4) && (n.nodeValue ?? '').trim() !== '') return true;
  }
  return false;
}

function malformed(why: string): VbsError {
  return new VbsError('InvalidRequest', `The request is not a valid SOAP 1.1 message: ${why}.`);
}

/** Parses XML without a DOCTYPE; with `markup`, the text's markup is counted against it first (checkMarkup). */
export function parseXml(text: string, markup?: MarkupLimits): Document {
  // A DOCTYPE is how entity expansion and external entities get in; SOAP forbids it anyway.
  if (/<!DOCTYPE/i.test(text)) throw malformed('a DOCTYPE is not allowed');
  if (markup) checkMarkup(text, markup);
  let problem: string | undefined;
  let doc: Document;
  try {
    doc = new DOMParser({
      onError: (level, msg) => {
        if (level !== 'warning') problem ??= msg;
      },
    }).parseFromString(text, 'text/xml');
  } catch {
    // xmldom throws on fatal errors whatever onError does; the message is its, not the client's.
    throw malformed('the XML is not well-formed');
  }
  if (problem !== undefined || !doc.documentElement) throw malformed('the XML is not well-formed');
  return doc;
}

export interface MarkupLimits {
  readonly maxDepth: number;
  readonly maxNodes: number;
}

const REQUEST_MARKUP: MarkupLimits = { maxDepth: MAX_XML_DEPTH, maxNodes: MAX_XML_NODES };

const LT = 0x3c;
const GT = 0x3e;
const SLASH = 0x2f;
const BANG = 0x21;
const QUESTION = 0x3f;
const EQUALS = 0x3d;
const AMP = 0x26;
const DQUOTE = 0x22;
const SQUOTE = 0x27;

/**
 * Counts the text's markup in one pass, with no DOM and no step back, and refuses it past the
 * limits: nesting depth, and nodes (elements, attributes, comments, processing instructions, CDATA
 * sections, entity and character references: each is work for the parser). It only counts:
 * well-formedness is the parser's to judge, so a text it cannot follow is left to the parser (which
 * refuses it), counted as far as it went.
 */
export function checkMarkup(text: string, limits: MarkupLimits): void {
  let depth = 0;
  let nodes = 0;
  const count = (n: number): void => {
    nodes += n;
    if (nodes > limits.maxNodes) throw malformed(`more than ${limits.maxNodes} XML nodes`);
  };
  // The next '&' at or after where the last search began, kept: searching again from every text
  // run would scan the same stretch once per run, quadratic when one '&' sits far ahead.
  // text.length when there is none left.
  let amp = -1;
  const nextAmp = (from: number): number => {
    const a = text.indexOf('&', from);
    return a < 0 ? text.length : a;
  };
  const references = (from: number, to: number): void => {
    if (amp < from) amp = nextAmp(from);
    for (; amp < to; amp = nextAmp(amp + 1)) count(1);
  };
  let i = 0;
  for (;;) {
    const lt = text.indexOf('<', i);
    references(i, lt < 0 ? text.length : lt);
    if (lt < 0) return;
    const next = text.charCodeAt(lt + 1);
    let end: number;
    if (next === BANG && text.startsWith('<!--', lt)) {
      end = text.indexOf('-->', lt + 4);
      i = end + 3;
    } else if (next === BANG && text.startsWith('<![CDATA[', lt)) {
      end = text.indexOf(']]>', lt + 9);
      i = end + 3;
    } else if (next === QUESTION) {
      end = text.indexOf('?>', lt + 2);
      i = end + 2;
    } else if (next === BANG) {
      end = text.indexOf('>', lt + 2);
      i = end + 1;
    } else if (next === SLASH) {
      end = text.indexOf('>', lt + 2);
      i = end + 1;
      depth--;
      if (end < 0) return;
      continue;
    } else {
      // A start tag: to its '>', outside quoted attribute values, counting its attributes (each has an '=').
      let quote = 0;
      end = -1;
      for (let j = lt + 1; j < text.length; j++) {
        const c = text.charCodeAt(j);
        if (quote !== 0) {
          if (c === quote) quote = 0;
          else if (c === AMP) count(1);
        } else if (c === DQUOTE || c === SQUOTE) quote = c;
        else if (c === EQUALS) count(1);
        else if (c === LT) break;
        else if (c === GT) {
          end = j;
          break;
        }
      }
      if (end < 0) return;
      i = end + 1;
      count(1);
      // An empty element (<a/>) is a level too, though nothing is nested in it.
      if (depth + 1 > limits.maxDepth) throw malformed(`elements nested deeper than ${limits.maxDepth}`);
      if (text.charCodeAt(end - 1) !== SLASH) depth++;
      continue;
    }
    if (end < 0) return;
    count(1);
  }
}

export function parseEnvelope(text: string): ParsedEnvelope {
  const document = parseXml(text, REQUEST_MARKUP);
  const envelope = document.documentElement;
  if (!envelope || envelope.namespaceURI !== SOAP_ENV_NS || envelope.localName !== 'Envelope') {
    throw malformed('the root element must be a SOAP 1.1 Envelope');
  }
  if (hasOwnText(envelope)) throw malformed('text directly inside the Envelope');
  const parts = elementChildren(envelope);
  for (const p of parts) {
    if (p.namespaceURI !== SOAP_ENV_NS || (p.localName !== 'Header' && p.localName !== 'Body')) {
      throw malformed(`unexpected element ${p.localName ?? '?'} in the Envelope`);
    }
  }
  const headers = parts.filter((p) => p.localName === 'Header');
  const bodies = parts.filter((p) => p.localName === 'Body');
  const body = bodies[0];
  if (bodies.length !== 1 || !body) throw malformed('exactly one Body is required');
  if (headers.length > 1) throw malformed('at most one Header is allowed');
  const header = headers[0];
  if (header && parts.indexOf(header) > parts.indexOf(body)) throw malformed('the Header must come before the Body');
  const payloads = elementChildren(body);
  const payload = payloads[0];
  if (payloads.length !== 1 || !payload || hasOwnText(body)) throw malformed('the Body must hold exactly one element');
  return { document, envelope, header, body, payload };
}
