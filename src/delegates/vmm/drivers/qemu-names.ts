/**
 * How a VBS attachment is written into QEMU's own names, so that QEMU alone says what is attached
 * (no state file to lose or to drift, and a restarted VMM Delegate reads it all back):
 *
 *   block node  node-name  "vbs-<volumeId>"          -> the volume (one per volume per instance)
 *   device      qdev id    "vbsdev-<encoded device>" -> the guest device name the user asked for
 *   device      serial     the volume ID             -> what the guest sees (/dev/disk/by-id)
 *   node        read-only  true for "ro"             -> the mode
 *
 * QEMU cannot choose the guest's device name, so the asked-for name is kept in the qdev id. Because
 * QEMU refuses a second device with the same id, it also enforces "one VBS disk per device name"
 * atomically. The encoding is reversible: "/" becomes ".", letters, digits and "-" stay, anything else
 * becomes "_" and two hex digits per UTF-8 byte ("/dev/vdb" -> "vbsdev-.dev.vdb").
 */
import type { AttachMode } from '../../../core/records.js';
import { DriverError } from '../driver.js';

export const NODE_PREFIX = 'vbs-';
export const DEVICE_ID_PREFIX = 'vbsdev-';
/** QEMU keeps node names in a char[32]. */
const MAX_NODE_NAME = 31;
const MAX_DEVICE_NAME = 64;
/** virtio-blk gives the guest 20 bytes of serial (VIRTIO_BLK_ID_BYTES); longer ones are cut. */
const VIRTIO_BLK_SERIAL_BYTES = 20;

export function nodeNameFor(volumeId: string): string {
  const name = `${NODE_PREFIX}${volumeId}`;
  if (!/^[A-Za-z0-9-]+$/.test(volumeId) || name.length > MAX_NODE_NAME) {
    throw new DriverError(
      'refused',
      `volume ID "${volumeId.slice(0, 40)}" cannot name a QEMU block node (letters, digits and "-", at most ${MAX_NODE_NAME - NODE_PREFIX.length} characters)`,
    );
  }
  return name;
}

export function volumeIdOfNode(nodeName: string): string | undefined {
  if (!nodeName.startsWith(NODE_PREFIX)) return undefined;
  const volumeId = nodeName.slice(NODE_PREFIX.length);
  return /^[A-Za-z0-9-]+$/.test(volumeId) ? volumeId : undefined;
}

export function deviceIdFor(device: string): string {
  if (device === '' || device.length > MAX_DEVICE_NAME) {
    throw new DriverError('refused', `device name must be 1 to ${MAX_DEVICE_NAME} characters`);
  }
  let encoded = '';
  for (const byte of Buffer.from(device, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (c === '/') encoded += '.';
    else if (/^[A-Za-z0-9-]$/.test(c)) encoded += c;
    else encoded += `_${byte.toString(16).padStart(2, '0')}`;
  }
  return `${DEVICE_ID_PREFIX}${encoded}`;
}

/** The device name recorded in a qdev id, or undefined when the id is not one VBS made. */
export function deviceOfDeviceId(qdevId: string): string | undefined {
  if (!qdevId.startsWith(DEVICE_ID_PREFIX)) return undefined;
  const encoded = qdevId.slice(DEVICE_ID_PREFIX.length);
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    const c = encoded.charAt(i);
    if (c === '.') bytes.push(0x2f);
    else if (c === '_') {
      const hex = encoded.slice(i + 1, i + 3);
      if (!/^[0-9a-f]{2}$/.test(hex)) return undefined;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (/^[A-Za-z0-9-]$/.test(c)) bytes.push(c.charCodeAt(0));
    else return undefined;
  }
  return bytes.length > 0 ? Buffer.from(bytes).toString('utf8') : undefined;
}

/** query-block names a device by its id, or by a QOM path below it (".../<id>/virtio-backend"). */
export function qdevIdOf(qdev: string): string {
  const prefix = '/machine/peripheral/';
  if (!qdev.startsWith(prefix)) return qdev;
  return qdev.slice(prefix.length).split('/')[0] ?? qdev;
}

/** "/dev/sdb" and "sdb" name the same device. */
export function sameDevice(a: string, b: string): boolean {
  const bare = (d: string): string => d.replace(/^\/dev\//, '');
  return bare(a) === bare(b);
}

/**
 * The serial the guest sees. virtio-blk cuts it at 20 bytes, which would turn "vol-" plus 17 hex
 * digits into an ambiguous prefix; there it drops the dash, as EC2 does for its NVMe serials
 * ("vol0123456789abcdef0"). scsi-hd carries the volume ID as is.
 */
export function serialFor(volumeId: string, driver: 'scsi-hd' | 'virtio-blk-pci'): string {
  if (driver === 'scsi-hd' || volumeId.length <= VIRTIO_BLK_SERIAL_BYTES) return volumeId;
  return volumeId.replace('-', '').slice(0, VIRTIO_BLK_SERIAL_BYTES);
}

export function modeOf(readOnly: boolean): AttachMode {
  return readOnly ? 'ro' : 'rw';
}
