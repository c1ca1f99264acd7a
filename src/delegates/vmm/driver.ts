/**
 * The contract every hypervisor driver of the VMM Delegate fulfils (QEMU/KVM over QMP, Xen's xl,
 * libvirt's virsh). It is small on purpose: what the VMM Delegate needs, nothing else. One
 * conformance suite (test/conformance/vmm-driver.ts) runs against every implementation.
 *
 * Errors: a driver throws DriverError with a kind the delegate maps to an EC2 fault; the message is
 * for the log and may quote the hypervisor. Its effect says whether the hypervisor may have acted:
 * 'none' (it refused, or was never asked to change anything) or 'unknown' (a command that changes
 * what it holds was sent and did not answer in time: it may still take effect).
 *
 * Attach and detach are idempotent: attaching a disk the instance already holds exactly as asked
 * succeeds without doing anything, and detaching a disk it does not hold succeeds ('not-held'). Every
 * request has a deadline; a driver starts no hypervisor command after it, and cuts every command and
 * every wait to the time left (src/config/config.ts says why).
 */
import type { Effect } from '../../core/errors.js';
import type { AttachMode } from '../../core/records.js';

export interface DiskAttachment {
  readonly instanceId: string;
  readonly volumeId: string;
  readonly device: string;
  readonly mode: AttachMode;
}

/**
 * The state of an instance a driver lists but cannot question now: its disks are unknown, not none,
 * and the frontend leaves its attachments alone (wsdl/vmm-delegate.wsdl says the same).
 */
export const UNREACHABLE_STATE = 'unreachable';

export interface InstanceInfo {
  readonly instanceId: string;
  /** The hypervisor's word for it, e.g. "running", "paused", "shut off". */
  readonly state: string;
  /** The VBS volumes the hypervisor holds for this instance now (found by their volume IDs). */
  readonly disks: readonly DiskAttachment[];
  /**
   * The user the instance belongs to, as the platform that started it set it in the hypervisor
   * (drivers/instance-owner.ts says where); undefined when it says nothing usable.
   */
  readonly owner?: string;
}

export interface AttachRequest {
  readonly instanceId: string;
  readonly volumeId: string;
  /** Absolute path of the volume file, already checked to be inside the storage root. */
  readonly path: string;
  /** The guest device name asked for, e.g. /dev/vdb, /dev/xvdb, /dev/sdb. */
  readonly device: string;
  readonly mode: AttachMode;
  /** Date.now() after which nothing of this request may be done (default: the driver's own limit). */
  readonly deadline?: number;
}

export interface DetachRequest {
  readonly instanceId: string;
  readonly volumeId: string;
  readonly device: string;
  /**
   * Kept from EC2's DetachVolume. A disk the instance does not hold is 'not-held' with or without it;
   * no driver does anything more for it today.
   */
  readonly force: boolean;
  readonly deadline?: number;
}

/** detached: the instance held the disk and no longer does; not-held: it did not hold it. */
export type DetachOutcome = 'detached' | 'not-held';

export type DriverErrorKind =
  /** No such instance on this node. */
  | 'instance-not-found'
  /** The instance has no such disk. */
  | 'disk-not-found'
  /** The device name is taken in the instance. */
  | 'device-in-use'
  /** The hypervisor refused the attachment (e.g. an image lock held by another VM). */
  | 'refused'
  /** The hypervisor did not answer in time or could not be reached, or the request's time ran out. */
  | 'unavailable';

export class DriverError extends Error {
  override readonly name = 'DriverError';
  readonly effect: Effect;
  constructor(
    readonly kind: DriverErrorKind,
    message: string,
    options?: { cause?: unknown; effect?: Effect },
  ) {
    super(message, options);
    this.effect = options?.effect ?? 'none';
  }

  /** The same error with this effect: 'unknown' once a change was asked for, 'none' before. */
  withEffect(effect: Effect): DriverError {
    if (this.effect === effect) return this;
    return new DriverError(this.kind, this.message, { cause: this.cause, effect });
  }
}

/** What a driver writes to the delegate's log (the delegate's winston Logger is one). */
export interface DriverLog {
  warn(message: string, fields: Record<string, unknown>): unknown;
}

/** The time left until a deadline, at most `limit`; a DriverError (nothing done) when none is left. */
export function timeLeft(deadline: number, limit: number, what: string): number {
  const left = Math.min(limit, deadline - Date.now());
  if (left <= 0) throw new DriverError('unavailable', `the request's deadline passed before ${what}`);
  return left;
}

export interface VmmDriver {
  /** "qemu", "xen" or "libvirt". */
  readonly name: string;
  listInstances(): Promise<InstanceInfo[]>;
  attach(request: AttachRequest): Promise<DiskAttachment>;
  detach(request: DetachRequest): Promise<DetachOutcome>;
  /** Whether the hypervisor answers at all; the message says why not. */
  health(): Promise<{ readonly healthy: boolean; readonly message: string }>;
  close(): Promise<void>;
}
