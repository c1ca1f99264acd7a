/**
 * The runtime form of a WSDL's XML Schema, as scripts/gen-types.ts derives it into src/generated/.
 * The codec (decode.ts, encode.ts) walks it, so that what a service accepts and sends is exactly
 * what its WSDL says: element order, required elements, repeated elements, simple types.
 */
export type SimpleType = 'string' | 'boolean' | 'dateTime' | 'int' | 'long';

export interface ElementSpec {
  readonly name: string;
  /** A simple type, or the name of a complex type in the same schema. */
  readonly type: SimpleType | { readonly complex: string };
  readonly optional: boolean;
  readonly repeated: boolean;
  /** A VBS addition to someone else's contract (EC2's), marked "VBS extension" in the WSDL. */
  readonly extension?: true;
}

export interface ComplexTypeSpec {
  readonly elements: readonly ElementSpec[];
}

export interface OperationSpec {
  readonly input: string;
  readonly output: string;
}

export interface ServiceSchema {
  readonly namespace: string;
  readonly types: Readonly<Record<string, ComplexTypeSpec>>;
  /** Global element name -> complex type name. */
  readonly elements: Readonly<Record<string, string>>;
  /** Port type name -> operation name -> its input and output global elements. */
  readonly portTypes: Readonly<Record<string, Readonly<Record<string, OperationSpec>>>>;
}

/** What a port type's operations take and give, as the generated code declares it. */
export type OperationMap = Record<string, { input: object; output: object }>;

/**
 * The same schema without VBS's extension elements: exactly the contract of the API we extend.
 * A client that knows only that contract (e.g. one generated from Amazon's WSDL, with zeep's strict
 * parsing) is given this, so that no element it does not know ever reaches it.
 */
export function withoutExtensions(schema: ServiceSchema): ServiceSchema {
  const types = Object.fromEntries(
    Object.entries(schema.types).map(([name, t]) => [name, { elements: t.elements.filter((e) => !e.extension) }]),
  );
  return { ...schema, types };
}
