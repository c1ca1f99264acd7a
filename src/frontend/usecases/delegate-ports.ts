/**
 * What the use cases ask of the Volume and VMM Delegates, and what a VMM Delegate reports, in VBS's
 * own terms. The SOAP clients (src/frontend/volume-delegate-pool.ts, vmm-delegates.ts) and the
 * registry endpoint (src/frontend/soap/registry-handlers.ts) translate these to and from the wire,
 * so that a use case never sees a generated type and another protocol can drive the same use cases.
 */
import type { AttachMode, VolumeType } from '../../core/records.js';

/** A volume file to make at `path` (relative to the storage root), from `sourcePath` when restoring. */
export interface VolumeFileJob {
  readonly kind: 'volume';
  readonly jobId: string;
  readonly volumeId: string;
  readonly path: string;
  readonly sizeGiB: number;
  readonly volumeType: VolumeType;
  readonly sourcePath?: string;
}

/** A snapshot file to copy from a volume file. */
export interface SnapshotFileJob {
  readonly kind: 'snapshot';
  readonly jobId: string;
  readonly snapshotId: string;
  readonly sourcePath: string;
  readonly path: string;
}

export type FileJob = VolumeFileJob | SnapshotFileJob;

export interface VolumeDelegates {
  /** The delegates to offer a job to, in the order to try them: `first` (if one), then in rotation. */
  candidates(first?: string | null): readonly string[];
  /**
   * Resolves once `delegateId` says it journaled the job (again, if it had it already). Throws a
   * VbsError: effect 'none' when the delegate refused it or was not reached (it does not have the
   * job), 'unknown' when no answer came after the request may have arrived.
   */
  offer(delegateId: string, job: FileJob): Promise<void>;
  /** Any delegate may delete (all see the same files); `preferred` is asked first. */
  deleteFile(resourceId: string, path: string, preferred: string | null): Promise<void>;
  close(): void;
}

export interface DiskToAttach {
  /** The attachment this serves, opaque to the node (our record's ID, in decimal). */
  readonly attachmentId: string;
  readonly instanceId: string;
  readonly volumeId: string;
  readonly path: string;
  readonly device: string;
  readonly mode: AttachMode;
}

export interface DiskToDetach {
  /** As in DiskToAttach; empty for a disk no attachment allows (a stray). */
  readonly attachmentId: string;
  readonly instanceId: string;
  readonly volumeId: string;
  readonly device: string;
  readonly force: boolean;
}

/**
 * A VMM Delegate's part of an attach or detach. Both are idempotent on the node, so either may be
 * asked again. Each resolves once the hypervisor did it, and rejects with a VbsError whose effect says
 * what is known: 'none' (refused, or never reached the node: nothing was done) or 'unknown' (no
 * answer in time: it may still be done, and only the node's next inventory tells).
 */
export interface VmmDelegates {
  attach(endpoint: string, disk: DiskToAttach): Promise<void>;
  /** held: false when the instance did not hold the disk, so there was nothing to detach. */
  detach(endpoint: string, disk: DiskToDetach): Promise<{ readonly held: boolean }>;
  /**
   * How long a call waits for the node's answer. An attaching or detaching record older than this is
   * no call's any more (register-vmm.ts settles it).
   */
  readonly callTimeoutMs: number;
  close(): void;
}

/** A VBS disk that a hypervisor holds. */
export interface InventoryDisk {
  readonly volumeId: string;
  readonly device: string;
  readonly mode: AttachMode;
}

/** What a VMM Delegate reports of its node when it registers. */
export interface VmmInventory {
  readonly vmmHost: string;
  readonly endpoint: string;
  readonly driver: string;
  readonly healthy: boolean;
  readonly instances: readonly {
    readonly instanceId: string;
    readonly state: string;
    readonly disks: readonly InventoryDisk[];
    /** The user the instance belongs to as the node reports it (its platform set it); undefined: none. */
    readonly owner?: string;
  }[];
}
