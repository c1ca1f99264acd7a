/**
 * The VmmDriver conformance suite against real QEMU processes, once per way the driver plugs a
 * disk: scsi-hd on a virtio-scsi controller, and virtio-blk-pci on PCIe root ports (q35 with native
 * PCIe hotplug, where unplug without a guest OS completes at once; on "pc" it never would, which
 * qemu-driver-specifics.test.ts covers as a timeout).
 */
import { vmmDriverConformance } from '../../conformance/vmm-driver.js';
import { qemuFixture } from '../../support/qemu-vm.js';

vmmDriverConformance('qemu (scsi-hd on virtio-scsi)', () => qemuFixture({ scsi: true }, 'sd'));

vmmDriverConformance('qemu (virtio-blk-pci on PCIe root ports)', () =>
  qemuFixture({ machine: 'q35', pciePorts: 4 }, 'vd'),
);
