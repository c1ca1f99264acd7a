/**
 * QEMU's refusals turned into DriverError kinds. QMP reports almost everything as "GenericError",
 * so the kind comes from the message; the messages matched here are the ones QEMU 7.2 gives (seen
 * in test/delegates/vmm/qemu-driver.test.ts). Anything else QEMU refuses stays 'refused' with QEMU's
 * words, and anything that is not an answer from QEMU (timeouts, a dropped socket) is 'unavailable'.
 */
import { DriverError } from '../driver.js';
import { QmpCommandError } from '../qmp-client.js';

export function isQmpError(e: unknown, pattern: RegExp, errorClass?: string): e is QmpCommandError {
  return (
    e instanceof QmpCommandError && pattern.test(e.desc) && (errorClass === undefined || e.errorClass === errorClass)
  );
}

/** For errors of blockdev-add and device_add. */
export function attachError(e: unknown, what: string): DriverError {
  if (e instanceof DriverError) return e;
  if (e instanceof QmpCommandError) {
    // 'Failed to get "write" lock', 'Failed to get shared "write" lock': another QEMU uses the image.
    if (/Failed to get .*lock/.test(e.desc)) {
      return new DriverError('refused', `${what}: the volume file is locked by another VM (${e.desc})`, { cause: e });
    }
    if (/Duplicate (device )?ID/i.test(e.desc)) {
      return new DriverError('device-in-use', `${what}: the device name is taken in this instance (${e.desc})`, {
        cause: e,
      });
    }
    if (/Duplicate nodes with node-name/.test(e.desc)) {
      return new DriverError('refused', `${what}: the volume is being attached to this instance already (${e.desc})`, {
        cause: e,
      });
    }
    if (/does not support hotplugging/.test(e.desc)) {
      return new DriverError(
        'refused',
        `${what}: no hot-pluggable slot (add a virtio-scsi controller or free PCIe root ports to the VM): ${e.desc}`,
        { cause: e },
      );
    }
    return new DriverError('refused', `${what}: QEMU refused: ${e.desc}`, { cause: e });
  }
  return new DriverError('unavailable', `${what}: ${String(e)}`, { cause: e });
}
