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
 * Operations on one instance are serialised here, as QEMU's monitor serves one client at a time.
 */
import { readdir } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { isInstanceId } from '../../../core/ids.js';
import type { AttachRequest, DetachRequest, DiskAttachment, InstanceInfo, VmmDriver } from '../driver.js';
import { DriverError, UNREACHABLE_STATE } from '../driver.js';
import { QmpClient, QmpConnectError } from '../qmp-client.js';
import { attachError, isQmpError } from './qemu-errors.js';
import { findFreePciePort, findVirtioScsi, readVbsBlockState, type PlugTarget, type VbsDisk } from './qemu-inspect.js';
import { deviceIdFor, nodeNameFor, sameDevice, serialFor } from './qemu-names.js';

export type QemuBusPreference = 'auto' | 'scsi' | 'virtio-blk';

export interface QemuDriverOptions {
  /** Where the VMs' QMP sockets are: one "<instanceId>.qmp" per instance. */
  readonly socketDir: string;
  /** auto: scsi-hd when the VM has a virtio-scsi controller, virtio-blk-pci otherwise. */
  readonly busPreference?: QemuBusPreference;
  /** Bound on connecting to a socket and on each QMP command (default 5000 ms). */
  readonly timeoutMs?: number;
  /** Bound on waiting for DEVICE_DELETED after device_del (default 10000 ms). */
  readonly unplugTimeoutMs?: number;
}

const SOCKET_SUFFIX = '.qmp';

function toAttachment(instanceId: string, disk: VbsDisk): DiskAttachment {
  return { instanceId, volumeId: disk.volumeId, device: disk.device, mode: disk.mode };
}

export class QemuDriver implements VmmDriver {
  readonly name = 'qemu';
  private readonly busPreference: QemuBusPreference;
  private readonly timeoutMs: number;
  private readonly unplugTimeoutMs: number;
  private readonly tails = new Map<string, Promise<void>>();
  private closed = false;

  constructor(private readonly options: QemuDriverOptions) {
    this.busPreference = options.busPreference ?? 'auto';
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.unplugTimeoutMs = options.unplugTimeoutMs ?? 10_000;
  }

  async listInstances(): Promise<InstanceInfo[]> {
    const ids = await this.instanceIds();
    const found = await Promise.all(
      ids.map(async (instanceId): Promise<InstanceInfo | undefined> => {
        try {
          return await this.session(instanceId, async (qmp) => {
            const status = await qmp.execute('query-status');
            const state =
              typeof status === 'object' && status !== null && 'status' in status && typeof status.status === 'string'
                ? status.status
                : 'unknown';
            const { disks } = await readVbsBlockState(qmp);
            return { instanceId, state, disks: disks.map((d) => toAttachment(instanceId, d)) };
          });
        } catch (e) {
          // A stale socket (no QEMU behind it) is no instance; a silent one is, but its disks are unknown.
          if (e instanceof DriverError && e.kind === 'instance-not-found') return undefined;
          if (e instanceof DriverError && e.kind === 'unavailable')
            return { instanceId, state: UNREACHABLE_STATE, disks: [] };
          throw e;
        }
      }),
    );
    return found.filter((i): i is InstanceInfo => i !== undefined);
  }

  async attach(request: AttachRequest): Promise<DiskAttachment> {
    const { instanceId, volumeId, path, device, mode } = request;
    const nodeName = nodeNameFor(volumeId);
    const qdevId = deviceIdFor(device);
    if (!isAbsolute(path)) throw new DriverError('refused', `volume path must be absolute: ${path}`);
    const attachment: DiskAttachment = { instanceId, volumeId, device, mode };
    return this.session(instanceId, async (qmp) => {
      const { disks, orphanNodes } = await readVbsBlockState(qmp);
      const same = disks.find((d) => d.volumeId === volumeId);
      if (same) {
        if (same.device === device && same.mode === mode) return attachment; // a retried attach
        throw new DriverError(
          'refused',
          `${volumeId} is already attached to ${instanceId} as ${same.device} (${same.mode})`,
        );
      }
      const holder = disks.find((d) => sameDevice(d.device, device));
      if (holder) throw new DriverError('device-in-use', `${device} is taken in ${instanceId} by ${holder.volumeId}`);
      if (orphanNodes.includes(nodeName)) await this.deleteNode(qmp, nodeName);

      const target = await this.plugTarget(qmp, instanceId);
      const readOnly = mode === 'ro';
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
        // No half attachment: the node goes again. Should that fail, the next attach or detach of this
        // volume finds it as an orphan node and removes it.
        await this.deleteNode(qmp, nodeName).catch(() => undefined);
        throw error;
      }
      return attachment;
    });
  }

  async detach(request: DetachRequest): Promise<void> {
    const { instanceId, volumeId, force } = request;
    const nodeName = nodeNameFor(volumeId);
    await this.session(instanceId, async (qmp) => {
      const { disks, orphanNodes } = await readVbsBlockState(qmp);
      // The volume ID identifies the disk; the device name given is not checked against the record.
      const disk = disks.find((d) => d.volumeId === volumeId);
      if (!disk) {
        // A node without device is a detach (or attach) that was cut short: finishing it is success.
        if (orphanNodes.includes(nodeName)) return this.deleteNode(qmp, nodeName);
        if (force) return;
        throw new DriverError('disk-not-found', `${instanceId} holds no disk of ${volumeId}`);
      }
      await this.unplug(qmp, instanceId, disk.qdevId);
      await this.deleteNode(qmp, nodeName);
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
    await Promise.all([...this.tails.values()]);
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
    await qmp.waitForEvent(
      (ev) => ev.event === 'DEVICE_DELETED' && (ev.data.device === qdevId || ev.data.path === path),
      this.unplugTimeoutMs,
      () =>
        new DriverError(
          'unavailable',
          `${instanceId} did not release ${qdevId} within ${this.unplugTimeoutMs} ms: ` +
            'the unplug waits for the guest OS (virtio-blk-pci hot-unplug needs its cooperation); it stays requested, and a later detach completes it',
        ),
    );
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

  /** Runs fn on a fresh QMP connection, one at a time per instance. */
  private async session<T>(instanceId: string, fn: (qmp: QmpClient) => Promise<T>): Promise<T> {
    if (this.closed) throw new DriverError('unavailable', 'the QEMU driver is closed');
    if (!isInstanceId(instanceId))
      throw new DriverError('instance-not-found', `no such instance: ${instanceId.slice(0, 100)}`);
    const previous = this.tails.get(instanceId) ?? Promise.resolve();
    let release = (): void => undefined;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => mine);
    this.tails.set(instanceId, tail);
    await previous;
    try {
      let qmp: QmpClient;
      try {
        qmp = await QmpClient.connect(join(this.options.socketDir, `${instanceId}${SOCKET_SUFFIX}`), {
          timeoutMs: this.timeoutMs,
        });
      } catch (e) {
        if (e instanceof QmpConnectError && (e.code === 'ENOENT' || e.code === 'ECONNREFUSED')) {
          throw new DriverError(
            'instance-not-found',
            `no QEMU instance ${instanceId} (${e.code === 'ENOENT' ? 'no QMP socket' : 'stale QMP socket, nothing listens'})`,
            { cause: e },
          );
        }
        throw e;
      }
      try {
        return await fn(qmp);
      } finally {
        await qmp.close();
      }
    } finally {
      release();
      if (this.tails.get(instanceId) === tail) this.tails.delete(instanceId);
    }
  }
}
