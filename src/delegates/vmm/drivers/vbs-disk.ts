/**
 * What the hypervisor drivers share about the disks they handle: which of an instance's disks are VBS
 * volumes, and how a guest device name (/dev/xvdb) becomes the bare name the tools take (xvdb).
 *
 * A disk is a VBS volume when its backing file is named as the Volume Delegate names volume files
 * (volumes/vol-….img, src/core/paths.ts), so a volume is recognised from what the hypervisor itself
 * reports, with no state kept here. Every other disk (an instance's root disk, an ISO) is never
 * listed, and so is never detached by VBS.
 *
 * Device names go into command lines and into text the tools parse further (xl's disk spec is
 * comma-separated key=value; virsh pastes the target into XML unescaped), so only plain names pass.
 */
import { basename } from 'node:path';
import { isId } from '../../../core/ids.js';
import { DriverError } from '../driver.js';

/** The volume ID of a VBS volume file (…/vol-0123….img), or undefined for any other file. */
export function volumeIdOfFile(path: string): string | undefined {
  const name = basename(path);
  if (!name.endsWith('.img')) return undefined;
  const id = name.slice(0, -'.img'.length);
  return isId('vol', id) ? id : undefined;
}

/** A plain block device name: letters, then optionally a partition number (xvdb, vdc, sdf, xvdaa1). */
const DEVICE_NAME = /^[a-z]{2,8}[0-9]{0,3}$/;

/**
 * The bare name of a guest device (/dev/xvdb -> xvdb), checked to be a plain name with one of the
 * given prefixes. Anything else is refused before a tool sees it.
 */
export function bareDeviceName(device: string, prefixes: readonly string[]): string {
  const name = device.startsWith('/dev/') ? device.slice('/dev/'.length) : device;
  if (!DEVICE_NAME.test(name) || !prefixes.some((p) => name.startsWith(p) && name.length > p.length)) {
    throw new DriverError(
      'refused',
      `device ${JSON.stringify(device)} is not a ${prefixes.map((p) => `/dev/${p}X`).join(' or ')} device name`,
    );
  }
  return name;
}

/** The guest device name the drivers report for a bare name the tools print (xvdb -> /dev/xvdb). */
export function guestDevice(name: string): string {
  return `/dev/${name}`;
}

/**
 * An attach is idempotent: when the instance already holds the volume exactly as asked (the same
 * guest device, the same mode), it is done, and this is true; held any other way, it is refused;
 * not held, false (go on and attach). `sameDevice` compares guest device names as the driver does.
 */
export function heldAsAsked(
  held: readonly { readonly volumeId: string; readonly device: string; readonly mode: string }[],
  request: { readonly instanceId: string; readonly volumeId: string; readonly mode: string },
  isAskedDevice: (device: string) => boolean,
): boolean {
  const same = held.find((d) => d.volumeId === request.volumeId);
  if (!same) return false;
  if (isAskedDevice(same.device) && same.mode === request.mode) return true;
  throw new DriverError(
    'refused',
    `${request.volumeId} is already attached to ${request.instanceId} as ${same.device} (${same.mode})`,
  );
}
