/**
 * What the QEMU driver reads from a running QEMU: the VBS disks it holds (from query-block and
 * query-named-block-nodes, decoded with qemu-names.ts) and where a new disk can be plugged (a
 * virtio-scsi controller, or a free PCIe port for virtio-blk-pci). Reading QEMU each time, rather
 * than remembering, is what lets a restarted VMM Delegate see exactly what its predecessor left.
 */
import type { AttachMode } from '../../../core/records.js';
import type { QmpClient } from '../qmp-client.js';
import { deviceOfDeviceId, modeOf, qdevIdOf, volumeIdOfNode } from './qemu-names.js';

export interface VbsDisk {
  readonly volumeId: string;
  /** The guest device name recorded in the qdev id; the raw qdev id if VBS did not make it. */
  readonly device: string;
  readonly mode: AttachMode;
  readonly qdevId: string;
  readonly nodeName: string;
}

export interface VbsBlockState {
  /** VBS nodes that a device uses: the attached disks. */
  readonly disks: readonly VbsDisk[];
  /** VBS nodes no device uses: left by an interrupted attach or detach. */
  readonly orphanNodes: readonly string[];
}

export type PlugTarget =
  | { readonly driver: 'scsi-hd'; readonly bus: string | undefined }
  | { readonly driver: 'virtio-blk-pci'; readonly bus: string | undefined };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function records(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.filter(isRecord) : [];
}

export async function readVbsBlockState(qmp: QmpClient): Promise<VbsBlockState> {
  const disks: VbsDisk[] = [];
  for (const block of records(await qmp.execute('query-block'))) {
    const inserted = block.inserted;
    if (!isRecord(inserted) || typeof inserted['node-name'] !== 'string' || typeof block.qdev !== 'string') continue;
    const nodeName = inserted['node-name'];
    const volumeId = volumeIdOfNode(nodeName);
    if (volumeId === undefined) continue;
    const qdevId = qdevIdOf(block.qdev);
    disks.push({
      volumeId,
      device: deviceOfDeviceId(qdevId) ?? qdevId,
      mode: modeOf(inserted.ro === true),
      qdevId,
      nodeName,
    });
  }
  const used = new Set(disks.map((d) => d.nodeName));
  const orphanNodes: string[] = [];
  for (const node of records(await qmp.execute('query-named-block-nodes', { flat: true }))) {
    const name = node['node-name'];
    if (typeof name === 'string' && volumeIdOfNode(name) !== undefined && !used.has(name)) orphanNodes.push(name);
  }
  return { disks, orphanNodes };
}

async function peripherals(qmp: QmpClient, container: string): Promise<{ name: string; type: string }[]> {
  const out: { name: string; type: string }[] = [];
  for (const p of records(await qmp.execute('qom-list', { path: container }))) {
    const m = typeof p.type === 'string' ? /^child<(.+)>$/.exec(p.type) : null;
    if (m?.[1] !== undefined && typeof p.name === 'string') out.push({ name: p.name, type: m[1] });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

const VIRTIO_SCSI = /^virtio-scsi-pci(-transitional|-non-transitional)?$/;
const ONE_SLOT_PCIE_PORTS = new Set(['pcie-root-port', 'ioh3420', 'xio3130-downstream']);

/**
 * The instance's virtio-scsi controller: { bus } for one with an id (its bus is "<id>.0"),
 * { bus: undefined } for an anonymous one (QEMU then picks the SCSI bus), null for none.
 */
export async function findVirtioScsi(qmp: QmpClient): Promise<{ readonly bus: string | undefined } | null> {
  const named = (await peripherals(qmp, '/machine/peripheral')).find((p) => VIRTIO_SCSI.test(p.type));
  if (named) return { bus: `${named.name}.0` };
  const anonymous = (await peripherals(qmp, '/machine/peripheral-anon')).find((p) => VIRTIO_SCSI.test(p.type));
  return anonymous ? { bus: undefined } : null;
}

/**
 * A PCIe root or downstream port with nothing plugged in (such a port has one slot, and QEMU 7.2
 * does not stop a second device from going into it). undefined: none, so QEMU picks the default bus,
 * which works on "pc" (ACPI hotplug on pci.0) and fails on q35 (pcie.0 has no hotplug).
 */
export async function findFreePciePort(qmp: QmpClient): Promise<string | undefined> {
  for (const port of await peripherals(qmp, '/machine/peripheral')) {
    if (!ONE_SLOT_PCIE_PORTS.has(port.type)) continue;
    const bus = records(await qmp.execute('qom-list', { path: `/machine/peripheral/${port.name}/${port.name}` }));
    if (!bus.some((p) => typeof p.name === 'string' && p.name.startsWith('child['))) return port.name;
  }
  return undefined;
}
