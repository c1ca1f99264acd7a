/**
 * The names in which the QEMU driver records an attachment inside QEMU (qemu-names.ts): they must
 * decode to exactly what was asked, fit QEMU's limits, and give the guest an unambiguous serial.
 */
import { expect } from 'chai';
import { DriverError } from '../../../src/delegates/vmm/driver.js';
import {
  deviceIdFor,
  deviceOfDeviceId,
  nodeNameFor,
  qdevIdOf,
  sameDevice,
  serialFor,
  volumeIdOfNode,
} from '../../../src/delegates/vmm/drivers/qemu-names.js';

describe('QEMU driver names', () => {
  it('records the device name in a qdev id that decodes to exactly the name asked', () => {
    expect(deviceIdFor('/dev/vdb')).to.equal('vbsdev-.dev.vdb');
    for (const device of ['/dev/sdb', 'xvdf', '/dev/nvme1n1', '/dev/sd_b.1', 'dev/é', '/dev/a b']) {
      const id = deviceIdFor(device);
      expect(id, device).to.match(/^[A-Za-z][A-Za-z0-9._-]*$/); // QEMU's id_wellformed()
      expect(deviceOfDeviceId(id), device).to.equal(device);
    }
  });

  it('ignores qdev ids VBS did not make', () => {
    expect(deviceOfDeviceId('scsi0')).to.equal(undefined);
    expect(deviceOfDeviceId('vbsdev-')).to.equal(undefined);
    expect(deviceOfDeviceId('vbsdev-_zz')).to.equal(undefined);
  });

  it("names the block node after the volume, within QEMU's 31 characters", () => {
    expect(nodeNameFor('vol-0123456789abcdef0')).to.equal('vbs-vol-0123456789abcdef0');
    expect(volumeIdOfNode('vbs-vol-0123456789abcdef0')).to.equal('vol-0123456789abcdef0');
    expect(volumeIdOfNode('#block123')).to.equal(undefined);
    expect(() => nodeNameFor('vol-0123456789abcdef0123456789')).to.throw(DriverError);
    expect(() => nodeNameFor('vol-../x')).to.throw(DriverError);
  });

  it('finds the qdev id in the QOM path query-block gives for virtio devices', () => {
    expect(qdevIdOf('/machine/peripheral/vbsdev-.dev.vdb/virtio-backend')).to.equal('vbsdev-.dev.vdb');
    expect(qdevIdOf('vbsdev-.dev.sdb')).to.equal('vbsdev-.dev.sdb');
  });

  it('treats /dev/sdb and sdb as one device', () => {
    expect(sameDevice('/dev/sdb', 'sdb')).to.equal(true);
    expect(sameDevice('/dev/sdb', '/dev/sdc')).to.equal(false);
  });

  it('gives virtio-blk a 20-byte serial without the dash, scsi-hd the volume ID', () => {
    expect(serialFor('vol-0123456789abcdef0', 'scsi-hd')).to.equal('vol-0123456789abcdef0');
    expect(serialFor('vol-0123456789abcdef0', 'virtio-blk-pci')).to.equal('vol0123456789abcdef0');
    expect(serialFor('vol-01234567', 'virtio-blk-pci')).to.equal('vol-01234567');
  });
});
