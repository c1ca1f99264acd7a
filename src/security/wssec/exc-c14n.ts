/**
 * Exclusive XML Canonicalization 1.0, without comments (https://www.w3.org/TR/xml-exc-c14n/), of one
 * element subtree of the already parsed request. The verifier canonicalizes only what it must (the
 * SignedInfo, the Body, the Timestamp) straight from the one xmldom parse; xml-crypto would parse the
 * whole message again and walk it with XPath, which costs several milliseconds per request.
 *
 * An element declares a namespace only where it or one of its attributes visibly uses the prefix and
 * the nearest output ancestor has not declared it with the same URI; prefixes in the InclusiveNamespaces
 * PrefixList follow the inclusive rule instead. Iterative, so a deeply nested Body cannot exhaust the
 * stack. Comments are dropped; entity references cannot occur (parseEnvelope refuses any DOCTYPE).
 *
 * The signer canonicalizes the text it writes with text-c14n.ts instead (why two, and the test that
 * keeps them byte for byte equal: see that file's header).
 */
import type { Attr, Element, Node } from '@xmldom/xmldom';
import { XMLNS_NS } from './names.js';

/** prefix ('' = default) → namespace URI, as the nearest output ancestors declared them. */
type NsMap = Map<string, string>;

interface Frame {
  readonly rendered: NsMap;
  /** All namespaces in scope, kept only when an InclusiveNamespaces PrefixList is in force. */
  readonly inScope: NsMap | undefined;
}

const EMPTY: NsMap = new Map();

export function exclusiveC14n(apex: Element, inclusivePrefixes: readonly string[] = []): string {
  const inclusive =
    inclusivePrefixes.length > 0 ? new Set(inclusivePrefixes.map((p) => (p === '#default' ? '' : p))) : undefined;
  const stack: Frame[] = [{ rendered: EMPTY, inScope: inclusive ? inheritedNamespaces(apex) : undefined }];
  let out = '';
  let node: Node = apex;
  for (;;) {
    if (node.nodeType === 1) {
      const el = node as Element;
      const top = stack[stack.length - 1] as Frame;
      const opened = openTag(el, top, inclusive);
      out += opened.text;
      if (el.firstChild) {
        stack.push(opened.frame);
        node = el.firstChild;
        continue;
      }
      out += `</${el.tagName}>`;
    } else {
      out += leaf(node);
    }
    // Climb until there is a next sibling, closing each element left behind.
    while (node !== apex && !node.nextSibling) {
      node = node.parentNode as Node;
      stack.pop();
      out += `</${(node as Element).tagName}>`;
    }
    if (node === apex) return out;
    node = node.nextSibling as Node;
  }
}

function openTag(el: Element, frame: Frame, inclusive: Set<string> | undefined): { text: string; frame: Frame } {
  const attrs: Attr[] = [];
  let inScope = frame.inScope;
  const list = el.attributes;
  for (let i = 0; i < list.length; i++) {
    const a = list.item(i) as Attr;
    if (a.namespaceURI === XMLNS_NS) {
      if (inScope) {
        if (inScope === frame.inScope) inScope = new Map(inScope);
        inScope.set(a.prefix === 'xmlns' ? (a.localName ?? '') : '', a.value);
      }
    } else {
      attrs.push(a);
    }
  }
  const decls: Array<[string, string]> = [];
  const need = (prefix: string, uri: string): void => {
    const current = frame.rendered.get(prefix) ?? (prefix === '' ? '' : undefined);
    if (current === uri || (prefix !== '' && uri === '')) return;
    if (!decls.some(([p]) => p === prefix)) decls.push([prefix, uri]);
  };
  need(el.prefix ?? '', el.namespaceURI ?? '');
  for (const a of attrs) if (a.prefix && a.prefix !== 'xml') need(a.prefix, a.namespaceURI ?? '');
  if (inclusive && inScope) {
    for (const p of inclusive) {
      const uri = inScope.get(p);
      if (uri !== undefined && p !== 'xml') need(p, uri);
    }
  }
  let text = `<${el.tagName}`;
  let rendered = frame.rendered;
  if (decls.length > 0) {
    decls.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    rendered = new Map(rendered);
    for (const [p, uri] of decls) {
      text += p === '' ? ` xmlns="${escapeAttr(uri)}"` : ` xmlns:${p}="${escapeAttr(uri)}"`;
      rendered.set(p, uri);
    }
  }
  if (attrs.length > 1) attrs.sort(compareAttrs);
  for (const a of attrs) text += ` ${a.name}="${escapeAttr(a.value)}"`;
  return { text: `${text}>`, frame: { rendered, inScope } };
}

/** Namespace URI first (none sorts first), then local name. */
function compareAttrs(a: Attr, b: Attr): number {
  const na = a.namespaceURI ?? '';
  const nb = b.namespaceURI ?? '';
  if (na !== nb) return na < nb ? -1 : 1;
  const la = a.localName ?? a.name;
  const lb = b.localName ?? b.name;
  return la < lb ? -1 : la > lb ? 1 : 0;
}

function leaf(node: Node): string {
  switch (node.nodeType) {
    case 3: // text
    case 4: // CDATA: canonical form is its text
      return escapeText(node.nodeValue ?? '');
    case 7: {
      const data = node.nodeValue ?? '';
      return data === '' ? `<?${node.nodeName}?>` : `<?${node.nodeName} ${data}?>`;
    }
    case 8: // comments are not part of the signed node-set
      return '';
    default:
      throw new Error(`exclusive c14n: unexpected node type ${node.nodeType}`);
  }
}

/** The namespaces declared by the apex's ancestors (nearest wins), for the inclusive prefixes. */
function inheritedNamespaces(apex: Element): NsMap {
  const found: NsMap = new Map();
  for (let n = apex.parentNode; n && n.nodeType === 1; n = n.parentNode) {
    const list = (n as Element).attributes;
    for (let i = 0; i < list.length; i++) {
      const a = list.item(i) as Attr;
      if (a.namespaceURI !== XMLNS_NS) continue;
      const prefix = a.prefix === 'xmlns' ? (a.localName ?? '') : '';
      if (!found.has(prefix)) found.set(prefix, a.value);
    }
  }
  return found;
}

const TEXT_SPECIAL = /[&<>\r]/;
const ATTR_SPECIAL = /[&<"\t\n\r]/;

function escapeText(s: string): string {
  if (!TEXT_SPECIAL.test(s)) return s;
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '&#xD;');
}

function escapeAttr(s: string): string {
  if (!ATTR_SPECIAL.test(s)) return s;
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/"/g, '&quot;')
    .replace(/\t/g, '&#x9;')
    .replace(/\n/g, '&#xA;')
    .replace(/\r/g, '&#xD;');
}
