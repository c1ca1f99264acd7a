/**
 * Writes a typed object as the element its schema describes, in schema order, so that every client
 * built from the WSDL (node-soap, zeep, EC2 tooling) reads what it expects. A required value that is
 * missing is our bug, not the client's: it throws, and the caller answers InternalError.
 */
import { escapeXml } from './xml-text.js';
import type { ComplexTypeSpec, ServiceSchema } from './schema.js';

function simpleText(value: unknown, name: string): string {
  if (typeof value === 'string') return escapeXml(value);
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  throw new Error(`cannot encode ${name}: ${typeof value}`);
}

function encodeComplex(schema: ServiceSchema, type: ComplexTypeSpec, value: object, out: string[]): void {
  const fields = value as Record<string, unknown>;
  for (const spec of type.elements) {
    const v = fields[spec.name];
    if (v === undefined || v === null) {
      if (!spec.optional) throw new Error(`cannot encode: required element ${spec.name} is missing`);
      continue;
    }
    const items: unknown[] = spec.repeated ? (Array.isArray(v) ? v : [v]) : [v];
    for (const item of items) {
      out.push(`<t:${spec.name}>`);
      if (typeof spec.type === 'string') {
        out.push(simpleText(item, spec.name));
      } else {
        const inner = schema.types[spec.type.complex];
        if (!inner || typeof item !== 'object' || item === null) throw new Error(`cannot encode ${spec.name}`);
        encodeComplex(schema, inner, item, out);
      }
      out.push(`</t:${spec.name}>`);
    }
  }
}

export function encodeElement(schema: ServiceSchema, elementName: string, value: object): string {
  const typeName = schema.elements[elementName];
  const type = typeName === undefined ? undefined : schema.types[typeName];
  if (!type) throw new Error(`schema has no element ${elementName}`);
  const out: string[] = [`<t:${elementName} xmlns:t="${escapeXml(schema.namespace)}">`];
  encodeComplex(schema, type, value, out);
  out.push(`</t:${elementName}>`);
  return out.join('');
}
