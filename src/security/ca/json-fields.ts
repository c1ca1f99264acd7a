/**
 * Strict reading of a parsed JSON document, field by field: a missing field, an unknown field (a
 * typo would otherwise be silently ignored, and a certificate issued without what it meant to say)
 * or a wrong type is refused with the field's path, e.g. `extensions[3].usages[0]`.
 */

/** A refusal of a certificate profile; the message names the file and the field. */
export class CertificateProfileError extends Error {
  override readonly name = 'CertificateProfileError';
}

/** Where a value sits in the document: '' for the top, then `a.b[2]`. */
export type FieldPath = string;

export function fieldPath(parent: FieldPath, key: string | number): FieldPath {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return parent === '' ? key : `${parent}.${key}`;
}

export function refuse(at: FieldPath, problem: string): never {
  throw new CertificateProfileError(at === '' ? problem : `${at}: ${problem}`);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  const text = JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

function wrongType(at: FieldPath, expected: string, value: unknown): never {
  return refuse(at, `expected ${expected}, got ${describe(value)}`);
}

/**
 * An object with exactly these fields: every `required` one, any of the `optional` ones, and no
 * other. The values are still unread (unknown): each is read by the caller with its own type.
 */
export function readObject<R extends string, O extends string = never>(
  value: unknown,
  at: FieldPath,
  required: readonly R[],
  optional: readonly O[] = [],
): Readonly<Record<R, unknown>> & Readonly<Partial<Record<O, unknown>>> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return wrongType(at, 'an object', value);
  const known: readonly string[] = [...required, ...optional];
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      refuse(at, `unknown field ${JSON.stringify(key)} (the fields here are: ${known.join(', ')})`);
    }
  }
  for (const key of required) {
    if (!(key in value)) refuse(at, `missing field ${JSON.stringify(key)}`);
  }
  return value as Readonly<Record<R, unknown>> & Readonly<Partial<Record<O, unknown>>>;
}

/** One field of an object whose other fields are read later, once this one says what they are. */
export function readField(value: unknown, at: FieldPath, key: string): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return wrongType(at, 'an object', value);
  if (!(key in value)) refuse(at, `missing field ${JSON.stringify(key)}`);
  return (value as Readonly<Record<string, unknown>>)[key];
}

export function readString(value: unknown, at: FieldPath): string {
  return typeof value === 'string' && value.trim() !== '' ? value : wrongType(at, 'a non-empty string', value);
}

export function readBoolean(value: unknown, at: FieldPath): boolean {
  return typeof value === 'boolean' ? value : wrongType(at, 'true or false', value);
}

export function readInteger(value: unknown, at: FieldPath, min: number, max: number): number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max
    ? value
    : wrongType(at, `a whole number from ${min} to ${max}`, value);
}

export function readChoice<T extends string>(value: unknown, at: FieldPath, choices: readonly T[]): T {
  const choice = choices.find((c) => c === value);
  return choice ?? wrongType(at, `one of ${choices.map((c) => JSON.stringify(c)).join(', ')}`, value);
}

/** A list of items read by `item`; `nonEmpty` and no item twice when asked. */
export function readList<T>(
  value: unknown,
  at: FieldPath,
  item: (value: unknown, at: FieldPath) => T,
  rules: { readonly nonEmpty?: boolean; readonly unique?: boolean } = {},
): readonly T[] {
  if (!Array.isArray(value)) return wrongType(at, 'a list', value);
  const items = value.map((v: unknown, i) => item(v, fieldPath(at, i)));
  if (rules.nonEmpty === true && items.length === 0) refuse(at, 'the list must not be empty');
  if (rules.unique === true) {
    items.forEach((v, i) => {
      if (items.indexOf(v) !== i) refuse(fieldPath(at, i), `${describe(v)} is listed twice`);
    });
  }
  return items;
}
