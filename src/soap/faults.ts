/**
 * The one table from EC2 error codes to SOAP 1.1 faults. Client.* faults tell the caller what to fix;
 * Server.* faults say the fault is ours. A fault carries the code, our message for the client and the
 * request ID, never a stack trace or an internal message: anything that is not a VbsError becomes
 * InternalError here, and its real message goes only to the log.
 *
 * The shape, as Amazon's SOAP faults had it: the EC2 code in `faultcode` (`soap:Client.CODE`), the
 * message in `faultstring`, and `detail` holding exactly one namespace-qualified element, here
 * `vbs:Error` (FAULT_DETAIL_NS) with Code, Message and RequestID. Strict toolkits (gSOAP in strict
 * mode, generated from a WSDL that declares no fault types) read one detail element and refuse a
 * fault with two; Amazon's own was one `aws:RequestId`.
 */
import { VbsError, type ErrorCode } from '../core/errors.js';
import { escapeXml } from './xml-text.js';
import { SOAP_ENV_NS } from './envelope.js';

interface FaultSpec {
  readonly side: 'Client' | 'Server';
  readonly httpStatus: number;
}

export const FAULTS: Readonly<Record<ErrorCode, FaultSpec>> = {
  'InvalidVolume.NotFound': { side: 'Client', httpStatus: 500 },
  'InvalidVolumeID.Malformed': { side: 'Client', httpStatus: 500 },
  'InvalidSnapshot.NotFound': { side: 'Client', httpStatus: 500 },
  'InvalidSnapshotID.Malformed': { side: 'Client', httpStatus: 500 },
  'InvalidInstanceID.NotFound': { side: 'Client', httpStatus: 500 },
  'InvalidInstanceID.Malformed': { side: 'Client', httpStatus: 500 },
  'InvalidAttachment.NotFound': { side: 'Client', httpStatus: 500 },
  'InvalidZone.NotFound': { side: 'Client', httpStatus: 500 },
  IncorrectState: { side: 'Client', httpStatus: 500 },
  VolumeInUse: { side: 'Client', httpStatus: 500 },
  VolumeLimitExceeded: { side: 'Client', httpStatus: 500 },
  SnapshotLimitExceeded: { side: 'Client', httpStatus: 500 },
  InvalidParameterValue: { side: 'Client', httpStatus: 500 },
  InvalidParameterCombination: { side: 'Client', httpStatus: 500 },
  MissingParameter: { side: 'Client', httpStatus: 500 },
  UnknownParameter: { side: 'Client', httpStatus: 500 },
  InvalidAction: { side: 'Client', httpStatus: 500 },
  InvalidRequest: { side: 'Client', httpStatus: 500 },
  AuthFailure: { side: 'Client', httpStatus: 500 },
  // 413 before parsing: the body was not read, so there is no envelope to answer inside of.
  RequestEntityTooLarge: { side: 'Client', httpStatus: 413 },
  // One user's request rate over its bound (the replay cache's per-user share): the caller's doing, and
  // 503 as EC2 answers it, so that HTTP-level retry logic backs off.
  RequestLimitExceeded: { side: 'Client', httpStatus: 503 },
  InsufficientVolumeCapacity: { side: 'Server', httpStatus: 500 },
  Unavailable: { side: 'Server', httpStatus: 503 },
  InternalError: { side: 'Server', httpStatus: 500 },
};

export interface Fault {
  readonly code: ErrorCode;
  readonly faultcode: string;
  readonly message: string;
  readonly httpStatus: number;
}

const INTERNAL_MESSAGE = 'An internal error has occurred. Quote the request ID when you report it.';

/** What the client is told about `error`; only VbsError messages are ever shown. */
export function faultFor(error: unknown): Fault {
  const code: ErrorCode = error instanceof VbsError ? error.code : 'InternalError';
  const spec = FAULTS[code];
  const message = error instanceof VbsError && code !== 'InternalError' ? error.message : INTERNAL_MESSAGE;
  return { code, faultcode: `${spec.side}.${code}`, message, httpStatus: spec.httpStatus };
}

/** The namespace of the one element in a fault's detail (vbs:Error) and of its children. */
export const FAULT_DETAIL_NS = 'urn:vbs:fault:2026-11';

/**
 * Text as exclusive c14n writes it (only &, <, > and CR escaped; quotes as they are), so that what
 * is sent is already the canonical form: gSOAP keeps detail as literal XML and digests it as it came,
 * entities included, so an `&apos;` there broke the signature for gSOAP alone.
 */
function canonicalText(text: string): string {
  return escapeXml(text)
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/\r/g, '&#xD;');
}

/** The soap:Fault element alone (xmlns declared on it), so that it can be signed like any body. */
export function faultElement(fault: Fault, requestId: string): string {
  const message = canonicalText(fault.message);
  return (
    `<soap:Fault xmlns:soap="${SOAP_ENV_NS}">` +
    `<faultcode>soap:${fault.faultcode}</faultcode><faultstring>${message}</faultstring>` +
    `<detail><vbs:Error xmlns:vbs="${FAULT_DETAIL_NS}"><vbs:Code>${fault.code}</vbs:Code>` +
    `<vbs:Message>${message}</vbs:Message><vbs:RequestID>${canonicalText(requestId)}</vbs:RequestID>` +
    `</vbs:Error></detail></soap:Fault>`
  );
}

export function faultEnvelope(fault: Fault, requestId: string): string {
  return plainEnvelope(faultElement(fault, requestId));
}

/** An unsigned SOAP 1.1 envelope around one body element. */
export function plainEnvelope(bodyXml: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<soap:Envelope xmlns:soap="${SOAP_ENV_NS}"><soap:Body>${bodyXml}</soap:Body></soap:Envelope>`;
}
