/**
 * The state machine of volumes, snapshots and attachments, as data. Every status change in VBS names
 * one of these transitions; the store turns it into a single conditional UPDATE
 * (… WHERE status IN (from) AND NOT EXISTS (guard)), so the check and the change are one atomic step.
 * Zero rows changed means the transition was not allowed, and `refusal` says which EC2 error tells
 * the client why.
 */
import type { ErrorCode } from './errors.js';

export const VOLUME_STATUSES = ['creating', 'available', 'in-use', 'deleting', 'deleted', 'error'] as const;
export type VolumeStatus = (typeof VOLUME_STATUSES)[number];

export const SNAPSHOT_STATUSES = ['pending', 'completed', 'error', 'deleting', 'deleted'] as const;
export type SnapshotStatus = (typeof SNAPSHOT_STATUSES)[number];

export const ATTACHMENT_STATUSES = ['attaching', 'attached', 'detaching', 'detached'] as const;
export type AttachmentStatus = (typeof ATTACHMENT_STATUSES)[number];

/** An attachment in these statuses holds its volume; `detached` is its end. */
export const LIVE_ATTACHMENT_STATUSES: readonly AttachmentStatus[] = ['attaching', 'attached', 'detaching'];

/** How resources relate: the snapshots of a volume, its attachments, the volumes made from a snapshot. */
export type Relation = 'snapshotsOfVolume' | 'attachmentsOfVolume' | 'volumesFromSnapshot';

/** A condition on other resources that blocks a transition: a related resource in one of `statuses`. */
export interface GuardSpec {
  readonly relation: Relation;
  readonly statuses: readonly string[];
}

export const GUARDS = {
  volumeHasPendingSnapshot: { relation: 'snapshotsOfVolume', statuses: ['pending'] satisfies SnapshotStatus[] },
  volumeHasAttachment: { relation: 'attachmentsOfVolume', statuses: LIVE_ATTACHMENT_STATUSES },
  snapshotHasCreatingVolume: { relation: 'volumesFromSnapshot', statuses: ['creating'] satisfies VolumeStatus[] },
} as const satisfies Record<string, GuardSpec>;

/** The guards' names; the store checks each inside the statement of the transition it guards. */
export type Guard = keyof typeof GUARDS;

export interface Transition<S extends string> {
  readonly from: readonly S[];
  readonly to: S;
  readonly unless?: readonly Guard[];
  /** The error for a status outside `from`, when it is not IncorrectState. */
  readonly refusal?: Partial<Record<S, ErrorCode>>;
}

export const VOLUME_TRANSITIONS = {
  /** A progress report from the delegate: nothing changes but the time of last word. */
  progressed: { from: ['creating'], to: 'creating' },
  /** The delegate made the file. */
  provisioned: { from: ['creating'], to: 'available' },
  /** The delegate failed, or nothing was heard before the deadline. */
  provisioningFailed: { from: ['creating'], to: 'error' },
  /** An attachment begins; a volume with attachments is in-use. */
  attach: { from: ['available', 'in-use'], to: 'in-use' },
  /** The last attachment went. */
  lastDetached: { from: ['in-use'], to: 'available', unless: ['volumeHasAttachment'] },
  /** Also while creating: a job that hangs must not keep its volume for ever (the delete cancels it). */
  delete: {
    from: ['available', 'error', 'creating'],
    to: 'deleting',
    unless: ['volumeHasPendingSnapshot', 'volumeHasAttachment'],
    refusal: { 'in-use': 'VolumeInUse' },
  },
  /** The file is gone; the row stays as a tombstone that no client sees. */
  deleted: { from: ['deleting'], to: 'deleted' },
} as const satisfies Record<string, Transition<VolumeStatus>>;

export const SNAPSHOT_TRANSITIONS = {
  /** A progress report changes nothing but the progress, and only while the copy runs. */
  progressed: { from: ['pending'], to: 'pending' },
  copied: { from: ['pending'], to: 'completed' },
  copyFailed: { from: ['pending'], to: 'error' },
  delete: { from: ['completed', 'error'], to: 'deleting', unless: ['snapshotHasCreatingVolume'] },
  deleted: { from: ['deleting'], to: 'deleted' },
} as const satisfies Record<string, Transition<SnapshotStatus>>;

export const ATTACHMENT_TRANSITIONS = {
  attached: { from: ['attaching'], to: 'attached' },
  attachFailed: { from: ['attaching'], to: 'detached' },
  detach: { from: ['attached'], to: 'detaching' },
  /** The node did not detach: the disk may still be in the guest, so the attachment stands. */
  detachFailed: { from: ['detaching'], to: 'attached' },
  /** Also from attaching/attached: reconciliation found the hypervisor no longer holds the disk. */
  detached: { from: ['detaching', 'attached', 'attaching'], to: 'detached' },
} as const satisfies Record<string, Transition<AttachmentStatus>>;

export type VolumeEvent = keyof typeof VOLUME_TRANSITIONS;
export type SnapshotEvent = keyof typeof SNAPSHOT_TRANSITIONS;
export type AttachmentEvent = keyof typeof ATTACHMENT_TRANSITIONS;

/** Why a transition whose status was right was still refused. */
export const GUARD_REFUSAL: Readonly<Record<Guard, ErrorCode>> = {
  volumeHasPendingSnapshot: 'IncorrectState',
  volumeHasAttachment: 'VolumeInUse',
  snapshotHasCreatingVolume: 'IncorrectState',
};

/** Statuses a client never sees: Describe* leaves these rows out, as EC2 forgets deleted resources. */
export const HIDDEN_VOLUME_STATUSES: readonly VolumeStatus[] = ['deleted'];
export const HIDDEN_SNAPSHOT_STATUSES: readonly SnapshotStatus[] = ['deleted'];

/** The EC2 error that explains why `transition` was refused for a resource in `current`. */
export function refusalFor<S extends string>(transition: Transition<S>, current: S): ErrorCode {
  return transition.refusal?.[current] ?? 'IncorrectState';
}

export function allows<S extends string>(transition: Transition<S>, current: S): boolean {
  return transition.from.includes(current);
}

/** A volume may be attached in these statuses. */
export const ATTACHABLE_VOLUME_STATUSES: readonly VolumeStatus[] = ['available', 'in-use'];

/**
 * Paper 4.3: a volume attached read-write has no other attachment; a volume attached read-only may
 * be attached read-only to more instances; a mix is refused. The store checks this inside the INSERT
 * of the attachment (so that concurrent requests cannot both pass); this function is the rule in
 * words, for the use cases' messages and the tests.
 */
export function modesCompatible(existing: readonly ('rw' | 'ro')[], wanted: 'rw' | 'ro'): boolean {
  return existing.length === 0 || (wanted === 'ro' && existing.every((m) => m === 'ro'));
}

/** A snapshot may be taken of a volume in these statuses (EC2 allows in-use volumes too). */
export const SNAPSHOTTABLE_VOLUME_STATUSES: readonly VolumeStatus[] = ['available', 'in-use'];
/** A volume may be made from a snapshot in these statuses. */
export const RESTORABLE_SNAPSHOT_STATUSES: readonly SnapshotStatus[] = ['completed'];

/**
 * How a client that waits for an operation reads the statuses it sees (vbs --wait): still under way,
 * done, or failed (any other status). Derived from the transitions that end each operation.
 */
export interface Awaited {
  readonly pending: readonly string[];
  readonly done: readonly string[];
}

export const VOLUME_CREATION: Awaited = {
  pending: VOLUME_TRANSITIONS.provisioned.from,
  // A new volume may be attached before the client looks again.
  done: [VOLUME_TRANSITIONS.provisioned.to, VOLUME_TRANSITIONS.attach.to],
};
export const VOLUME_DELETION: Awaited = {
  pending: VOLUME_TRANSITIONS.deleted.from,
  done: [VOLUME_TRANSITIONS.deleted.to],
};
export const SNAPSHOT_CREATION: Awaited = {
  pending: SNAPSHOT_TRANSITIONS.copied.from,
  done: [SNAPSHOT_TRANSITIONS.copied.to],
};

export function phaseOf(operation: Awaited, status: string): 'pending' | 'done' | 'failed' {
  if (operation.done.includes(status)) return 'done';
  return operation.pending.includes(status) ? 'pending' : 'failed';
}
