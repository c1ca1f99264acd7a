/** Picks the hypervisor driver a VMM Delegate's config names. */
import type { VmmDelegateConfig } from '../../../config/config.js';
import type { DriverLog, VmmDriver } from '../driver.js';
import { LibvirtDriver } from './libvirt.js';
import { QemuDriver } from './qemu.js';
import { XenDriver } from './xen.js';

export function createDriver(config: VmmDelegateConfig, logger?: DriverLog): VmmDriver {
  switch (config.driver) {
    case 'qemu':
      return new QemuDriver({
        socketDir: config.qemuSocketDir,
        busPreference: config.qemuBus,
        ...(logger ? { logger } : {}),
      });
    case 'xen':
      return new XenDriver(logger ? { logger } : {});
    case 'libvirt':
      return new LibvirtDriver({
        ...(config.libvirtUri !== undefined ? { connectUri: config.libvirtUri } : {}),
        ...(logger ? { logger } : {}),
      });
  }
}
