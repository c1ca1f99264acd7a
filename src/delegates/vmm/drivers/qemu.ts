/**
 * The QEMU/KVM driver of the VMM Delegate: it speaks QMP to each VM's monitor socket
 * (<socketDir>/<instanceId>.qmp) and keeps no state of its own. What is attached is read back from
 * QEMU every time (see qemu-names.ts for how the volume, device name and mode are recorded in QEMU).
 *
 * Attach is blockdev-add (driver raw over driver file: the format is never probed, so a guest that
 * writes a qcow2 header into its volume cannot make QEMU open a backing file; CVE-2024-32498) and
 * then device_add; a failed device_add removes the node again, so there are no half attachments.
 * scsi-hd on the VM's virtio-scsi controller is preferred, because its unplug completes whatever the
 * guest does; virtio-blk-pci needs the guest (or native PCIe hotplug on an unpowered slot) to let go.
 *
 * Operations on one instance are serialised here, as QEMU's monitor serves one client at a time. The
 * line of operations waiting for an instance is short (maxWaiting; more are refused at once), and an
 * operation still waiting at its request's deadline is dropped without QEMU being asked anything: by
 * then the frontend no longer waits for its answer (src/config/config.ts).
 *
 * Listing an instance also removes VBS block nodes that no device uses: what an attach cut short
 * between blockdev-add and device_add leaves (a delegate that crashed, a blockdev-add that answered
 * after its time ran out). Such a node keeps the volume file open in QEMU (after DeleteVolume, too)
 * and shows the volume as half attached. Being inside the instance's serialisation, this never races
 * an attach.
 *
 * An instance's owner is the user ID in <socketDir>/<instanceId>.owner, which the platform writes
 * beside the socket before it starts QEMU (instance-owner.ts). A file rather than something QEMU
 * carries (-name, an -object property read over QMP): it asks nothing of QEMU's version or of object
 * types meant for other things, it is read without waiting for the instance's monitor, and it is
 * guarded by what guards the socket itself, the directory of the delegate's user.
 */
import { readdir } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { VMM_COMMAND_TIMEOUT_MS, VMM_REQUEST_DEADLINE_MS } from '../../../config/config.js';
import { isInstanceId } from '../../../core/ids.js';
import type {
  AttachRequest,
  DetachOutcome,
  DetachRequest,
  DiskAttachment,
  DriverLog,
  InstanceInfo,
  VmmDriver,
} from '../driver.js';
import { DriverError, UNREACHABLE_STATE } from '../driver.js';
import { QmpClient, QmpConnectError } from '../qmp-client.js';
import { OwnerWarnings, QEMU_OWNER_SUFFIX, readOwnerFile } from './instance-owner.js';
import { attachError, isQmpError } from './qemu-errors.js';
import { findFreePciePort, findVirtioScsi, readVbsBlockState, type PlugTarget, type VbsDisk } from './qemu-inspect.js';
import { deviceIdFor, nodeNameFor, sameDevice, serialFor, volumeIdOfNode } from './qemu-names.js';
import { heldAsAsked } from './vbs-disk.js';

export type QemuBusPreference = 'auto' | 'scsi' | 'virtio-blk';

export interface QemuDriverOptions {
  /** Where the VMs' QMP sockets are: one "<instanceId>.qmp" per instance. */
  readonly socketDir: string;
  /** auto: scsi-hd when the VM has a virtio-scsi controller, virtio-blk-pci otherwise. */
  readonly busPreference?: QemuBusPreference;
  /** Bound on connecting to a socket and on each QMP command (default VMM_COMMAND_TIMEOUT_MS). */
  readonly timeoutMs?: number;
  /** Bound on waiting for DEVICE_DELETED after device_del (default 10000 ms). */
  readonly unplugTimeoutMs?: number;
  /** A request's deadline after its arrival, when it brings none (default VMM_REQUEST_DEADLINE_MS). */
  readonly requestDeadlineMs?: number;
  /** Operations that may wait for one instance behind the running one (default MAX_WAITING). */
  readonly maxWaiting?: number;
  readonly logger?: DriverLog;
}

/**
 * A few operations may wait for an instance; more mean the instance (or QEMU) is stuck, and the
 * frontend is better told at once than after its timeout.
 */
export const MAX_WAITING = 4;

const SOCKET_SUFFIX = '.qmp';

/** The operations of one instance: the one running, and those waiting in order of arrival. */
interface Line {
  readonly waiting: { start(): void }[];
}

function toAttachment(instanceId: string, disk: VbsDisk): DiskAttachment {
  return { instanceId, volumeId: disk.volumeId, device: disk.device, mode: disk.mode };
}

export class QemuDriver implements VmmDriver {
  readonly name = 'qemu';
  private readonly busPreference: QemuBusPreference;
  private readonly timeoutMs: number;
  private readonly unplugTimeoutMs: number;
  private readonly requestDeadlineMs: number;
  private readonly maxWaiting: number;
  /** An entry exists while an operation of that instance runs. */
  private readonly lines = new Map<string, Line>();
  private readonly sessions = new Set<Promise<unknown>>();
  private readonly ownerWarnings: OwnerWarnings;
  private closed = false;

  constructor(private readonly options: QemuDriverOptions) {
    this.busPreference = options.busPreference ?? 'auto';
    this.timeoutMs = options.timeoutMs ?? VMM_COMMAND_TIMEOUT_MS;
    this.unplugTimeoutMs = options.unplugTimeoutMs ?? 10_000;
    this.requestDeadlineMs = options.requestDeadlineMs ?? VMM_REQUEST_DEADLINE_MS;
    this.maxWaiting = options.maxWaiting ?? MAX_WAITING;
    this.ownerWarnings = new OwnerWarnings(options.logger);
  }

  async listInstances(): Promise<InstanceInfo[]> {
    const ids = await this.instanceIds();
    const deadline = Date.now() + this.requestDeadlineMs;
    const found = await Promise.all(
      ids.map(async (instanceId): Promise<InstanceInfo | undefined> => {
        const owner = await this.ownerOf(instanceId);
        const owned = owner !== undefined ? { owner } : {};
        try {
          return await this.session(instanceId, deadline, async (qmp) => {
            const status = await qmp.execute('query-status');
            const state =
              typeof status === 'object' && status !== null && 'status' in status && typeof status.status === 'string'
                ? status.status
                : 'unknown';
            const { disks, orphanNodes } = await readVbsBlockState(qmp);
            for (const nodeName of orphanNodes) await this.removeOrphan(qmp, instanceId, nodeName);
            return { instanceId, state, disks: disks.map((d) => toAttachment(instanceId, d)), ...owned };
          });
        } catch (e) {
          // A stale socket (no QEMU behind it) is no instance; a silent one is, but its disks are unknown.
          if (e instanceof DriverError && e.kind === 'instance-not-found') return undefined;
          if (e instanceof DriverError && e.kind === 'unavailable')
            return { instanceId, state: UNREACHABLE_STATE, disks: [], ...owned };
          throw e;
        }
      }),
    );
    return found.filter((i): i is InstanceInfo => i !== undefined);
  }

  async attach(request: AttachRequest): Promise<DiskAttachment> {
    const { instanceId, volumeId, path, device, mode } = request;
    const deadline = request.deadline ?? Date.now() + this.requestDeadlineMs;
    const nodeName = nodeNameFor(volumeId);
    const qdevId = deviceIdFor(device);
    if (!isAbsolute(path)) throw new DriverError('refused', `volume path must be absolute: ${path}`);
    const attachment: DiskAttachment = { instanceId, volumeId, device, mode };
    return this.session(instanceId, deadline, async (qmp) => {
      const { disks, orphanNodes } = await definitely(readVbsBlockState(qmp));
      if (heldAsAsked(disks, request, (d) => sameDevice(d, device))) return attachment;
      const holder = disks.find((d) => sameDevice(d.device, device));
      if (holder) throw new DriverError('device-in-use', `${device} is taken in ${instanceId} by ${holder.volumeId}`);
      if (orphanNodes.includes(nodeName)) await definitely(this.deleteNode(qmp, nodeName));

      const target = await definitely(this.plugTarget(qmp, instanceId));
      const readOnly = mode === 'ro';
      // From here QEMU is asked to change what it holds: a command that does not answer in time may
      // still take effect (the QMP client's DriverError says so).
      try {
        await qmp.execute('blockdev-add', {
          driver: 'raw',
          'node-name': nodeName,
          'read-only': readOnly,
          file: { driver: 'file', filename: path, 'read-only': readOnly },
        });
      } catch (e) {
        throw attachError(e, `attaching ${volumeId} to ${instanceId}`);
      }
      try {
        await qmp.execute('device_add', {
          driver: target.driver,
          id: qdevId,
          drive: nodeName,
          serial: serialFor(volumeId, target.driver),
          ...(target.bus !== undefined ? { bus: target.bus } : {}),
        });
      } catch (e) {
        const error = attachError(e, `attaching ${volumeId} to ${instanceId} (${target.driver})`);
        // No half attachment: the node goes again. Should that fail, the next listing of the instance
        // finds it as an orphan node and removes it.
        await this.deleteNode(qmp, nodeName).catch(() => undefined);
        throw error;
      }
      return attachment;
    });
  }

  async detach(request: DetachRequest): Promise<DetachOutcome> {
    const { instanceId, volumeId } = request;
    const deadline = request.deadline ?? Date.now() + this.requestDeadlineMs;
    const nodeName = nodeNameFor(volumeId);
    return this.session(instanceId, deadline, async (qmp): Promise<DetachOutcome> => {
      const { disks, orphanNodes } = await definitely(readVbsBlockState(qmp));
      // The volume ID identifies the disk; the device name given is not checked against the record.
      const disk = disks.find((d) => d.volumeId === volumeId);
      if (!disk) {
        // A node without device is a detach (or attach) that was cut short: no guest holds the disk.
        if (orphanNodes.includes(nodeName)) await this.removeOrphan(qmp, instanceId, nodeName);
        return 'not-held';
      }
      await this.unplug(qmp, instanceId, disk.qdevId);
      try {
        await this.deleteNode(qmp, nodeName);
      } catch (e) {
        // The guest has let the disk go; the node left behind goes with the next listing.
        this.options.logger?.warn('block node not removed after detach; the next listing removes it', {
          instanceId,
          volumeId,
          nodeName,
          error: e instanceof Error ? e.message : String(e),
        });
      }
      return 'detached';
    });
  }

  async health(): Promise<{ readonly healthy: boolean; readonly message: string }> {
    let instances: InstanceInfo[];
    try {
      instances = await this.listInstances();
    } catch (e) {
      return { healthy: false, message: e instanceof Error ? e.message : String(e) };
    }
    const silent = instances.filter((i) => i.state === UNREACHABLE_STATE).map((i) => i.instanceId);
    const answering = instances.length - silent.length;
    const healthy = instances.length === 0 || answering > 0;
    const message =
      `${answering} QEMU instance(s) answer QMP in ${this.options.socketDir}` +
      (silent.length > 0 ? `; not answering: ${silent.join(', ')}` : '');
    return { healthy, message };
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.sessions]);
  }

  private async instanceIds(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.options.socketDir);
    } catch (e) {
      throw new DriverError(
        'unavailable',
        `cannot read the QMP socket directory ${this.options.socketDir}: ${String(e)}`,
        { cause: e },
      );
    }
    return names
      .filter((n) => n.endsWith(SOCKET_SUFFIX))
      .map((n) => n.slice(0, -SOCKET_SUFFIX.length))
      .filter(isInstanceId)
      .sort();
  }

  /** The owner the platform wrote beside the instance's QMP socket (instance-owner.ts). */
  private async ownerOf(instanceId: string): Promise<string | undefined> {
    const path = join(this.options.socketDir, `${instanceId}${QEMU_OWNER_SUFFIX}`);
    return this.ownerWarnings.owner(instanceId, path, await readOwnerFile(path));
  }

  private async plugTarget(qmp: QmpClient, instanceId: string): Promise<PlugTarget> {
    if (this.busPreference !== 'virtio-blk') {
      const scsi = await findVirtioScsi(qmp);
      if (scsi) return { driver: 'scsi-hd', bus: scsi.bus };
      if (this.busPreference === 'scsi')
        throw new DriverError('refused', `${instanceId} has no virtio-scsi controller`);
    }
    return { driver: 'virtio-blk-pci', bus: await findFreePciePort(qmp) };
  }

  private async unplug(qmp: QmpClient, instanceId: string, qdevId: string): Promise<void> {
    try {
      await qmp.execute('device_del', { id: qdevId });
    } catch (e) {
      if (isQmpError(e, /.*/, 'DeviceNotFound')) return;
      // A detach that timed out before asked already; wait for that unplug like for a new one.
      if (!isQmpError(e, /already in the process of unplug/))
        throw attachError(e, `detaching ${qdevId} from ${instanceId}`);
    }
    const path = `/machine/peripheral/${qdevId}`;
    try {
      await qmp.waitForEvent(
        (ev) => ev.event === 'DEVICE_DELETED' && (ev.data.device === qdevId || ev.data.path === path),
        this.unplugTimeoutMs,
        () =>
          new DriverError(
            'unavailable',
            `${instanceId} did not release ${qdevId} in time (at most ${this.unplugTimeoutMs} ms): ` +
              'the unplug waits for the guest OS (virtio-blk-pci hot-unplug needs its cooperation); it stays requested, and a later detach completes it',
          ),
      );
    } catch (e) {
      // The unplug was asked for and may still complete.
      throw e instanceof DriverError ? e.withEffect('unknown') : e;
    }
  }

  /** Removes a VBS block node no device uses, and says so; a failure is logged and left for next time. */
  private async removeOrphan(qmp: QmpClient, instanceId: string, nodeName: string): Promise<void> {
    const fields = { instanceId, nodeName, volumeId: volumeIdOfNode(nodeName) };
    try {
      await this.deleteNode(qmp, nodeName);
      this.options.logger?.warn(
        'orphan block node removed: a VBS block node without a device held the volume file',
        fields,
      );
    } catch (e) {
      this.options.logger?.warn('orphan block node could not be removed; will retry', {
        ...fields,
        error: e instanceof Error ? e.message : String(e),
      });
    }
  }

  /** blockdev-del, retried briefly: the device's hold on the node may outlive DEVICE_DELETED a moment. */
  private async deleteNode(qmp: QmpClient, nodeName: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await qmp.execute('blockdev-del', { 'node-name': nodeName });
        return;
      } catch (e) {
        if (isQmpError(e, /Failed to find node|Cannot find node/)) return;
        if (!isQmpError(e, /is in use/) || attempt >= 10) throw attachError(e, `removing block node ${nodeName}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  }

  /**
   * Runs fn on a fresh QMP connection once the instance's earlier operations are done, one at a time
   * per instance; refuses at once when maxWaiting operations wait already, and drops the operation
   * unstarted when its deadline comes first. Every QMP command of the session ends by the deadline.
   */
  private async session<T>(instanceId: string, deadline: number, fn: (qmp: QmpClient) => Promise<T>): Promise<T> {
    if (this.closed) throw new DriverError('unavailable', 'the QEMU driver is closed');
    if (!isInstanceId(instanceId))
      throw new DriverError('instance-not-found', `no such instance: ${instanceId.slice(0, 100)}`);
    const arrived = Date.now();
    await this.turn(instanceId, deadline, arrived);
    const running = (async (): Promise<T> => {
      try {
        if (Date.now() >= deadline) throw this.dropped(instanceId, deadline, arrived);
        let qmp: QmpClient;
        try {
          qmp = await QmpClient.connect(join(this.options.socketDir, `${instanceId}${SOCKET_SUFFIX}`), {
            timeoutMs: this.timeoutMs,
            deadline,
          });
        } catch (e) {
          if (e instanceof QmpConnectError && (e.code === 'ENOENT' || e.code === 'ECONNREFUSED')) {
            throw new DriverError(
              'instance-not-found',
              `no QEMU instance ${instanceId} (${e.code === 'ENOENT' ? 'no QMP socket' : 'stale QMP socket, nothing listens'})`,
              { cause: e },
            );
          }
          // Connecting asks QEMU for nothing but the monitor.
          throw e instanceof DriverError ? e.withEffect('none') : e;
        }
        try {
          return await fn(qmp);
        } finally {
          await qmp.close();
        }
      } finally {
        this.next(instanceId);
      }
    })();
    this.sessions.add(running);
    try {
      return await running;
    } finally {
      this.sessions.delete(running);
    }
  }

  /** Resolves when it is this operation's turn on the instance. */
  private turn(instanceId: string, deadline: number, arrived: number): Promise<void> {
    const line = this.lines.get(instanceId);
    if (!line) {
      this.lines.set(instanceId, { waiting: [] });
      return Promise.resolve();
    }
    if (line.waiting.length >= this.maxWaiting) {
      return Promise.reject(
        new DriverError(
          'unavailable',
          `${line.waiting.length} operations already wait for ${instanceId} (QEMU is slow or stuck); refused at once`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const entry = {
        start: (): void => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(
        () => {
          const at = line.waiting.indexOf(entry);
          if (at >= 0) line.waiting.splice(at, 1);
          reject(this.dropped(instanceId, deadline, arrived));
        },
        Math.max(0, deadline - Date.now()),
      );
      line.waiting.push(entry);
    });
  }

  /** The running operation of an instance ended: the next one waiting starts. */
  private next(instanceId: string): void {
    const line = this.lines.get(instanceId);
    const waiting = line?.waiting.shift();
    if (waiting) waiting.start();
    else this.lines.delete(instanceId);
  }

  private dropped(instanceId: string, deadline: number, arrived: number): DriverError {
    return new DriverError(
      'unavailable',
      `still waiting for ${instanceId} at its deadline (${deadline - arrived} ms after arrival): dropped, QEMU was not asked`,
    );
  }
}

/** Awaits a step that asks QEMU for nothing: whatever goes wrong there, nothing was changed. */
async function definitely<T>(step: Promise<T>): Promise<T> {
  try {
    return await step;
  } catch (e) {
    throw e instanceof DriverError ? e.withEffect('none') : e;
  }
}
