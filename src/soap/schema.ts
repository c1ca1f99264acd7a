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
