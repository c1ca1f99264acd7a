/**
 * Exclusive XML Canonicalization 1.0 (without comments) of one element given as text, without
 * building a DOM: what signEnvelope digests for the Body it is writing. Parsing its own envelope
 * with xmldom to canonicalize it cost about half of the signing of each answer; this single pass
 * over the payload's text costs a few per cent of that.
 *
 * It reads a strict subset of XML 1.0 + Namespaces, which every writer of VBS's own payloads (the
 * SOAP encoder, faultElement, the tests' fixtures) stays within, and refuses everything else rather
 * than guess: one element, optionally with white space and comments around it; elements, attributes
 * ("" or '' quoted), text, CDATA sections, comments, the five predefined entity references and
 * character references. Refused: a DOCTYPE, processing instructions (an XML declaration included),
 * any other entity, a bare '&', ']]>' in text, characters XML 1.0 cannot carry, duplicate attributes
 * (also two prefixes naming one namespace), an unbound prefix, declarations of the xml/xmlns prefixes,
 * a prefix undeclared with xmlns:p="", and a namespace name holding &, <, ", a tab or a line end
 * (libxml2 canonicalizes those unescaped, against the spec, so no form satisfies all). What it returns is, byte for byte, what exclusive c14n of
 * that element, as a child of the given parent, gives (checked against xmldom + exclusiveC14n and
 * against lxml): line ends and attribute white space normalized as a parser would, references
 * resolved, namespace declarations only where visibly used and not already rendered, attributes in
 * c14n order, `<a/>` as `<a></a>`. White space around the element is kept (it is part of its parent's
 * content); comments are dropped. A literal U+0085, U+2028 or U+2029 is read as XML 1.0 says, as
 * libxml2 does; xmldom reads it as a line end (XML 1.1), and sign.ts sends such payloads so that it
 * cannot.
 *
 * Why a second canonicalizer beside exc-c14n.ts: the two read different inputs for different
 * reasons. The verifier's (exc-c14n.ts) walks the DOM that parseEnvelope already built and checked
 * for any request, XML as untrusted clients write it; it must accept all of XML and must not parse
 * twice. This one reads only text that VBS itself is writing, before any DOM of it exists, and would
 * double the cost of signing each answer if it built one. What keeps them one in meaning is
 * test/security/wssec/text-c14n.test.ts: on hand-picked and random payloads, both (and libxml2,
 * through lxml) must give the same bytes.
 */
import { XML_NS, XMLNS_NS } from './names.js';

/** The namespaces around the element: those in scope, and those the parent's canonical form has rendered. */
export interface TextC14nContext {
  readonly inScope: ReadonlyMap<string, string>;
  readonly rendered: ReadonlyMap<string, string>;
}

/** The text is outside the subset this canonicalizer reads, or is not well-formed. */
export class TextC14nError extends Error {
  override readonly name = 'TextC14nError';
}

interface Frame {
  readonly qname: string;
  readonly inScope: ReadonlyMap<string, string>;
  readonly rendered: ReadonlyMap<string, string>;
}

interface RawAttribute {
  readonly qname: string;
  readonly value: string;
}

interface Attribute {
  readonly qname: string;
  readonly prefix: string;
  readonly local: string;
  readonly uri: string;
  readonly value: string;
}

// XML 1.0 (5th edition) NameStartChar without ':', and NameChar: an NCName.
const START_CHARS =
  'A-Z_a-z\\u00C0-\\u00D6\\u00D8-\\u00F6\\u00F8-\\u02FF\\u0370-\\u037D\\u037F-\\u1FFF\\u200C\\u200D' +
  '\\u2070-\\u218F\\u2C00-\\u2FEF\\u3001-\\uD7FF\\uF900-\\uFDCF\\uFDF0-\\uFFFD\\u{10000}-\\u{EFFFF}';
const NCNAME = `[${START_CHARS}][${START_CHARS}\\-.0-9\\u00B7\\u0300-\\u036F\\u203F-\\u2040]*`;
const QNAME = `${NCNAME}(?::${NCNAME})?`;
const S = '[ \\t\\r\\n]';
// XML's name classes hold combining marks and U+200C/U+200D as single characters, which they are here.
/* eslint-disable no-misleading-character-class */
const START_TAG = new RegExp(`<(${QNAME})`, 'uy');
/** The same for ASCII names, several times faster; START_TAG decides when a non-ASCII character or ':' follows. */
const ASCII_START_TAG = /<([A-Z_a-z][\w.-]*(?::[A-Z_a-z][\w.-]*)?)/y;
const ATTRIBUTE = new RegExp(`${S}+(${QNAME})${S}*=${S}*(?:"([^"<]*)"|'([^'<]*)')`, 'uy');
const TAG_END = new RegExp(`${S}*(/?)>`, 'y');
const END_TAG = new RegExp(`</(${QNAME})${S}*>`, 'uy');
/* eslint-enable no-misleading-character-class */
const REFERENCE = /&(?:(amp|lt|gt|quot|apos)|#([0-9]{1,16})|#x([0-9a-fA-F]{1,16}));/y;
/** Anything outside XML 1.0's Char production (lone surrogates included, by the u flag). */
const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
/** The same without the u flag, much faster, but it also matches every surrogate: NOT_XML_CHAR decides then. */
const MAYBE_NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD]/;
const ONLY_WHITE = /^[ \t\r\n]*$/;
const PREDEFINED: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function fail(why: string): never {
  throw new TextC14nError(why);
}

export function exclusiveC14nOfText(xml: string, context: TextC14nContext): string {
  if (MAYBE_NOT_XML_CHAR.test(xml) && NOT_XML_CHAR.test(xml)) fail('it holds a character XML 1.0 cannot carry');
  const stack: Frame[] = [];
  const root: Frame = { qname: '', inScope: context.inScope, rendered: context.rendered };
  let out = '';
  let pos = 0;
  let done = false;
  const length = xml.length;
  while (pos < length) {
    const lt = xml.indexOf('<', pos);
    const textEnd = lt === -1 ? length : lt;
    if (textEnd > pos) {
      const raw = xml.slice(pos, textEnd);
      if (stack.length === 0 && !ONLY_WHITE.test(raw)) fail('text outside the element');
      out += canonicalText(raw);
      pos = textEnd;
      if (lt === -1) break;
    }
    const next = xml.charCodeAt(pos + 1);
    if (next === 0x2f /* / */) {
      const top = stack.pop();
      if (!top) fail('an end tag that does not match its start tag');
      const after = pos + 2 + top.qname.length;
      if (xml.startsWith(top.qname, pos + 2) && xml.charCodeAt(after) === 0x3e /* > */) {
        pos = after + 1;
      } else {
        END_TAG.lastIndex = pos;
        const m = END_TAG.exec(xml);
        if (!m || m[1] !== top.qname) fail('an end tag that does not match its start tag');
        pos = END_TAG.lastIndex;
      }
      out += `</${top.qname}>`;
      if (stack.length === 0) done = true;
    } else if (next === 0x21 /* ! */) {
      if (xml.startsWith('<!--', pos)) {
        const end = xml.indexOf('-->', pos + 4);
        if (end === -1) fail('an unterminated comment');
        const body = xml.slice(pos + 4, end);
        if (body.includes('--') || body.endsWith('-')) fail("'--' inside a comment");
        pos = end + 3; // comments are not part of the canonical form
      } else if (xml.startsWith('<![CDATA[', pos)) {
        if (stack.length === 0) fail('text outside the element');
        const end = xml.indexOf(']]>', pos + 9);
        if (end === -1) fail('an unterminated CDATA section');
        out += escapeText(normalizeLineEnds(xml.slice(pos + 9, end)));
        pos = end + 3;
      } else {
        fail('a DOCTYPE, or markup it does not read');
      }
    } else if (next === 0x3f /* ? */) {
      fail('a processing instruction or XML declaration');
    } else {
      if (done) fail('more than one element');
      const parent = stack[stack.length - 1] ?? root;
      const opened = startTag(xml, pos, parent);
      out += opened.text;
      pos = opened.end;
      if (opened.empty) {
        out += `</${opened.frame.qname}>`;
        if (stack.length === 0) done = true;
      } else {
        stack.push(opened.frame);
      }
    }
  }
  if (!done || stack.length > 0) fail(done ? 'an unclosed element' : 'no element');
  return out;
}

function startTag(xml: string, at: number, parent: Frame): { text: string; frame: Frame; empty: boolean; end: number } {
  ASCII_START_TAG.lastIndex = at;
  let m = ASCII_START_TAG.exec(xml);
  let pos = ASCII_START_TAG.lastIndex;
  const after = xml.charCodeAt(pos);
  if (!m || after >= 0x80 || after === 0x3a /* : */) {
    START_TAG.lastIndex = at;
    m = START_TAG.exec(xml);
    if (!m) fail('a start tag without a valid name');
    pos = START_TAG.lastIndex;
  }
  const qname = m[1] as string;
  // The common case: no attributes, a name whose namespace the output parent already declared.
  if (xml.charCodeAt(pos) === 0x3e /* > */) {
    const prefix = splitQName(qname)[0];
    const uri = prefix === '' ? (parent.inScope.get('') ?? '') : parent.inScope.get(prefix);
    const rendered = parent.rendered.get(prefix) ?? (prefix === '' ? '' : undefined);
    if (uri !== undefined && uri === rendered && prefix !== 'xml' && prefix !== 'xmlns') {
      return {
        text: `<${qname}>`,
        frame: { qname, inScope: parent.inScope, rendered: parent.rendered },
        empty: false,
        end: pos + 1,
      };
    }
  }
  const raw: RawAttribute[] = [];
  for (;;) {
    ATTRIBUTE.lastIndex = pos;
    const a = ATTRIBUTE.exec(xml);
    if (!a) break;
    const name = a[1] as string;
    if (raw.some((r) => r.qname === name)) fail(`the attribute ${name} twice`);
    raw.push({ qname: name, value: attributeValue(a[2] ?? a[3] ?? '') });
    pos = ATTRIBUTE.lastIndex;
  }
  TAG_END.lastIndex = pos;
  const close = TAG_END.exec(xml);
  if (!close) fail(`a malformed start tag <${qname}>`);

  // Namespace declarations first: they apply to this element's own name and attributes.
  let inScope = parent.inScope;
  const attributes: RawAttribute[] = [];
  for (const r of raw) {
    const prefix = r.qname === 'xmlns' ? '' : r.qname.startsWith('xmlns:') ? r.qname.slice(6) : undefined;
    if (prefix === undefined) {
      attributes.push(r);
      continue;
    }
    if (prefix === 'xml' || prefix === 'xmlns') fail(`a declaration of the reserved prefix ${prefix}`);
    if (r.value === XML_NS || r.value === XMLNS_NS) fail('a prefix bound to a reserved namespace');
    if (prefix !== '' && r.value === '') fail(`xmlns:${prefix}="" (undeclaring a prefix is XML 1.1)`);
    // c14n escapes these in a namespace declaration; libxml2 (xmlsec1, zeep) writes them as they are.
    if (ATTRIBUTE_SPECIAL.test(r.value)) fail('a namespace name holding &, <, ", a tab or a line end');
    if (inScope === parent.inScope) inScope = new Map(inScope);
    (inScope as Map<string, string>).set(prefix, r.value);
  }

  const [elementPrefix] = splitQName(qname);
  if (elementPrefix === 'xml' || elementPrefix === 'xmlns')
    fail(`an element with the reserved prefix ${elementPrefix}`);
  const elementUri = elementPrefix === '' ? (inScope.get('') ?? '') : inScope.get(elementPrefix);
  if (elementUri === undefined) fail(`the prefix ${elementPrefix} is not declared`);

  const resolved: Attribute[] = attributes.map((r) => {
    const [prefix, local] = splitQName(r.qname);
    const uri = prefix === '' ? '' : prefix === 'xml' ? XML_NS : inScope.get(prefix);
    if (uri === undefined || prefix === 'xmlns') fail(`the prefix ${prefix} is not declared`);
    return { qname: r.qname, prefix, local, uri, value: r.value };
  });
  for (let i = 0; i < resolved.length; i++) {
    const a = resolved[i] as Attribute;
    if (a.prefix === '') continue;
    for (let j = i + 1; j < resolved.length; j++) {
      const b = resolved[j] as Attribute;
      if (b.prefix !== '' && b.uri === a.uri && b.local === a.local) fail(`the attribute {${a.uri}}${a.local} twice`);
    }
  }

  // As exc-c14n.ts: declare a prefix where it is visibly used and the output parent has not declared it so.
  const declarations: Array<[string, string]> = [];
  const need = (prefix: string, uri: string): void => {
    const current = parent.rendered.get(prefix) ?? (prefix === '' ? '' : undefined);
    if (current === uri || (prefix !== '' && uri === '')) return;
    if (!declarations.some(([p]) => p === prefix)) declarations.push([prefix, uri]);
  };
  need(elementPrefix, elementUri);
  for (const a of resolved) if (a.prefix !== '' && a.prefix !== 'xml') need(a.prefix, a.uri);

  let text = `<${qname}`;
  let rendered = parent.rendered;
  if (declarations.length > 0) {
    declarations.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const next = new Map(rendered);
    for (const [p, uri] of declarations) {
      text += p === '' ? ` xmlns="${escapeAttribute(uri)}"` : ` xmlns:${p}="${escapeAttribute(uri)}"`;
      next.set(p, uri);
    }
    rendered = next;
  }
  if (resolved.length > 1) resolved.sort(compareAttributes);
  for (const a of resolved) text += ` ${a.qname}="${escapeAttribute(a.value)}"`;
  return { text: `${text}>`, frame: { qname, inScope, rendered }, empty: close[1] === '/', end: TAG_END.lastIndex };
}

function splitQName(qname: string): [string, string] {
  const colon = qname.indexOf(':');
  return colon === -1 ? ['', qname] : [qname.slice(0, colon), qname.slice(colon + 1)];
}

/** Namespace URI first (none sorts first), then local name: exc-c14n.ts's order. */
function compareAttributes(a: Attribute, b: Attribute): number {
  if (a.uri !== b.uri) return a.uri < b.uri ? -1 : 1;
  return a.local < b.local ? -1 : a.local > b.local ? 1 : 0;
}

function normalizeLineEnds(s: string): string {
  return s.includes('\r') ? s.replace(/\r\n?/g, '\n') : s;
}

/** Text as a parser reports it (line ends normalized, references resolved), escaped as c14n writes it. */
function canonicalText(raw: string): string {
  if (!/[&\r>\]]/.test(raw)) return raw;
  if (raw.includes(']]>')) fail("']]>' in text");
  return escapeText(resolveReferences(normalizeLineEnds(raw)));
}

/** An attribute's value as a parser reports it: line ends, then literal white space, normalized to spaces. */
function attributeValue(raw: string): string {
  if (!/[&\t\n\r]/.test(raw)) return raw;
  return resolveReferences(normalizeLineEnds(raw).replace(/[\t\n]/g, ' '));
}

function resolveReferences(s: string): string {
  let amp = s.indexOf('&');
  if (amp === -1) return s;
  let out = '';
  let from = 0;
  while (amp !== -1) {
    REFERENCE.lastIndex = amp;
    const m = REFERENCE.exec(s);
    if (!m) fail("an '&' that does not start a predefined entity or character reference");
    out += s.slice(from, amp);
    if (m[1] !== undefined) {
      out += PREDEFINED[m[1]] ?? '';
    } else {
      const code = m[2] !== undefined ? Number.parseInt(m[2], 10) : Number.parseInt(m[3] ?? '', 16);
      const isChar =
        code === 0x9 ||
        code === 0xa ||
        code === 0xd ||
        (code >= 0x20 && code <= 0xd7ff) ||
        (code >= 0xe000 && code <= 0xfffd) ||
        (code >= 0x10000 && code <= 0x10ffff);
      if (!isChar) fail('a character reference to a character XML 1.0 cannot carry');
      out += String.fromCodePoint(code);
    }
    from = REFERENCE.lastIndex;
    amp = s.indexOf('&', from);
  }
  return out + s.slice(from);
}

const TEXT_SPECIAL = /[&<>\r]/;
const ATTRIBUTE_SPECIAL = /[&<"\t\n\r]/;

function escapeText(s: string): string {
  if (!TEXT_SPECIAL.test(s)) return s;
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '&#xD;');
}

function escapeAttribute(s: string): string {
  if (!ATTRIBUTE_SPECIAL.test(s)) return s;
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/"/g, '&quot;')
    .replace(/\t/g, '&#x9;')
    .replace(/\n/g, '&#xA;')
    .replace(/\r/g, '&#xD;');
}
