/**
 * Reads an element into the typed object its schema describes, and refuses what the schema does not
 * allow: a missing required element (MissingParameter), an element the schema does not know, or one
 * out of its place in the sequence (UnknownParameter), a value that is not of its simple type
 * (InvalidParameterValue). The result is what the generated types promise, so handlers never see XML.
 */
import type { Element } from '@xmldom/xmldom';
import { VbsError } from '../core/errors.js';
import { clip } from '../core/ids.js';
import { elementChildren, hasOwnText } from './envelope.js';
import type { ComplexTypeSpec, ElementSpec, ServiceSchema, SimpleType } from './schema.js';

type Value = string | number | boolean | DecodedObject | Value[];
export interface DecodedObject {
  [name: string]: Value;
}

function simpleValue(el: Element, type: SimpleType, path: string): string | number | boolean {
  if (elementChildren(el).length > 0)
    throw new VbsError('InvalidParameterValue', `The parameter ${path} must be a simple value.`);
  const text = el.textContent ?? '';
  switch (type) {
    case 'string':
    case 'dateTime':
      return text;
    case 'boolean': {
      const t = text.trim();
      if (t === 'true' || t === '1') return true;
      if (t === 'false' || t === '0') return false;
      throw new VbsError(
        'InvalidParameterValue',
        `Value (${clip(t)}) for parameter ${path} is invalid. Expected a boolean.`,
      );
    }
    case 'int':
    case 'long': {
      const t = text.trim();
      const n = Number(t);
      if (!/^-?\d{1,15}$/.test(t) || !Number.isSafeInteger(n)) {
        throw new VbsError(
          'InvalidParameterValue',
          `Value (${clip(t)}) for parameter ${path} is invalid. Expected an integer.`,
        );
      }
      return n;
    }
  }
}

function decodeValue(schema: ServiceSchema, el: Element, spec: ElementSpec, path: string): Value {
  if (typeof spec.type === 'string') return simpleValue(el, spec.type, path);
  const type = schema.types[spec.type.complex];
  if (!type) throw new Error(`schema has no type ${spec.type.complex}`);
  return decodeComplex(schema, el, type, path);
}

export function decodeComplex(schema: ServiceSchema, el: Element, type: ComplexTypeSpec, path: string): DecodedObject {
  if (hasOwnText(el)) throw new VbsError('InvalidParameterValue', `The parameter ${path} must not hold text.`);
  const children = elementChildren(el);
  // An element the type does not know at all is named as such, before the sequence is matched.
  const stranger = children.find(
    (c) => c.namespaceURI !== schema.namespace || !type.elements.some((e) => e.name === c.localName),
  );
  if (stranger)
    throw new VbsError(
      'UnknownParameter',
      `The parameter ${clip(stranger.localName ?? '?')} is not recognized in ${path}.`,
    );
  const out: DecodedObject = {};
  let i = 0;
  for (const spec of type.elements) {
    const found: Value[] = [];
    while (i < children.length) {
      const child = children[i];
      if (!child || child.localName !== spec.name || child.namespaceURI !== schema.namespace) break;
      if (!spec.repeated && found.length === 1) {
        throw new VbsError('UnknownParameter', `The parameter ${path}.${spec.name} is repeated.`);
      }
      found.push(decodeValue(schema, child, spec, `${path}.${spec.name}`));
      i++;
    }
    if (found.length === 0) {
      if (!spec.optional)
        throw new VbsError('MissingParameter', `The request must contain the parameter ${path}.${spec.name}.`);
      continue;
    }
    out[spec.name] = spec.repeated ? found : (found[0] as Value);
  }
  const extra = children[i];
  if (extra)
    throw new VbsError(
      'UnknownParameter',
      `The parameter ${path}.${extra.localName ?? '?'} is repeated or out of order.`,
    );
  return out;
}

/**
 * Decodes a global element (an operation's input or output). The cast is the one place where the
 * runtime schema vouches for the generated type: both come from the same WSDL by the same script.
 */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the deliberate cast said above
export function decodeElement<T extends object>(schema: ServiceSchema, el: Element, elementName: string): T {
  const typeName = schema.elements[elementName];
  const type = typeName === undefined ? undefined : schema.types[typeName];
  if (!type) throw new Error(`schema has no element ${elementName}`);
  return decodeComplex(schema, el, type, elementName) as T;
}
