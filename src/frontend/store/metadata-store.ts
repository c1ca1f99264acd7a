/**
 * The metadata store as the use cases see it: async, so that the SQLite store here and a PostgreSQL
 * store for several frontends are interchangeable without touching a use case. Every status change is
 * a named transition of src/core/state.ts, applied as one conditional update.
 */
import type {
  AttachmentRecord,
  AttachMode,
  InstanceLocation,
  SnapshotRecord,
  VmmHostRecord,
  VolumeRecord,
} from '../../core/records.js';
import type { AttachmentEvent, Guard, SnapshotEvent, VolumeEvent } from '../../core/state.js';

/**
 * changed=false: the transition was not allowed. `current` is the row as it is now, if it exists, and
 * `blockedBy` the guard that held when the status itself allowed the transition (read after the
 * atomic update decided, only to explain the refusal).
 */
export type Outcome<T> =
  | { readonly changed: true; readonly record: T }
  | { readonly changed: false; readonly current: T | undefined; readonly blockedBy?: Guard };

export interface ResourceQuery {
  /** Only this owner's resources; undefined for all (admins, internal sweeps). */
  readonly ownerId?: string;
  /** Only these IDs; undefined for all. */
  readonly ids?: readonly string[];
}

/** A delegate's report on a job: the transition applies only to the job it names, from that delegate. */
export interface ReportedJob {
  readonly jobId: string;
  readonly delegateId: string;
}

export interface VolumeChanges {
  readonly statusMessage?: string | null;
  /** Only if the resource's job is this one and was offered to this delegate; it is then accepted. */
  readonly reportedJob?: ReportedJob;
}

export interface SnapshotChanges {
  readonly statusMessage?: string | null;
  readonly progress?: number;
  /** Only if the resource's job is this one and was offered to this delegate; it is then accepted. */
  readonly reportedJob?: ReportedJob;
}

export type JobResource = 'volume' | 'snapshot';

export interface NewAttachment {
  readonly volumeId: string;
  readonly instanceId: string;
  readonly vmmHost: string;
  readonly device: string;
  readonly mode: AttachMode;
  readonly attachTime: string;
}

/** Why an attachment was not admitted: each maps to one EC2 error in the attach use case. */
export type AttachRefusal =
  | 'volume-state'
  /** The volume is attached read-write: nothing else may attach it. */
  | 'held-read-write'
  /** The volume is attached read-only and read-write was asked. */
  | 'shared-read-only'
  | 'already-attached'
  | 'device-in-use';

/** An instance as its node reports it in a registration. */
export interface ReportedInstance {
  readonly instanceId: string;
  readonly state: string;
  /** The owner the node reports; null or absent when it says none. */
  readonly ownerId?: string | null;
}

export type AttachAdmission =
  | { readonly admitted: true; readonly attachment: AttachmentRecord }
  | { readonly admitted: false; readonly reason: AttachRefusal };

/**
 * A user's quota: how many volumes, how many GiB in all of them, how many snapshots it may hold;
 * null is no limit. Every row of the owner that is not a deleted tombstone counts (error and deleting
 * ones too); snapshots do not count towards the GiB.
 */
export interface QuotaLimits {
  readonly volumes: number | null;
  readonly gib: number | null;
  readonly snapshots: number | null;
}

export type QuotaKind = keyof QuotaLimits;

/**
 * Whether a new volume or snapshot was inserted. 'state': the resource it is made from may not be
 * used now (the snapshot is not completed, the volume cannot be snapshotted). 'quota': the owner would
 * hold more than its limit of `quota`; `used` is what it holds (read in the same transaction).
 */
export type InsertAdmission =
  | { readonly admitted: true }
  | { readonly admitted: false; readonly reason: 'state' }
  | {
      readonly admitted: false;
      readonly reason: 'quota';
      readonly quota: QuotaKind;
      readonly limit: number;
      readonly used: number;
    };

export interface MetadataStore {
  /**
   * Inserts a new volume; when it comes from a snapshot, only while that snapshot is completed; and
   * only while its owner stays within its quota of volumes and of GiB: the owner's overrides (set by
   * vbs-admin) where it has them, else `defaults` (none when not given). The checks are part of the
   * insert, so concurrent inserts cannot together pass a limit. (A store on a database whose
   * transactions can run side by side, such as PostgreSQL under READ COMMITTED, must make that so:
   * a lock on the owner, or SERIALIZABLE.)
   */
  insertVolume(volume: VolumeRecord, defaults?: QuotaLimits): Promise<InsertAdmission>;
  /** Inserts a new snapshot only while its volume may be snapshotted and its owner within its snapshot quota. */
  insertSnapshot(snapshot: SnapshotRecord, defaults?: QuotaLimits): Promise<InsertAdmission>;
  /** Forgets a row that was never acknowledged to a client (its delegate refused it). */
  discardVolume(id: string): Promise<void>;
  discardSnapshot(id: string): Promise<void>;

  getVolume(id: string): Promise<VolumeRecord | undefined>;
  getSnapshot(id: string): Promise<SnapshotRecord | undefined>;
  /** Visible resources (not deleted), oldest first. */
  findVolumes(query: ResourceQuery): Promise<VolumeRecord[]>;
  findSnapshots(query: ResourceQuery): Promise<SnapshotRecord[]>;
  attachmentsOf(volumeIds: readonly string[]): Promise<AttachmentRecord[]>;

  transitionVolume(id: string, event: VolumeEvent, changes?: VolumeChanges): Promise<Outcome<VolumeRecord>>;
  transitionSnapshot(id: string, event: SnapshotEvent, changes?: SnapshotChanges): Promise<Outcome<SnapshotRecord>>;

  /** Volumes in `status` whose last change is older than `before` (ms since the epoch). */
  volumesUnchangedSince(status: VolumeRecord['status'], before: number): Promise<VolumeRecord[]>;
  snapshotsUnchangedSince(status: SnapshotRecord['status'], before: number): Promise<SnapshotRecord[]>;

  /**
   * Records a new attachment as "attaching" and the volume as in-use, in one transaction, only if the
   * volume is attachable, the modes are compatible (state.ts: modesCompatible), the instance does not
   * hold the volume already and the device is free in the instance. Concurrent calls cannot both pass.
   */
  beginAttachment(attachment: NewAttachment): Promise<AttachAdmission>;
  transitionAttachment(id: number, event: AttachmentEvent, statusMessage?: string): Promise<Outcome<AttachmentRecord>>;
  /**
   * Ends an attachment (event attachFailed or detached) and, when it was the volume's last one, makes
   * the volume available again, in one transaction.
   */
  endAttachment(
    id: number,
    event: 'attachFailed' | 'detached',
    statusMessage?: string,
  ): Promise<Outcome<AttachmentRecord>>;
  getAttachment(id: number): Promise<AttachmentRecord | undefined>;
  /** Live (not detached) attachments that a VMM host holds. */
  attachmentsOnHost(vmmHost: string): Promise<AttachmentRecord[]>;
  /** Attachments of a VMM host that ended (detached, or the attach failed) at or after `since` (ms since the epoch). */
  attachmentsEndedOnHost(vmmHost: string, since: number): Promise<AttachmentRecord[]>;

  /**
   * A VMM Delegate's registration: the host, and the instances it has now (replacing the old list),
   * each with the owner the node reports (null: none).
   */
  registerVmm(host: VmmHostRecord, instances: readonly ReportedInstance[]): Promise<void>;
  /** Where an instance runs: one entry per host that reported it, with its owner (InstanceLocation). */
  findInstance(instanceId: string): Promise<InstanceLocation[]>;
  /**
   * Whom the instance on that host belongs to: an admin's assignment, else what the node reported at
   * its last registration; null when neither says (or the instance is not registered).
   */
  instanceOwner(instanceId: string, vmmHost: string): Promise<string | null>;
  getVmmHost(host: string): Promise<VmmHostRecord | undefined>;

  /**
   * The resource's job is about to be offered to `delegateId` (written before the call, so that a
   * report or a restart finds who may have it): job state 'offering'. It is not word from the job:
   * the deadline still counts from the last report, so a job offered again and again still expires.
   * False when the resource is no longer waiting for its file (creating, pending).
   */
  offerJob(kind: JobResource, id: string, delegateId: string): Promise<boolean>;
  /** The delegate it was offered to said it has the job. False when that is no longer the offer. */
  acceptJob(kind: JobResource, id: string, jobId: string, delegateId: string): Promise<boolean>;
  /** Resources still waiting for their file whose job's offer is unanswered since before `before`. */
  volumesOfferedBefore(before: number): Promise<VolumeRecord[]>;
  snapshotsOfferedBefore(before: number): Promise<SnapshotRecord[]>;

  close(): Promise<void>;
}
