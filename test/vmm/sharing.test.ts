/**
 * Read-only sharing (paper 4.3) through the real services and real QEMU instances: the QuakeSim case
 * (one data set attached read-only to three analysis VMs, a private read-write volume for each), the
 * rules under concurrency, and AttachVolume's failures leaving nothing behind.
 */
import { expect } from 'chai';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startCluster, waitForInstances, type Cluster } from '../support/services.js';
import { ec2Client, faultOf, waitForVolume, type Ec2Client } from '../support/ec2-client.js';
import { startTestVm, type TestVm } from '../support/qemu-vm.js';
import { SoapFault } from '../../src/soap/client.js';
import { ifMade } from '../support/if-made.js';
import { giveQemuInstances } from '../support/instance-owners.js';

const ZONE = 'vbs-local-1a';
const VMS = ['i-quake0000000001', 'i-quake0000000002', 'i-quake0000000003'] as const;

describe('read-only sharing and attach rules (QEMU instances)', function () {
  this.timeout(120_000);
  let cluster: Cluster;
  let client: Ec2Client;
  const vms: TestVm[] = [];

  async function newVolume(size = '1'): Promise<string> {
    const { volumeId } = await client.call('CreateVolume', { size, availabilityZone: ZONE });
    await waitForVolume(client, volumeId, ['available']);
    return volumeId;
  }

  async function attachments(volumeId: string): Promise<{ instanceId: string; mode: string; status: string }[]> {
    const v = (await client.call('DescribeVolumes', { volumeSet: { item: [{ volumeId }] } })).volumeSet.item?.[0];
    return (v?.attachmentSet.item ?? []).map((a) => ({
      instanceId: a.instanceId,
      mode: a.attachMode ?? '',
      status: a.status,
    }));
  }

  before(async () => {
    cluster = await startCluster({
      vmms: [{}],
      beforeRemove: async () => {
        await Promise.all(vms.map((v) => v.stop()));
      },
    });
    client = ec2Client(cluster);
    const dir = join(cluster.home, 'qemu', 'vmm-1');
    giveQemuInstances(dir, 'alice', VMS);
    for (const id of VMS) vms.push(await startTestVm(dir, id, { scsi: true }));
    await waitForInstances(cluster, cluster.vmms[0] ?? expect.fail('no vmm'), VMS);
  });
  after(async () => {
    ifMade(client)?.close();
    await Promise.all(vms.map((v) => v.stop()));
    await ifMade(cluster)?.stop();
  });

  it('QuakeSim: one data volume read-only on three instances, a private read-write volume on each', async () => {
    const data = await newVolume('2');
    const privates = [await newVolume(), await newVolume(), await newVolume()];
    for (const [i, id] of VMS.entries()) {
      await client.call('AttachVolume', { volumeId: data, instanceId: id, device: '/dev/sdb', attachMode: 'ro' });
      await client.call('AttachVolume', { volumeId: privates[i] ?? '', instanceId: id, device: '/dev/sdc' });
    }
    expect((await attachments(data)).map((a) => `${a.instanceId}:${a.mode}:${a.status}`).sort()).to.deep.equal(
      VMS.map((id) => `${id}:ro:attached`),
    );
    for (const [i, id] of VMS.entries())
      expect(await attachments(privates[i] ?? '')).to.deep.equal([{ instanceId: id, mode: 'rw', status: 'attached' }]);
    // The shared data set cannot be taken read-write, and a private volume cannot be shared.
    expect(
      (await faultOf(client.call('AttachVolume', { volumeId: data, instanceId: VMS[0], device: '/dev/sdd' }))).code,
    ).to.equal('VolumeInUse');
    expect(
      (
        await faultOf(
          client.call('AttachVolume', {
            volumeId: privates[0] ?? '',
            instanceId: VMS[1],
            device: '/dev/sdd',
            attachMode: 'ro',
          }),
        )
      ).code,
    ).to.equal('VolumeInUse');
    // One instance cannot use a device twice.
    const extra = await newVolume();
    expect(
      (await faultOf(client.call('AttachVolume', { volumeId: extra, instanceId: VMS[0], device: '/dev/sdb' }))).code,
    ).to.equal('InvalidParameterValue');
    expect(await attachments(extra)).to.deep.equal([]);
    // Detaching from several instances needs the instance named.
    expect((await faultOf(client.call('DetachVolume', { volumeId: data }))).code).to.equal(
      'InvalidParameterCombination',
    );
    for (const [i, id] of VMS.entries()) {
      await client.call('DetachVolume', { volumeId: data, instanceId: id });
      await client.call('DetachVolume', { volumeId: privates[i] ?? '' });
    }
    for (const v of [data, ...privates]) expect(await waitForVolume(client, v, ['available'])).to.equal('available');
  });

  it('gives 100 concurrent AttachVolume calls for one volume exactly one read-write winner or only read-only ones', async () => {
    for (const round of [0, 1]) {
      const volumeId = await newVolume();
      const calls = Array.from({ length: 100 }, (_, i) =>
        client
          .call('AttachVolume', {
            volumeId,
            instanceId: VMS[i % VMS.length] ?? VMS[0],
            device: `/dev/sd${'efg'[i % 3] ?? 'e'}`,
            attachMode: (i + round) % 2 === 0 ? 'rw' : 'ro',
          })
          .then(
            () => 'ok',
            (e: unknown) => (e instanceof SoapFault ? e.code : String(e)),
          ),
      );
      const results = await Promise.all(calls);
      const live = await attachments(volumeId);
      expect(results.filter((r) => r === 'ok').length).to.equal(live.length);
      expect(results.filter((r) => r !== 'ok').every((r) => r === 'VolumeInUse')).to.equal(true);
      const modes = live.map((a) => a.mode);
      expect(
        (modes.length === 1 && modes[0] === 'rw') || (modes.length >= 1 && modes.every((m) => m === 'ro')),
        JSON.stringify(live),
      ).to.equal(true);
      for (const a of live) await client.call('DetachVolume', { volumeId, instanceId: a.instanceId });
    }
  });

  it('fails cleanly when the hypervisor refuses: no attachment record, the volume available again', async () => {
    const volumeId = await newVolume();
    // Another QEMU, outside VBS, holds the volume file read-write: QEMU's image lock refuses a second writer.
    const dir = join(cluster.home, 'qemu', 'outside');
    mkdirSync(dir, { recursive: true });
    const holder = await startTestVm(dir, 'i-holder000000001', { scsi: true });
    vms.push(holder);
    const { QemuDriver } = await import('../../src/delegates/vmm/drivers/qemu.js');
    const outside = new QemuDriver({ socketDir: dir });
    await outside.attach({
      instanceId: 'i-holder000000001',
      volumeId,
      path: join(cluster.home, 'volumes', 'volumes', `${volumeId}.img`),
      device: '/dev/sdb',
      mode: 'rw',
    });
    const fault = await faultOf(client.call('AttachVolume', { volumeId, instanceId: VMS[0], device: '/dev/sdh' }));
    expect(fault.code).to.equal('VolumeInUse');
    expect(fault.message).to.not.match(/lock|qemu|\/tmp\//i);
    expect(await attachments(volumeId)).to.deep.equal([]);
    expect(await waitForVolume(client, volumeId, ['available'])).to.equal('available');
    await outside.close();
    await holder.stop();
  });

  it('fails cleanly when the VMM Delegate is down: Unavailable, no record, the volume available', async () => {
    const volumeId = await newVolume();
    const vmm = cluster.vmms[0] ?? expect.fail('no vmm');
    await cluster.kill(vmm, 'SIGKILL');
    try {
      const fault = await faultOf(client.call('AttachVolume', { volumeId, instanceId: VMS[1], device: '/dev/sdh' }));
      expect(fault.code).to.equal('Unavailable');
      expect(fault.faultcode).to.equal('soap:Server.Unavailable');
      expect(await attachments(volumeId)).to.deep.equal([]);
      expect(await waitForVolume(client, volumeId, ['available'])).to.equal('available');
    } finally {
      await cluster.restart(vmm);
    }
  });
});
