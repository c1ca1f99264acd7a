/**
 * Several hypervisor nodes at once, of different kinds: a QEMU node and a Xen node (the faithful fake
 * xl on the Xen node's PATH, as xl cannot run here). The frontend finds each instance's node by
 * itself; an instance ID that two nodes report needs vmmHost; attach and detach reach the right
 * hypervisor with the right command.
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, waitForInstances, type Cluster } from '../support/services.js';
import { ec2Client, faultOf, waitForVolume, type Ec2Client } from '../support/ec2-client.js';
import { startTestVm, type TestVm } from '../support/qemu-vm.js';
import { FAKE_BIN } from '../support/repo.js';
import { ifMade } from '../support/if-made.js';
import { giveQemuInstances, xenOwned } from '../support/instance-owners.js';

const ZONE = 'vbs-local-1a';
const SHARED_NAME = 'i-web0000000000001';

describe('several hypervisor nodes (QEMU and Xen)', function () {
  this.timeout(120_000);
  let cluster: Cluster;
  let client: Ec2Client;
  let xenState: string;
  const vms: TestVm[] = [];

  const xlCalls = (): string[][] =>
    readFileSync(join(xenState, 'xl.log'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as string[]);

  before(async () => {
    xenState = mkdtempSync(join(tmpdir(), 'vbs-xen-node-'));
    // The Xen node runs two domains; one has the same name as the QEMU node's instance.
    writeFileSync(
      join(xenState, 'domains.json'),
      JSON.stringify({
        domains: [
          { name: SHARED_NAME, disks: [], ...xenOwned('alice') },
          { name: 'i-xenonly000000001', disks: [], ...xenOwned('alice') },
        ],
      }),
    );
    writeFileSync(join(xenState, 'xl.log'), '');
    cluster = await startCluster({
      vmms: [{}, { driver: 'xen' }],
      env: {
        PATH: `${FAKE_BIN}:${process.env['PATH'] ?? ''}`,
        FAKE_XL_STATE: xenState,
        FAKE_XL_LOG: join(xenState, 'xl.log'),
      },
      beforeRemove: async () => {
        await Promise.all(vms.map((v) => v.stop()));
      },
    });
    client = ec2Client(cluster);
    const dir = join(cluster.home, 'qemu', 'vmm-1');
    giveQemuInstances(dir, 'alice', [SHARED_NAME]);
    vms.push(await startTestVm(dir, SHARED_NAME, { scsi: true }));
    await waitForInstances(cluster, cluster.vmms[0] ?? expect.fail('no qemu node'), [SHARED_NAME]);
    await waitForInstances(cluster, cluster.vmms[1] ?? expect.fail('no xen node'), [SHARED_NAME, 'i-xenonly000000001']);
  });
  after(async () => {
    ifMade(client)?.close();
    await Promise.all(vms.map((v) => v.stop()));
    await ifMade(cluster)?.stop();
    rmSync(xenState, { recursive: true, force: true });
  });

  async function newVolume(): Promise<string> {
    const { volumeId } = await client.call('CreateVolume', { size: '1', availabilityZone: ZONE });
    await waitForVolume(client, volumeId, ['available']);
    return volumeId;
  }

  it("finds an instance's node by itself, and attaches through xl block-attach on a Xen node", async () => {
    const volumeId = await newVolume();
    const r = await client.call('AttachVolume', {
      volumeId,
      instanceId: 'i-xenonly000000001',
      device: '/dev/xvdb',
      attachMode: 'ro',
    });
    expect(r).to.include({ status: 'attached', attachMode: 'ro' });
    const file = join(cluster.home, 'volumes', 'volumes', `${volumeId}.img`);
    expect(xlCalls()).to.deep.include([
      'block-attach',
      'i-xenonly000000001',
      `format=raw,vdev=xvdb,access=ro,target=${file}`,
    ]);
    const v = (await client.call('DescribeVolumes', { volumeSet: { item: [{ volumeId }] } })).volumeSet.item?.[0];
    expect(v?.attachmentSet.item?.[0]).to.include({
      instanceId: 'i-xenonly000000001',
      vmmHost: 'vmm-2',
      attachMode: 'ro',
    });
    await client.call('DetachVolume', { volumeId });
    expect(xlCalls()).to.deep.include(['block-detach', 'i-xenonly000000001', 'xvdb']);
    expect(await waitForVolume(client, volumeId, ['available'])).to.equal('available');
  });

  it('needs vmmHost for an instance ID that two nodes report, and then uses that node', async () => {
    const volumeId = await newVolume();
    const fault = await faultOf(client.call('AttachVolume', { volumeId, instanceId: SHARED_NAME, device: '/dev/sdb' }));
    expect(fault.code).to.equal('InvalidParameterCombination');
    expect(fault.message).to.include('vmm-1').and.include('vmm-2');
    const r = await client.call('AttachVolume', {
      volumeId,
      instanceId: SHARED_NAME,
      device: '/dev/sdb',
      vmmHost: 'vmm-1',
    });
    expect(r.status).to.equal('attached');
    expect(xlCalls().some((c) => c[0] === 'block-attach' && c[1] === SHARED_NAME)).to.equal(false);
    await client.call('DetachVolume', { volumeId });
  });
});
