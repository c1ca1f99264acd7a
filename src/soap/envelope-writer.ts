/**
 * What wraps an encoded payload in a SOAP envelope. The SOAP layer only writes plain envelopes
 * (plainEnvelope in faults.ts); a service that signs its messages passes the signing writer of
 * src/security/wssec/sign.ts (signedAs), so that src/soap never imports src/security.
 */
export type EnvelopeWriter = (bodyXml: string) => string;
