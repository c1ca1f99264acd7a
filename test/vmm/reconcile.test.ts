/**
 * A VMM Delegate that restarts reconciles with the frontend: attachments the hypervisor no longer has
 * end (logged, and the volume is available again), disks it has without a record are adopted when the
 * rules allow or detached from the hypervisor; an instance that went away takes its attachments along;
 * a QEMU block node left by a crash between blockdev-add and device_add is removed.
 */
import { expect } from 'chai';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startCluster, waitForInstances, type Cluster } from '../support/services.js';
import { ec2Client, waitForVolume, type Ec2Client } from '../support/ec2-client.js';
import { waitFor } from '../support/wait.js';
import { startTestVm, type TestVm } from '../support/qemu-vm.js';
import { QemuDriver } from '../../src/delegates/vmm/drivers/qemu.js';
import { QmpClient } from '../../src/delegates/vmm/qmp-client.js';
import { ifMade } from '../support/if-made.js';
import { giveQemuInstances } from '../support/instance-owners.js';

const ZONE = 'vbs-local-1a';

/** The VBS block nodes a VM has, asked over its QMP socket as an operator would. */
async function vbsNodes(socket: string): Promise<string[]> {
  const qmp = await QmpClient.connect(socket, { timeoutMs: 2000 });
  try {
    const list = await qmp.execute('query-named-block-nodes', { flat: true });
    return (Array.isArray(list) ? list : [])
      .map((n: unknown) => (typeof n === 'object' && n !== null && 'node-name' in n ? String(n['node-name']) : ''))
      .filter((n) => n.startsWith('vbs-'));
  } finally {
    await qmp.close();
  }
}
const A = 'i-recon0000000001';
const B = 'i-recon0000000002';

describe('VMM Delegate restart: reconciliation', function () {
  this.timeout(120_000);
  // Undefined when before() failed: the tests then say so, and after() cleans up what was made.
  let cluster: Cluster | undefined;
  let client: Ec2Client | undefined;
  const live = (): Cluster => cluster ?? expect.fail('no cluster');
  const api = (): Ec2Client => client ?? expect.fail('no client');
  let dir: string;
  const vms: TestVm[] = [];

  async function newVolume(): Promise<string> {
    const { volumeId } = await api().call('CreateVolume', { size: '1', availabilityZone: ZONE });
    await waitForVolume(api(), volumeId, ['available']);
    return volumeId;
  }
  const describe1 = async (volumeId: string) =>
    (await api().call('DescribeVolumes', { volumeSet: { item: [{ volumeId }] } })).volumeSet.item?.[0];
  const fileOf = (volumeId: string): string => join(live().home, 'volumes', 'volumes', `${volumeId}.img`);

  before(async () => {
    const c = await startCluster({
      vmms: [{}],
      beforeRemove: async () => {
        await Promise.all(vms.map((v) => v.stop()));
      },
    });
    cluster = c;
    client = ec2Client(c);
    dir = join(c.home, 'qemu', 'vmm-1');
    mkdirSync(dir, { recursive: true });
    giveQemuInstances(dir, 'alice', [A, B]);
    vms.push(await startTestVm(dir, A, { scsi: true }), await startTestVm(dir, B, { scsi: true }));
    await waitForInstances(c, c.vmms[0] ?? expect.fail('no vmm'), [A, B]);
  });
  after(async () => {
    ifMade(client)?.close();
    await Promise.all(vms.map((v) => v.stop()));
    await ifMade(cluster)?.stop();
  });

  it('repairs what changed behind its back while it was down, and says so', async () => {
    const lost = await newVolume();
    const stray = await newVolume();
    await api().call('AttachVolume', { volumeId: lost, instanceId: A, device: '/dev/sdb' });
    const vmm = live().vmms[0] ?? expect.fail('no vmm');
    await live().kill(vmm, 'SIGKILL');
    // While the delegate is down, an operator removes one disk and plugs in two by hand.
    const hand = new QemuDriver({ socketDir: dir });
    await hand.detach({ instanceId: A, volumeId: lost, device: '/dev/sdb', force: false });
    await hand.attach({ instanceId: B, volumeId: stray, path: fileOf(stray), device: '/dev/sdc', mode: 'ro' });
    const unknownVolume = 'vol-0000000000000dead';
    await hand.attach({ instanceId: B, volumeId: unknownVolume, path: fileOf(stray), device: '/dev/sdd', mode: 'ro' });
    await live().restart(vmm);

    const lostView = await waitFor(
      'lost attachment ended',
      () => describe1(lost),
      (v) => v?.status === 'available',
      20_000,
    );
    expect(lostView?.attachmentSet.item ?? []).to.deep.equal([]);
    const adopted = await waitFor(
      'stray adopted',
      () => describe1(stray),
      (v) => v?.status === 'in-use',
      20_000,
    );
    expect(adopted?.attachmentSet.item?.[0]).to.include({
      instanceId: B,
      device: '/dev/sdc',
      attachMode: 'ro',
      status: 'attached',
    });
    await waitFor(
      'unknown disk detached',
      async () => (await hand.listInstances()).find((i) => i.instanceId === B)?.disks.map((d) => d.volumeId) ?? [],
      (ids) => !ids.includes(unknownVolume),
      20_000,
    );
    // Each repair is logged (the file transport writes a moment after the repair is done).
    const logged = (message: string): Promise<Record<string, unknown> | undefined> =>
      waitFor(
        message,
        async () =>
          live()
            .logLines(live().frontend)
            .find((l) => String(l['message']).startsWith(message)),
        (l) => l !== undefined,
        10_000,
      );
    expect(await logged('attachment lost: marked detached')).to.include({ volumeId: lost, instanceId: A });
    expect(await logged('attachment adopted')).to.include({ volumeId: stray, instanceId: B });
    expect(await logged('stray disk detached')).to.include({ volumeId: unknownVolume, instanceId: B });
    await api().call('DetachVolume', { volumeId: stray });
    await hand.close();
  });

  it('removes a block node that a crash between blockdev-add and device_add left, and says so', async () => {
    const volumeId = await newVolume();
    const vmm = live().vmms[0] ?? expect.fail('no vmm');
    const vm = vms[1] ?? expect.fail('no vm B');
    await live().kill(vmm, 'SIGKILL');
    // Exactly what the delegate leaves when it dies between the two QMP commands of an attach.
    const qmp = await QmpClient.connect(vm.socket, { timeoutMs: 2000 });
    try {
      await qmp.execute('blockdev-add', {
        driver: 'raw',
        'node-name': `vbs-${volumeId}`,
        'read-only': false,
        file: { driver: 'file', filename: fileOf(volumeId), 'read-only': false },
      });
    } finally {
      await qmp.close();
    }
    expect(await vbsNodes(vm.socket)).to.deep.equal([`vbs-${volumeId}`]);
    await live().restart(vmm);
    await waitFor(
      'orphan node removed',
      () => vbsNodes(vm.socket),
      (n) => n.length === 0,
      20_000,
    );
    const line = await waitFor(
      'logged',
      async () =>
        live()
          .logLines(vmm)
          .find((l) => String(l['message']).startsWith('orphan block node removed') && l['volumeId'] === volumeId),
      (l) => l !== undefined,
      10_000,
    );
    expect(line).to.include({ instanceId: B, nodeName: `vbs-${volumeId}` });
    // Nothing of it reached the user: the volume stayed available, and attaches as usual.
    expect((await describe1(volumeId))?.status).to.equal('available');
    const r = await api().call('AttachVolume', { volumeId, instanceId: B, device: '/dev/sdf' });
    expect(r.status).to.equal('attached');
    await api().call('DetachVolume', { volumeId });
  });

  it('ends the attachments of an instance that went away', async () => {
    const volumeId = await newVolume();
    await api().call('AttachVolume', { volumeId, instanceId: A, device: '/dev/sde' });
    const vm = vms[0] ?? expect.fail('no vm');
    await vm.stop();
    const view = await waitFor(
      'attachment ended',
      () => describe1(volumeId),
      (v) => v?.status === 'available',
      20_000,
    );
    expect(view?.attachmentSet.item ?? []).to.deep.equal([]);
  });
});
