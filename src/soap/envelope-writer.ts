/**
 * What wraps an encoded payload in a SOAP envelope. The SOAP layer only writes plain envelopes
 * (plainEnvelope in faults.ts); a service that signs its messages passes the signing writer of
 * src/security/wssec/sign.ts (signedAs, or answersSignedAs for a server), so that src/soap never
 * imports src/security.
 *
 * A server's writer is also told which request it answers (the parsed envelope, when the request
 * could be parsed): a signing writer may answer in the kind of signature the request used, since a
 * client that signs only with RSA may also verify only RSA (stock gSOAP 2.8 cannot verify ECDSA).
 */
import type { ParsedEnvelope } from './envelope.js';

/** What a server's envelope writer knows of the request it answers. */
export interface Answering {
  /** The request as parseEnvelope read it; absent when it could not be read. */
  readonly request?: ParsedEnvelope;
}

export type EnvelopeWriter = (bodyXml: string, answering?: Answering) => string;
