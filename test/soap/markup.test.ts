/**
 * The count of a request's markup before it is parsed (checkMarkup): on random well-formed documents
 * full of the characters that could mislead a scanner (`>` and `/` in attribute values, `<` in
 * comments and CDATA, `>` in processing instructions), it finds exactly the depth and the nodes the
 * document has, so that a limit refuses a document one past it and never one at it.
 */
import { expect } from 'chai';
import { DOMParser } from '@xmldom/xmldom';
import { VbsError } from '../../src/core/errors.js';
import { checkMarkup, parseEnvelope } from '../../src/soap/envelope.js';
import { MAX_XML_DEPTH, MAX_XML_NODES } from '../../src/soap/limits.js';

interface Doc {
  readonly text: string;
  readonly depth: number;
  readonly nodes: number;
}

/** A small deterministic generator (xorshift), so that a failure can be replayed. */
function random(seed: number): (n: number) => number {
  let x = seed;
  return (n) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

function document(pick: (n: number) => number): Doc {
  const values = ['a>b', 'x/', '/>', "it's", 'say "hi"', '&amp;', '&#62;&lt;', ''];
  let nodes = 0;
  let maxDepth = 0;
  const element = (depth: number): string => {
    nodes++;
    maxDepth = Math.max(maxDepth, depth);
    const name = `e${pick(3)}`;
    let attributes = '';
    for (let i = pick(4); i > 0; i--) {
      const value = values[pick(values.length)] ?? '';
      const q = value.includes('"') ? "'" : '"';
      attributes += ` a${i}=${q}${value}${q}`;
      nodes += 1 + (value.match(/&/g)?.length ?? 0);
    }
    if (depth >= 6 || pick(4) === 0) return `<${name}${attributes}${pick(2) ? ' ' : ''}/>`;
    let content = '';
    for (let i = pick(4); i > 0; i--) {
      switch (pick(6)) {
        case 0:
          content += element(depth + 1);
          break;
        case 1:
          content += '<!-- <a> & </b> -->';
          nodes++;
          break;
        case 2:
          content += '<![CDATA[<b/> & ]] >]]>';
          nodes++;
          break;
        case 3:
          content += '<?pi a>b ?>';
          nodes++;
          break;
        case 4:
          content += 'text &lt; &#x41; more';
          nodes += 2;
          break;
        default:
          content += element(depth + 1);
      }
    }
    return `<${name}${attributes}>${content}</${name} >`;
  };
  const text = `<?xml version="1.0"?>${element(1)}`;
  return { text, depth: maxDepth, nodes: nodes + 1 };
}

const refused = (text: string, maxDepth: number, maxNodes: number): string | undefined => {
  try {
    checkMarkup(text, { maxDepth, maxNodes });
    return undefined;
  } catch (e) {
    if (e instanceof VbsError) return e.code;
    throw e;
  }
};

describe('counting markup before parsing', () => {
  it('finds the depth and the node count of random documents exactly', () => {
    const pick = random(0x5eed);
    for (let i = 0; i < 2000; i++) {
      const doc = document(pick);
      let problem: string | undefined;
      new DOMParser({ onError: (level, msg) => (problem ??= `${level}: ${msg}`) }).parseFromString(
        doc.text,
        'text/xml',
      );
      expect(problem, doc.text).to.equal(undefined);
      expect(refused(doc.text, doc.depth, doc.nodes), doc.text).to.equal(undefined);
      expect(refused(doc.text, doc.depth - 1, doc.nodes), doc.text).to.equal('InvalidRequest');
      expect(refused(doc.text, doc.depth, doc.nodes - 1), doc.text).to.equal('InvalidRequest');
    }
  });

  it('refuses a request nested past the limit, or with too many nodes, before any DOM is built', () => {
    const frame = (inner: string): string =>
      `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>${inner}</soap:Body></soap:Envelope>`;
    const nested = (n: number): string => frame(`${'<a>'.repeat(n)}${'</a>'.repeat(n)}`);
    const deep = nested(100_000);
    const comments = frame(`<a>${'<!---->'.repeat(150_000)}</a>`);
    const started = Date.now();
    expect(() => parseEnvelope(deep)).to.throw(VbsError, `nested deeper than ${MAX_XML_DEPTH}`);
    expect(() => parseEnvelope(comments)).to.throw(VbsError, `more than ${MAX_XML_NODES} XML nodes`);
    expect(Date.now() - started).to.be.below(200);
    // At the limits themselves: Envelope and Body are two levels, and three nodes with the xmlns.
    expect(parseEnvelope(nested(MAX_XML_DEPTH - 2)).payload.localName).to.equal('a');
    expect(parseEnvelope(frame(`<a>${'<b/>'.repeat(MAX_XML_NODES - 4)}</a>`)).payload.localName).to.equal('a');
    expect(() => parseEnvelope(frame(`<a>${'<b/>'.repeat(MAX_XML_NODES - 3)}</a>`))).to.throw(VbsError);
  });

  it('counts in time linear in the text, however its markup and references are spread', () => {
    // 9,000 elements then 1 MB of text: each text run once searched the rest for an '&' (quadratic, ~100 ms).
    const spread = (tail: string): string => `<a>${'<b/>'.repeat(9_000)}${' '.repeat(1_000_000)}${tail}</a>`;
    for (const text of [spread('&amp;'), spread('')]) {
      const ms: number[] = [];
      for (let i = 0; i < 3; i++) {
        const started = process.hrtime.bigint();
        checkMarkup(text, { maxDepth: MAX_XML_DEPTH, maxNodes: MAX_XML_NODES });
        ms.push(Number(process.hrtime.bigint() - started) / 1e6);
      }
      expect(Math.min(...ms)).to.be.below(25);
    }
  });
});
