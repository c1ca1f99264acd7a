/**
 * The contract every hypervisor driver of the VMM Delegate fulfils (QEMU/KVM over QMP, Xen's xl,
 * libvirt's virsh). It is small on purpose: what the VMM Delegate needs, nothing else. One
 * conformance suite (test/conformance/vmm-driver.ts) runs against every implementation.
 *
 * Errors: a driver throws DriverError with a kind the delegate maps to an EC2 fault; the message is
 * for the log and may quote the hypervisor.
 */
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
}

export interface AttachRequest {
  readonly instanceId: string;
  readonly volumeId: string;
  /** Absolute path of the volume file, already checked to be inside the storage root. */
  readonly path: string;
  /** The guest device name asked for, e.g. /dev/vdb, /dev/xvdb, /dev/sdb. */
  readonly device: string;
  readonly mode: AttachMode;
}

export interface DetachRequest {
  readonly instanceId: string;
  readonly volumeId: string;
  readonly device: string;
  /** Detach even when the hypervisor no longer knows the device (success then). */
  readonly force: boolean;
}

export type DriverErrorKind =
  /** No such instance on this node. */
  | 'instance-not-found'
  /** The instance has no such disk (and force was not set). */
  | 'disk-not-found'
  /** The device name is taken in the instance. */
  | 'device-in-use'
  /** The hypervisor refused the attachment (e.g. an image lock held by another VM). */
  | 'refused'
  /** The hypervisor did not answer in time or could not be reached. */
  | 'unavailable';

export class DriverError extends Error {
  override readonly name = 'DriverError';
  constructor(
    readonly kind: DriverErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface VmmDriver {
  /** "qemu", "xen" or "libvirt". */
  readonly name: string;
  listInstances(): Promise<InstanceInfo[]>;
  attach(request: AttachRequest): Promise<DiskAttachment>;
  detach(request: DetachRequest): Promise<void>;
  /** Whether the hypervisor answers at all; the message says why not. */
  health(): Promise<{ readonly healthy: boolean; readonly message: string }>;
  close(): Promise<void>;
}
