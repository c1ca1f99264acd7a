/**
 * The signer's canonicalizer, which works on text (text-c14n.ts), against the verifier's (xmldom +
 * exc-c14n.ts) and libxml2's (lxml), on hand-picked awkward payloads and on random ones: for each,
 * the canonical form of the Body that signEnvelope would digest must be the one they compute from the
 * envelope it sends, byte for byte, or an answer we sign would not verify anywhere. Then what it
 * refuses, and signEnvelope end to end on the same payloads (our verifier, and xmlsec1 on a few).
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { parseEnvelope } from '../../../src/soap/envelope.js';
import { exclusiveC14n } from '../../../src/security/wssec/exc-c14n.js';
import { signEnvelope } from '../../../src/security/wssec/sign.js';
import { exclusiveC14nOfText, TextC14nError, type TextC14nContext } from '../../../src/security/wssec/text-c14n.js';
import { EC2_NS, fixtures, options, outcome, PYTHON } from './helpers.js';
import { xmlsec1Verifies } from './interop-tools.js';

const SOAP = 'http://schemas.xmlsoap.org/soap/envelope/';
const WSSE = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd';
const WSU = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd';

/** As signEnvelope writes it: the Envelope declares soap, wsse, wsu; the canonical Body renders soap and wsu. */
const CONTEXT: TextC14nContext = {
  inScope: new Map([
    ['soap', SOAP],
    ['wsse', WSSE],
    ['wsu', WSU],
  ]),
  rendered: new Map([
    ['soap', SOAP],
    ['wsu', WSU],
  ]),
};
const envelopeOf = (payload: string): string =>
  `<soap:Envelope xmlns:soap="${SOAP}" xmlns:wsse="${WSSE}" xmlns:wsu="${WSU}"><soap:Header></soap:Header>` +
  `<soap:Body wsu:Id="B">${payload}</soap:Body></soap:Envelope>`;
const ours = (payload: string): string =>
  `<soap:Body xmlns:soap="${SOAP}" xmlns:wsu="${WSU}" wsu:Id="B">${exclusiveC14nOfText(payload, CONTEXT)}</soap:Body>`;
const verifiers = (payload: string): string => exclusiveC14n(parseEnvelope(envelopeOf(payload)).body);

const PAYLOADS: readonly string[] = [
  `<t:CreateVolume xmlns:t="${EC2_NS}"><t:size>1</t:size><t:availabilityZone>zone-a</t:availabilityZone></t:CreateVolume>`,
  `<t:X xmlns:t="${EC2_NS}"><t:d>it&apos;s &quot;q&quot; &amp; &lt;b&gt; ]]&gt; é ☃ 𝄞</t:d></t:X>`,
  `<soap:Fault xmlns:soap="${SOAP}"><faultcode>soap:Client</faultcode><faultstring>x &amp; y</faultstring><detail/></soap:Fault>`,
  '<soap:Fault><faultcode>soap:Server</faultcode></soap:Fault>',
  '<a>x\r\ny\rz\n</a>',
  '<a b="x\ty\nz\r\nw" c=\'"\' d="&#9;&#10;&#13;&#x20;" e="&lt;&gt;&amp;&quot;&apos;" f=">"/>',
  '<a>&#13;&#xD;&#65;&#x1F600;&#0065;</a>',
  '<a><![CDATA[x\r\ny<&>]]>]]&gt;<![CDATA[]]></a>',
  '<a><!-- c --><b/><!----></a>',
  '\n <a/> \r\n',
  '<!-- before --><a/><!-- after -->',
  '<a xmlns="urn:d"><b xmlns=""/><c xmlns="urn:e"><d xmlns="urn:e"/></c></a>',
  '<a xmlns=""><b/></a>',
  '<p:a xmlns:p="urn:p"><p:b xmlns:p="urn:q" p:x="1" y="2"/><p:c p:z="3"/></p:a>',
  '<a xmlns:z="urn:a" xmlns:y="urn:z" z:b="1" y:a="2" b="3" a="4" xml:lang="en" xmlns:unused="urn:u"/>',
  '<wsse:x><wsu:y wsu:Id="i"/><soap:z/></wsse:x>',
  '<soap:a xmlns:soap="urn:not-soap"><soap:b/></soap:a>',
  '<wsu:a xmlns:wsu="urn:other"/>',
  '<a  b = "1"\tc=\'2\'\n></a >',
  '<é:ü xmlns:é="urn:e"><é:ß/></é:ü>',
  '<a:é xmlns:a="urn:a"><a:b·c a:ü="1"/><a·b/></a:é>',
  '<a>\u00a0\uFFFD\u{10FFFF}</a>',
  `<t:R xmlns:t="${EC2_NS}" xmlns:x="urn:x?a=1;b=&#50;"><x:i/></t:R>`,
];

/** Literal U+0085, U+2028, U+2029: XML 1.1 line ends, which xmldom applies and XML 1.0 (libxml2) does not. */
const XML11_LINE_ENDS: readonly string[] = [
  '<a b="x\u2028y\u0085z\u2029">p\u2028q\r\u0085r\u2029<![CDATA[\u2028]]><!--\u2028--></a>',
  '<a xmlns:p="urn:p" p:b="\u2028"><p:c>\u0085</p:c></a>',
  '<a><!--\u2028--></a>',
];

const REFUSED: ReadonlyArray<readonly [string, string]> = [
  ['', 'no element'],
  ['<a/><b/>', 'two elements'],
  ['<a>', 'unclosed'],
  ['text', 'text only'],
  ['x<a/>', 'text before'],
  ['<a/>x', 'text after'],
  ['<![CDATA[x]]><a/>', 'CDATA outside'],
  ['<?xml version="1.0"?><a/>', 'XML declaration'],
  ['<!DOCTYPE a><a/>', 'DOCTYPE'],
  ['<a><!DOCTYPE a></a>', 'DOCTYPE inside'],
  ['<a><?pi x?></a>', 'processing instruction'],
  ['<a>&foo;</a>', 'unknown entity'],
  ['<a>& b</a>', "bare '&'"],
  ['<a b="&"/>', "bare '&' in an attribute"],
  ['<a>]]></a>', "']]>' in text"],
  ['<a>\u0001</a>', 'control character'],
  ['<a>&#1;</a>', 'reference to a control character'],
  ['<a>&#0;</a>', 'reference to NUL'],
  ['<a>&#xD800;</a>', 'reference to a surrogate'],
  ['<a>\uD800</a>', 'lone surrogate'],
  ['<a>\uFFFE</a>', 'U+FFFE'],
  ['<a b="<"/>', "'<' in an attribute"],
  ['<a b="1" b="2"/>', 'duplicate attribute'],
  ['<a b="1"c="2"/>', 'no space between attributes'],
  ['<a b=1/>', 'unquoted attribute'],
  ['<a b/>', 'attribute without value'],
  ['<a xmlns:p="urn:x" xmlns:q="urn:x" p:b="1" q:b="2"/>', 'one attribute through two prefixes'],
  ['<p:a/>', 'unbound element prefix'],
  ['<a p:b="1"/>', 'unbound attribute prefix'],
  ['<a xmlns:p=""/>', 'undeclared prefix (XML 1.1)'],
  ['<p:a xmlns:p="urn:x?a=1&amp;b=2"/>', "'&' in a namespace name (libxml2 writes it unescaped)"],
  ['<a xmlns="urn:&lt;"/>', "'<' in a namespace name"],
  ['<a xmlns:xml="http://www.w3.org/XML/1998/namespace"/>', 'xml prefix declared'],
  ['<a xmlns:xmlns="urn:x"/>', 'xmlns prefix declared'],
  ['<a xmlns:p="http://www.w3.org/2000/xmlns/"/>', 'xmlns namespace bound'],
  ['<xml:a/>', 'xml-prefixed element'],
  ['<a:b:c xmlns:a="urn:a"/>', 'two colons'],
  ['<a></b>', 'mismatched end tag'],
  ['<a></a></a>', 'extra end tag'],
  ['<1a/>', 'bad name'],
  ['< a/>', 'space before the name'],
  ['<a><!-- a--b --></a>', "'--' in a comment"],
  ['<a><!-- a ---></a>', "comment ending in '-'"],
  ['<a><!-- open </a>', 'unterminated comment'],
  ['<a><![CDATA[x</a>', 'unterminated CDATA'],
  ['<a/ >', 'space inside />'],
];

/** Random payloads within the accepted subset, written every way the subset allows. */
function randomPayload(rand: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const uris = ['urn:a', 'urn:b', EC2_NS, SOAP, WSU, WSSE, 'urn:x?a=1;b=2', ''];
  const chars = ['a', 'b', ' ', '&', '<', '>', '"', "'", '\t', '\n', '\r', '\r\n', 'é', '𝄞', ']', ']]>', '\u00a0', '0'];
  const space = (): string => pick(['', ' ', '  ', '\n', '\t', '\r\n']);
  const ref = (c: string): string =>
    rand() < 0.5 ? `&#${c.codePointAt(0)};` : `&#x${(c.codePointAt(0) ?? 0).toString(16)};`;
  const escapeChar = (c: string, quote: string | undefined): string => {
    if (c === '&') return pick(['&amp;', ref(c)]);
    if (c === '<') return pick(['&lt;', ref(c)]);
    if (c === '>') return pick(['&gt;', ref(c), ...(quote === undefined ? [] : ['>'])]);
    if (c === ']]>') return quote === undefined ? pick([']]&gt;', ']]&#62;']) : pick([']]>', ']]&gt;']);
    if (c === quote) return pick([quote === '"' ? '&quot;' : '&apos;', ref(c)]);
    if (c === '"' || c === "'") return pick([c, c === '"' ? '&quot;' : '&apos;', ref(c)]);
    if ((c === '\t' || c === '\n' || c === '\r' || c === '\r\n') && rand() < 0.5)
      return Array.from(c).map(ref).join('');
    return rand() < 0.1 ? Array.from(c).map(ref).join('') : c;
  };
  const escaped = (s: readonly string[], quote?: string): string => s.map((c) => escapeChar(c, quote)).join('');
  const chunks = (): string[] => Array.from({ length: Math.floor(rand() * 5) }, () => pick(chars));

  const element = (depth: number, scope: Map<string, string>): string => {
    const inner = new Map(scope);
    const attrs: string[] = [];
    const used = new Set<string>();
    for (let i = Math.floor(rand() * 3); i > 0; i--) {
      const prefix = pick(['', 'a', 'b', 't', 'soap', 'wsu', 'wsse', 'q', 'ø']);
      const uri = pick(uris);
      if ((prefix !== '' && uri === '') || used.has(`xmlns:${prefix}`)) continue;
      used.add(`xmlns:${prefix}`);
      inner.set(prefix, uri);
      const quote = pick(['"', "'"]);
      attrs.push(`${prefix === '' ? 'xmlns' : `xmlns:${prefix}`}=${quote}${escaped(Array.from(uri), quote)}${quote}`);
    }
    const prefixes = [...inner.keys()].filter((p) => p !== '' && inner.get(p) !== '');
    const name = (local: string): string => {
      const p = rand() < 0.6 && prefixes.length > 0 ? pick(prefixes) : '';
      return p === '' ? local : `${p}:${local}`;
    };
    const qname = rand() < 0.7 ? name(pick(['e', 'f', 'item', 'T', 'é', 'x·y'])) : pick(['e', 'f', 'ü']);
    const expanded = new Set<string>();
    for (let i = Math.floor(rand() * 4); i > 0; i--) {
      const attrName =
        rand() < 0.15
          ? 'xml:lang'
          : rand() < 0.5 && prefixes.length > 0
            ? `${pick(prefixes)}:${pick(['x', 'y', 'Id', 'ñ'])}`
            : pick(['x', 'y', 'Id', 'z', 'ß']);
      const colon = attrName.indexOf(':');
      const key =
        colon === -1
          ? `|${attrName}`
          : `${attrName.startsWith('xml:') ? 'xml' : inner.get(attrName.slice(0, colon))}|${attrName.slice(colon + 1)}`;
      if (expanded.has(key) || used.has(attrName)) continue;
      expanded.add(key);
      used.add(attrName);
      const quote = pick(['"', "'"]);
      attrs.push(`${attrName}${space()}=${space()}${quote}${escaped(chunks(), quote)}${quote}`);
    }
    const open = `<${qname}${attrs.map((a) => pick([' ', '\n', '\t ']) + a).join('')}${space()}`;
    const children: string[] = [];
    for (let i = depth < 4 ? Math.floor(rand() * 4) : 0; i > 0; i--) {
      const kind = rand();
      if (kind < 0.45) children.push(element(depth + 1, inner));
      else if (kind < 0.75) children.push(escaped(chunks()));
      else if (kind < 0.85)
        children.push(
          `<![CDATA[${chunks()
            .filter((c) => c !== ']]>' && c !== ']')
            .join('')}]]>`,
        );
      else
        children.push(
          `<!--${chunks()
            .filter((c) => c !== '-' && !c.includes(']'))
            .join('')
            .replace(/-/g, '')}-->`,
        );
    }
    if (children.length === 0 && rand() < 0.5) return `${open}/>`;
    return `${open}>${children.join('')}</${qname}${space()}>`;
  };
  return `${rand() < 0.2 ? ' \n' : ''}${element(
    0,
    new Map([
      ['soap', SOAP],
      ['wsse', WSSE],
      ['wsu', WSU],
    ]),
  )}${rand() < 0.2 ? '<!--t-->\n' : ''}`;
}

/** A small seeded generator (mulberry32), so that a failure can be replayed. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** libxml2's exclusive c14n (lxml) of each envelope's Body. */
function lxmlBodies(envelopes: readonly string[]): Promise<string[]> {
  const script = [
    'import json, sys',
    'from lxml import etree',
    'out = []',
    'for xml in json.load(sys.stdin):',
    '    root = etree.fromstring(xml.encode("utf-8"))',
    `    body = root.find("{${SOAP}}Body")`,
    '    out.append(etree.tostring(body, method="c14n", exclusive=True, with_comments=False).decode("utf-8"))',
    'json.dump(out, sys.stdout)',
  ].join('\n');
  return new Promise((resolve, reject) => {
    const child = execFile(PYTHON, ['-c', script], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout) => {
      if (err) reject(new Error('lxml failed', { cause: err }));
      else resolve(JSON.parse(stdout) as string[]);
    });
    child.stdin?.end(JSON.stringify(envelopes));
  });
}

describe('WS-Security: exclusive c14n from text (the signer)', function () {
  this.timeout(120_000);

  it('gives the Body the verifier computes (xmldom + exc-c14n), on every awkward payload', () => {
    for (const p of PAYLOADS) expect(ours(p), JSON.stringify(p)).to.equal(verifiers(p));
  });

  it('gives the Body libxml2 computes (lxml), on every awkward payload', async () => {
    const expected = await lxmlBodies(PAYLOADS.map(envelopeOf));
    PAYLOADS.forEach((p, i) => expect(ours(p), JSON.stringify(p)).to.equal(expected[i]));
  });

  it('agrees with both on 3000 random payloads written every way the subset allows', async () => {
    const rand = seeded(20261127);
    const payloads = Array.from({ length: 3000 }, () => randomPayload(rand));
    for (const p of payloads) expect(ours(p), JSON.stringify(p)).to.equal(verifiers(p));
    const expected = await lxmlBodies(payloads.map(envelopeOf));
    payloads.forEach((p, i) => expect(ours(p), JSON.stringify(p)).to.equal(expected[i]));
  });

  it('reads literal U+0085/U+2028/U+2029 as XML 1.0 does, and signEnvelope sends them as references every parser reads alike', async () => {
    const { service } = fixtures();
    const expected = await lxmlBodies(XML11_LINE_ENDS.map(envelopeOf));
    const trusted = options({
      resolveCertificate: (der) =>
        der.equals(new X509Certificate(service.certPem).raw)
          ? { x509: new X509Certificate(service.certPem), userId: 'frontend' }
          : undefined,
    });
    for (const [i, p] of XML11_LINE_ENDS.entries()) {
      expect(ours(p), JSON.stringify(p)).to.equal(expected[i]);
      const signed = signEnvelope(p, service);
      expect(signed).to.not.match(/[\u0085\u2028\u2029]/);
      expect(outcome(signed, trusted), JSON.stringify(p)).to.equal('accepted:frontend');
      expect(await xmlsec1Verifies(signed, service.certPem), JSON.stringify(p)).to.equal(true);
    }
    expect(signEnvelope(XML11_LINE_ENDS[0] ?? '', service)).to.include(
      'b="x&#x2028;y&#x85;z&#x2029;">p&#x2028;q\n&#x85;r&#x2029;&#x2028;</a>',
    );
  });

  it('refuses, with a reason, everything outside the subset or not well-formed', () => {
    for (const [xml, why] of REFUSED) {
      expect(() => exclusiveC14nOfText(xml, CONTEXT), why).to.throw(TextC14nError);
      expect(() => signEnvelope(xml, fixtures().service), why).to.throw(
        /^signEnvelope: bodyXml must be exactly one well-formed element \(/,
      );
    }
  });

  it('signEnvelope sends each payload as given and our verifier accepts it; xmlsec1 too', async () => {
    const { service } = fixtures();
    const trusted = options({
      resolveCertificate: (der) =>
        der.equals(new X509Certificate(service.certPem).raw)
          ? { x509: new X509Certificate(service.certPem), userId: 'frontend' }
          : undefined,
    });
    for (const p of PAYLOADS) {
      const signed = signEnvelope(p, service);
      expect(signed, JSON.stringify(p)).to.include(`>${p}</soap:Body></soap:Envelope>`);
      expect(outcome(signed, trusted), JSON.stringify(p)).to.equal('accepted:frontend');
    }
    for (const p of PAYLOADS.filter((_, i) => i % 3 === 0)) {
      expect(await xmlsec1Verifies(signEnvelope(p, service), service.certPem), JSON.stringify(p)).to.equal(true);
    }
  });
});
