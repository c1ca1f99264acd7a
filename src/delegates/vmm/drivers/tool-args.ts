/**
 * What the xl and virsh drivers may hand to their tool as a positional argument. Both tools parse
 * their command line with getopt-like rules, so a value that starts with "-" would be read as an
 * option: an instance named "--all" or "-f" must never reach them. Instance IDs are checked as the
 * QEMU driver checks them (anything else names no instance here), and volume paths must be absolute,
 * as the Volume Delegate's paths always are.
 */
import { isAbsolute } from 'node:path';
import { isInstanceId } from '../../../core/ids.js';
import { DriverError } from '../driver.js';

export function instanceArg(instanceId: string): string {
  if (!isInstanceId(instanceId))
    throw new DriverError('instance-not-found', `no such instance: ${JSON.stringify(instanceId.slice(0, 100))}`);
  return instanceId;
}

export function volumePathArg(path: string): string {
  if (!isAbsolute(path)) throw new DriverError('refused', `volume path is not absolute: ${JSON.stringify(path)}`);
  return path;
}
