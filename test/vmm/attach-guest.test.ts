/**
 * The whole way a user meets attachment: a VBS volume attached through the frontend's SOAP API to a
 * real running Linux guest under QEMU, checked from inside the guest (the disk is there, with the
 * volume's data; read-only when attached ro), then detached (the disk is gone from the guest).
 */
import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { openSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { startCluster, waitForInstances, type Cluster } from '../support/services.js';
import { ec2Client, faultOf, waitForVolume, type Ec2Client } from '../support/ec2-client.js';
import { startTinyGuest, type TinyGuest } from '../support/tiny-guest.js';
import { ifMade } from '../support/if-made.js';
import { giveQemuInstances } from '../support/instance-owners.js';

const ZONE = 'vbs-local-1a';
const GUEST = 'i-guest0000000001';

describe('attaching a volume to a running Linux guest', function () {
  this.timeout(180_000);
  let cluster: Cluster;
  let client: Ec2Client;
  let guest: TinyGuest | undefined;
  let volumeId: string;
  const data = randomBytes(1024 * 1024);
  const sum = createHash('sha256').update(data).digest('hex');

  before(async () => {
    cluster = await startCluster({
      vmms: [{}],
      beforeRemove: async () => {
        await guest?.stop();
      },
    });
    client = ec2Client(cluster);
    // The platform gives the guest to alice, who attaches to it (docs/vmm-delegate.md, "Instance owners").
    giveQemuInstances(join(cluster.home, 'qemu', 'vmm-1'), 'alice', [GUEST]);
    guest = await startTinyGuest(join(cluster.home, 'qemu', 'vmm-1'), GUEST);
    // The VMM Delegate notices the new instance and registers it with the frontend.
    await waitForInstances(cluster, cluster.vmms[0] ?? expect.fail('no vmm'), [GUEST]);
    volumeId = (await client.call('CreateVolume', { size: '1', availabilityZone: ZONE })).volumeId;
    await waitForVolume(client, volumeId, ['available']);
    // The user's data, as if written by an earlier VM.
    const fd = openSync(join(cluster.home, 'volumes', 'volumes', `${volumeId}.img`), 'r+');
    writeSync(fd, data, 0, data.length, 0);
    closeSync(fd);
  });
  after(async () => {
    ifMade(client)?.close();
    await guest?.stop();
    await ifMade(cluster)?.stop();
  });

  const serial = (): string => volumeId.replace('-', '');
  const diskOf = async (): Promise<string> => (guest ?? expect.fail('no guest')).waitForDisk(serial());

  it("attaches read-write: the guest sees the disk with the volume's data, writable", async () => {
    const r = await client.call('AttachVolume', { volumeId, instanceId: GUEST, device: '/dev/vdb' });
    expect(r).to.include({ volumeId, instanceId: GUEST, device: '/dev/vdb', status: 'attached', attachMode: 'rw' });
    const g = guest ?? expect.fail('no guest');
    const disk = await diskOf();
    expect((await g.run(`cat /sys/block/${disk}/ro`)).trim()).to.equal('0');
    expect((await g.run(`dd if=/dev/${disk} bs=1M count=1 2>/dev/null | sha256sum`)).split(' ')[0]).to.equal(sum);
    const v = (await client.call('DescribeVolumes', { volumeSet: { item: [{ volumeId }] } })).volumeSet.item?.[0];
    expect(v?.status).to.equal('in-use');
    expect(v?.attachmentSet.item?.[0]).to.include({
      instanceId: GUEST,
      device: '/dev/vdb',
      status: 'attached',
      attachMode: 'rw',
      vmmHost: 'vmm-1',
    });
  });

  it('refuses a second attachment of a read-write volume, and deleting it', async () => {
    expect(
      (
        await faultOf(
          client.call('AttachVolume', { volumeId, instanceId: GUEST, device: '/dev/vdc', attachMode: 'ro' }),
        )
      ).code,
    ).to.equal('VolumeInUse');
    expect((await faultOf(client.call('DeleteVolume', { volumeId }))).code).to.equal('VolumeInUse');
  });

  it('detaches: the disk is gone from the guest and the volume is available', async () => {
    const g = guest ?? expect.fail('no guest');
    const disk = await diskOf();
    const r = await client.call('DetachVolume', { volumeId });
    expect(r).to.include({ volumeId, instanceId: GUEST, status: 'detached' });
    await g.waitForDiskGone(disk);
    expect(await waitForVolume(client, volumeId, ['available'])).to.equal('available');
  });

  it('attaches read-only: the guest sees the same data and cannot write', async () => {
    const r = await client.call('AttachVolume', { volumeId, instanceId: GUEST, device: '/dev/vdc', attachMode: 'ro' });
    expect(r).to.include({ status: 'attached', attachMode: 'ro', device: '/dev/vdc' });
    const g = guest ?? expect.fail('no guest');
    const disk = await diskOf();
    expect((await g.run(`cat /sys/block/${disk}/ro`)).trim()).to.equal('1');
    expect((await g.run(`dd if=/dev/${disk} bs=1M count=1 2>/dev/null | sha256sum`)).split(' ')[0]).to.equal(sum);
    const write = await g.exec(`dd if=/dev/zero of=/dev/${disk} bs=4096 count=1 conv=fsync`, 20_000);
    expect(write.status).to.not.equal(0);
    await client.call('DetachVolume', { volumeId, instanceId: GUEST });
    await g.waitForDiskGone(disk);
  });

  it('leaves the volume deletable after the last detach', async () => {
    await client.call('DeleteVolume', { volumeId });
    expect((await faultOf(client.call('DescribeVolumes', { volumeSet: { item: [{ volumeId }] } }))).code).to.equal(
      'InvalidVolume.NotFound',
    );
  });
});
