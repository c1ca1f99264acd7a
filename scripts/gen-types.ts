/**
 * Derives TypeScript types and the runtime schema from wsdl/*.wsdl into src/generated/.
 * Run with `npm run gen`; test/generated-types.test.ts fails when the committed files are stale.
 * Only the XML Schema subset our contracts use is understood (sequences of elements with
 * minOccurs/maxOccurs, simple types, named complex types); anything else is an error, not a guess.
 */
import { readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { join, basename } from 'node:path';
import { DOMParser, type Element } from '@xmldom/xmldom';
import type { ComplexTypeSpec, ElementSpec, OperationSpec, SimpleType } from '../src/soap/schema.js';

const XS = 'http://www.w3.org/2001/XMLSchema';
const WSDL = 'http://schemas.xmlsoap.org/wsdl/';
const SIMPLE: Record<string, SimpleType> = {
  'xs:string': 'string',
  'xs:boolean': 'boolean',
  'xs:dateTime': 'dateTime',
  'xs:int': 'int',
  'xs:long': 'long',
};
const TS_OF: Record<SimpleType, string> = {
  string: 'string',
  boolean: 'boolean',
  dateTime: 'string',
  int: 'number',
  long: 'number',
};

interface Parsed {
  namespace: string;
  types: Map<string, ComplexTypeSpec>;
  elements: Map<string, string>;
  portTypes: Map<string, Map<string, OperationSpec>>;
}

function children(el: Element, ns: string, local: string): Element[] {
  const out: Element[] = [];
  for (let n = el.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1) {
      const e = n as Element;
      if (e.namespaceURI === ns && e.localName === local) out.push(e);
    }
  }
  return out;
}

function localRef(qname: string): string {
  const i = qname.indexOf(':');
  return i < 0 ? qname : qname.slice(i + 1);
}

function parseElement(e: Element): ElementSpec {
  const name = e.getAttribute('name');
  const type = e.getAttribute('type');
  if (!name || !type) throw new Error(`element without name or type in sequence`);
  if (
    e.getAttribute('minOccurs') !== '0' &&
    e.getElementsByTagNameNS(XS, 'documentation')[0]?.textContent?.trim().startsWith('VBS extension')
  ) {
    throw new Error(`${name}: a VBS extension must be optional, or clients of the extended API break`);
  }
  const simple = SIMPLE[type];
  const max = e.getAttribute('maxOccurs') ?? '1';
  const min = e.getAttribute('minOccurs') ?? '1';
  const doc = e.getElementsByTagNameNS(XS, 'documentation')[0]?.textContent ?? '';
  return {
    name,
    type: simple ?? { complex: localRef(type) },
    optional: min === '0',
    repeated: max === 'unbounded',
    ...(doc.trim().startsWith('VBS extension') ? { extension: true as const } : {}),
  };
}

export function parseWsdl(text: string): Parsed {
  const doc = new DOMParser().parseFromString(text, 'text/xml');
  const defs = doc.documentElement;
  if (!defs) throw new Error('empty WSDL');
  const namespace = defs.getAttribute('targetNamespace') ?? '';
  const types = new Map<string, ComplexTypeSpec>();
  const elements = new Map<string, string>();
  for (const typesEl of children(defs, WSDL, 'types')) {
    for (const schema of children(typesEl, XS, 'schema')) {
      for (const el of children(schema, XS, 'element')) {
        elements.set(el.getAttribute('name') ?? '', localRef(el.getAttribute('type') ?? ''));
      }
      for (const ct of children(schema, XS, 'complexType')) {
        const name = ct.getAttribute('name') ?? '';
        const seqs = children(ct, XS, 'sequence');
        const seq = seqs[0];
        const els = seq ? children(seq, XS, 'element').map(parseElement) : [];
        const others = seq
          ? Array.from({ length: seq.childNodes.length }, (_, i) => seq.childNodes.item(i)).filter(
              (n) => n?.nodeType === 1 && (n as Element).localName !== 'element',
            )
          : [];
        if (seqs.length > 1 || others.length > 0) throw new Error(`${name}: only plain sequences are supported`);
        types.set(name, { elements: els });
      }
    }
  }
  const messages = new Map<string, string>();
  for (const m of children(defs, WSDL, 'message')) {
    const part = children(m, WSDL, 'part')[0];
    messages.set(m.getAttribute('name') ?? '', localRef(part?.getAttribute('element') ?? ''));
  }
  const portTypes = new Map<string, Map<string, OperationSpec>>();
  for (const pt of children(defs, WSDL, 'portType')) {
    const ops = new Map<string, OperationSpec>();
    for (const op of children(pt, WSDL, 'operation')) {
      const input = messages.get(localRef(children(op, WSDL, 'input')[0]?.getAttribute('message') ?? ''));
      const output = messages.get(localRef(children(op, WSDL, 'output')[0]?.getAttribute('message') ?? ''));
      if (!input || !output) throw new Error(`operation ${op.getAttribute('name')}: unknown message`);
      ops.set(op.getAttribute('name') ?? '', { input, output });
    }
    portTypes.set(pt.getAttribute('name') ?? '', ops);
  }
  return { namespace, types, elements, portTypes };
}

function tsField(e: ElementSpec): string {
  const t = typeof e.type === 'string' ? TS_OF[e.type] : e.type.complex;
  return `  readonly ${e.name}${e.optional ? '?' : ''}: ${e.repeated ? `readonly ${t}[]` : t};`;
}

export function render(p: Parsed, source: string): string {
  const lines: string[] = [
    `// Generated by scripts/gen-types.ts from wsdl/${source}. Do not edit: run \`npm run gen\`.`,
    `import type { ServiceSchema } from '../soap/schema.js';`,
    '',
  ];
  for (const [name, spec] of p.types) {
    lines.push(`export interface ${name} {`, ...spec.elements.map(tsField), '}', '');
  }
  for (const [pt, ops] of p.portTypes) {
    lines.push(`export interface ${pt}Operations {`);
    for (const [op, spec] of ops) {
      lines.push(
        `  readonly ${op}: { readonly input: ${p.elements.get(spec.input)}; readonly output: ${p.elements.get(spec.output)} };`,
      );
    }
    lines.push('}', '');
  }
  const schema = {
    namespace: p.namespace,
    types: Object.fromEntries(p.types),
    elements: Object.fromEntries(p.elements),
    portTypes: Object.fromEntries([...p.portTypes].map(([k, v]) => [k, Object.fromEntries(v)])),
  };
  lines.push(`export const schema: ServiceSchema = ${JSON.stringify(schema, null, 2)};`, '');
  return lines.join('\n');
}

export function generatedFiles(root: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of readdirSync(join(root, 'wsdl'))
    .filter((n) => n.endsWith('.wsdl'))
    .sort()) {
    const text = readFileSync(join(root, 'wsdl', f), 'utf8');
    out.set(join(root, 'src', 'generated', `${basename(f, '.wsdl')}.ts`), render(parseWsdl(text), f));
  }
  return out;
}

if (process.argv[1] && import.meta.url.endsWith(basename(process.argv[1]))) {
  for (const [path, text] of generatedFiles(process.cwd())) {
    writeFileSync(path, text);
    console.log(`wrote ${path}`);
  }
}
