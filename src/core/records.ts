/** What VBS knows about its resources: the rows of the metadata store, free of SQL and XML. */
import type { AttachmentStatus, SnapshotStatus, VolumeStatus } from './state.js';

export type VolumeType = 'sparse' | 'thick' | 'zero';
export const VOLUME_TYPES: readonly VolumeType[] = ['sparse', 'thick', 'zero'];
export type AttachMode = 'rw' | 'ro';

/**
 * Where the job that makes a resource's file stands: 'offering' while the frontend has asked
 * `delegateId` (or is about to) and does not know its answer (a timeout is not a refusal), 'accepted'
 * once that delegate said it journaled the job. The job ID is made with the resource and never
 * changes: a repeated offer, to the same or another delegate, is the same job.
 */
export type JobState = 'offering' | 'accepted';

export interface VolumeRecord {
  readonly id: string;
  readonly ownerId: string;
  readonly sizeGiB: number;
  readonly snapshotId: string | null;
  readonly zone: string;
  readonly status: VolumeStatus;
  readonly volumeType: VolumeType;
  /** Relative to the storage root; made from the ID by src/core/paths.ts. */
  readonly path: string;
  readonly delegateId: string | null;
  readonly jobId: string;
  readonly jobState: JobState;
  /** ISO 8601, as EC2 writes createTime. */
  readonly createTime: string;
  /** Milliseconds since the epoch of the last change or progress report; the deadline counts from it. */
  readonly updatedAt: number;
  /** Why a volume is in error, for operators; the client sees only the status. */
  readonly statusMessage: string | null;
}

export interface SnapshotRecord {
  readonly id: string;
  readonly ownerId: string;
  readonly volumeId: string;
  readonly volumeSizeGiB: number;
  readonly status: SnapshotStatus;
  /** 0..100; written as EC2 writes it ("42%") on the wire. */
  readonly progress: number;
  readonly startTime: string;
  readonly description: string | null;
  readonly path: string;
  readonly delegateId: string | null;
  readonly jobId: string;
  readonly jobState: JobState;
  readonly updatedAt: number;
  readonly statusMessage: string | null;
}

export interface AttachmentRecord {
  readonly id: number;
  readonly volumeId: string;
  readonly instanceId: string;
  readonly device: string;
  readonly status: AttachmentStatus;
  readonly mode: AttachMode;
  readonly vmmHost: string;
  readonly attachTime: string;
  readonly updatedAt: number;
  /** Why an attachment ended other than by DetachVolume (e.g. the hypervisor lost it). */
  readonly statusMessage: string | null;
}

/** A VMM Delegate as it last registered. */
export interface VmmHostRecord {
  readonly host: string;
  readonly endpoint: string;
  readonly driver: string;
  readonly healthy: boolean;
  readonly lastSeen: number;
}

/** Where an instance runs, as its VMM Delegate reported it, and whom it belongs to. */
export interface InstanceLocation {
  readonly instanceId: string;
  readonly vmmHost: string;
  readonly endpoint: string;
  readonly state: string;
  /**
   * The user the instance belongs to: an admin's assignment (vbs-admin instance set-owner) if there
   * is one, else what its node reports; null when neither says (then only admins may use it).
   */
  readonly ownerId: string | null;
}
