/**
 * The one error class of VBS. Every failure a client may see is a VbsError with an EC2 error code
 * and a message written for that client; src/soap/faults.ts maps the codes to SOAP faults. Any other
 * error that reaches the edge becomes InternalError, and its message stays in the log.
 */
export const ERROR_CODES = [
  'InvalidVolume.NotFound',
  'InvalidVolumeID.Malformed',
  'InvalidSnapshot.NotFound',
  'InvalidSnapshotID.Malformed',
  'InvalidInstanceID.NotFound',
  'InvalidInstanceID.Malformed',
  'InvalidAttachment.NotFound',
  'InvalidZone.NotFound',
  'IncorrectState',
  'VolumeInUse',
  'VolumeLimitExceeded',
  'SnapshotLimitExceeded',
  'InvalidParameterValue',
  'InvalidParameterCombination',
  'MissingParameter',
  'UnknownParameter',
  'InvalidAction',
  'InvalidRequest',
  'AuthFailure',
  'RequestEntityTooLarge',
  'RequestLimitExceeded',
  'InsufficientVolumeCapacity',
  'Unavailable',
  'InternalError',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * Whether a failed call had any effect: 'none' (it was refused, or never reached its receiver), or
 * 'unknown' (it timed out or its connection broke after it was sent: the receiver may have done it).
 * An unknown outcome is never taken for a refusal: the caller keeps its record and finds out later.
 */
export type Effect = 'none' | 'unknown';

export class VbsError extends Error {
  override readonly name = 'VbsError';
  readonly effect: Effect;
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown; effect?: Effect },
  ) {
    super(message, options);
    this.effect = options?.effect ?? 'none';
  }
}

export function isVbsError(e: unknown): e is VbsError {
  return e instanceof VbsError;
}
