/**
 * Parses a SOAP 1.1 request into one DOM and checks its frame before anything looks inside: no
 * DOCTYPE (no entities), exactly one Envelope / optional Header / Body, each in the SOAP namespace,
 * and exactly one element in the Body. The operation is that element, never the SOAPAction header.
 */
import { DOMParser, type Document, type Element } from '@xmldom/xmldom';
import { VbsError } from '../core/errors.js';

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

export function parseXml(text: string): Document {
  // A DOCTYPE is how entity expansion and external entities get in; SOAP forbids it anyway.
  if (/<!DOCTYPE/i.test(text)) throw malformed('a DOCTYPE is not allowed');
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

export function parseEnvelope(text: string): ParsedEnvelope {
  const document = parseXml(text);
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
