/**
 * virtio-blk-pci on a "pc" machine (ACPI hotplug) without a guest OS: QEMU asks the guest to release
 * the device and nothing ever does, so DEVICE_DELETED never comes. The driver must say so in time
 * ('unavailable', with the reason), keep the disk listed, and let a later detach wait again.
 */
import { expect } from 'chai';
import { DriverError } from '../../../src/delegates/vmm/driver.js';
import { INSTANCE_A, qemuFixture, type QemuFixture } from '../../support/qemu-vm.js';

describe('QemuDriver: virtio-blk-pci unplug on "pc" without a guest OS', function () {
  this.timeout(30_000);
  let f: QemuFixture;
  beforeEach(async () => {
    f = await qemuFixture({ machine: 'pc' }, 'vd', { unplugTimeoutMs: 300 });
  });
  afterEach(async () => {
    await f.teardown();
  });

  it('gives unavailable with the reason when DEVICE_DELETED does not come, and keeps the disk listed', async () => {
    const path = await f.volumeFile('vol-0000000000000000e');
    await f.driver.attach({
      instanceId: INSTANCE_A,
      volumeId: 'vol-0000000000000000e',
      path,
      device: '/dev/vdb',
      mode: 'rw',
    });
    for (let attempt = 0; attempt < 2; attempt++) {
      let error: unknown;
      try {
        await f.driver.detach({
          instanceId: INSTANCE_A,
          volumeId: 'vol-0000000000000000e',
          device: '/dev/vdb',
          force: false,
        });
      } catch (e) {
        error = e;
      }
      expect(error).to.be.instanceOf(DriverError);
      expect((error as DriverError).kind).to.equal('unavailable');
      expect((error as DriverError).message).to.match(/guest/);
    }
    expect((await f.driver.listInstances()).find((i) => i.instanceId === INSTANCE_A)?.disks).to.deep.equal([
      { instanceId: INSTANCE_A, volumeId: 'vol-0000000000000000e', device: '/dev/vdb', mode: 'rw' },
    ]);
  });
});
