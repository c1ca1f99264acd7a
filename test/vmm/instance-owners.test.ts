/**
 * Instances belong to users, as a user meets it: signed requests through the real frontend, with a
 * node of each driver (QEMU real; Xen and libvirt through the faithful fakes on their nodes' PATH).
 * Each node runs an instance its platform gave to alice, one it gave to nobody, and one it gave to
 * alice that an admin then gives to bob (vbs-admin instance set-owner). Bob cannot attach to or
 * detach from alice's instance and is told it does not exist, in the very words used for an instance
 * that does not exist, without its node being asked anything; alice can; an admin can; an instance
 * with no owner is for admins only; the admin's assignment wins over the node's report, also after
 * the node reports another owner.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ec2Client, faultOf, waitForVolume, type Ec2Client } from '../support/ec2-client.js';
import { ifMade } from '../support/if-made.js';
import {
  libvirtOwned,
  virshSetOwner,
  writeQemuOwner,
  xenOwned,
  xenstoreWriteOwner,
} from '../support/instance-owners.js';
import { startTestVm, type TestVm } from '../support/qemu-vm.js';
import { FAKE_BIN, REPO_ROOT } from '../support/repo.js';
import {
  startCluster,
  waitForInstances,
  type Cluster,
  type ServiceProcess,
  type TestUser,
} from '../support/services.js';
import { waitFor } from '../support/wait.js';

const ZONE = 'vbs-local-1a';
const ADMIN_BIN = join(REPO_ROOT, 'dist', 'src', 'cli', 'vbs-admin.js');
const UNKNOWN = 'i-doesnotexist00001';
/** Reported by the QEMU node as alice's and by the Xen node as bob's. */
const SHARED = 'i-sharedname000001';

interface Node {
  readonly driver: 'qemu' | 'xen' | 'libvirt';
  readonly vmmHost: string;
  /** The platform gave it to alice. */
  readonly alices: string;
  /** The platform gave it to nobody. */
  readonly nobodys: string;
  /** The platform gave it to alice; the admin gives it to bob. */
  readonly moved: string;
  readonly device: (letter: string) => string;
  /** What a platform does to say that `instanceId` belongs to `owner` now. */
  readonly setOwner: (instanceId: string, owner: string) => Promise<void>;
}

function vbsAdmin(home: string, args: readonly string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [ADMIN_BIN, '--home', home, ...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ status: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

describe('instances belong to users (QEMU, Xen and libvirt nodes)', function () {
  this.timeout(180_000);
  let cluster: Cluster | undefined;
  const clients: Partial<Record<TestUser, Ec2Client>> = {};
  const vms: TestVm[] = [];
  let xenState: string;
  let virshState: string;
  let qemuDir: string;
  const live = (): Cluster => cluster ?? expect.fail('no cluster');
  const as = (user: TestUser): Ec2Client => clients[user] ?? expect.fail(`no client for ${user}`);

  const nodes: Node[] = [
    {
      driver: 'qemu',
      vmmHost: 'vmm-1',
      alices: 'i-qalice000000001',
      nobodys: 'i-qnobody00000001',
      moved: 'i-qmoved000000001',
      device: (l) => `/dev/sd${l}`,
      setOwner: async (id, owner) => {
        writeQemuOwner(qemuDir, id, owner);
      },
    },
    {
      driver: 'xen',
      vmmHost: 'vmm-2',
      alices: 'i-xalice000000001',
      nobodys: 'i-xnobody00000001',
      moved: 'i-xmoved000000001',
      device: (l) => `/dev/xvd${l}`,
      setOwner: async (id, owner) => {
        const domains = (
          JSON.parse(readFileSync(join(xenState, 'domains.json'), 'utf8')) as {
            domains: { name: string; domid: number }[];
          }
        ).domains;
        await xenstoreWriteOwner(xenState, domains.find((d) => d.name === id)?.domid ?? -1, owner);
      },
    },
    {
      driver: 'libvirt',
      vmmHost: 'vmm-3',
      alices: 'i-lalice000000001',
      nobodys: 'i-lnobody00000001',
      moved: 'i-lmoved000000001',
      device: (l) => `/dev/vd${l}`,
      setOwner: (id, owner) => virshSetOwner(virshState, id, owner),
    },
  ];
  const [qemu, xen, libvirt] = nodes as [Node, Node, Node];

  before(async () => {
    xenState = mkdtempSync(join(tmpdir(), 'vbs-owners-xen-'));
    virshState = mkdtempSync(join(tmpdir(), 'vbs-owners-virsh-'));
    writeFileSync(
      join(xenState, 'domains.json'),
      JSON.stringify({
        domains: [
          { name: xen.alices, domid: 11, ...xenOwned('alice') },
          { name: xen.nobodys, domid: 12 },
          { name: xen.moved, domid: 13, ...xenOwned('alice') },
          { name: SHARED, domid: 14, ...xenOwned('bob') },
        ],
      }),
    );
    writeFileSync(join(xenState, 'xl.log'), '');
    writeFileSync(
      join(virshState, 'domains.json'),
      JSON.stringify({
        domains: [
          { name: libvirt.alices, ...libvirtOwned('alice') },
          { name: libvirt.nobodys },
          { name: libvirt.moved, ...libvirtOwned('alice') },
        ],
      }),
    );
    writeFileSync(join(virshState, 'virsh.log'), '');
    const c = await startCluster({
      vmms: [{}, { driver: 'xen' }, { driver: 'libvirt' }],
      env: {
        PATH: `${FAKE_BIN}:${process.env['PATH'] ?? ''}`,
        FAKE_XL_STATE: xenState,
        FAKE_XL_LOG: join(xenState, 'xl.log'),
        FAKE_VIRSH_STATE: virshState,
        FAKE_VIRSH_LOG: join(virshState, 'virsh.log'),
      },
      beforeRemove: async () => {
        await Promise.all(vms.map((v) => v.stop()));
      },
    });
    cluster = c;
    for (const user of ['alice', 'bob', 'admin'] as const) clients[user] = ec2Client(c, user);
    qemuDir = join(c.home, 'qemu', 'vmm-1');
    mkdirSync(qemuDir, { recursive: true });
    // The platform writes the owner file before it starts QEMU.
    for (const [id, owner] of [
      [qemu.alices, 'alice'],
      [qemu.moved, 'alice'],
      [SHARED, 'alice'],
    ] as const)
      writeQemuOwner(qemuDir, id, owner);
    for (const id of [qemu.alices, qemu.nobodys, qemu.moved, SHARED])
      vms.push(await startTestVm(qemuDir, id, { scsi: true }));
    const [v1, v2, v3] = c.vmms as [ServiceProcess, ServiceProcess, ServiceProcess];
    await waitForInstances(c, v1, [qemu.alices, qemu.nobodys, qemu.moved, SHARED]);
    await waitForInstances(c, v2, [xen.alices, xen.nobodys, xen.moved, SHARED]);
    await waitForInstances(c, v3, [libvirt.alices, libvirt.nobodys, libvirt.moved]);
  });
  after(async () => {
    for (const c of Object.values(clients)) c.close();
    await Promise.all(vms.map((v) => v.stop()));
    await ifMade(cluster)?.stop();
    rmSync(xenState, { recursive: true, force: true });
    rmSync(virshState, { recursive: true, force: true });
  });

  async function newVolume(user: TestUser): Promise<string> {
    const { volumeId } = await as(user).call('CreateVolume', { size: '1', availabilityZone: ZONE });
    await waitForVolume(as(user), volumeId, ['available']);
    return volumeId;
  }

  /** What the node's delegate logged about a volume: nothing, when it was never asked. */
  const nodeLinesAbout = (node: Node, volumeId: string): Record<string, unknown>[] =>
    live()
      .logLines(live().vmms[nodes.indexOf(node)] ?? expect.fail('no vmm'))
      .filter((l) => l['volumeId'] === volumeId);

  /** The fault bob gets for an instance ID, with the ID taken out of the message. */
  async function refusal(
    user: TestUser,
    call: 'AttachVolume',
    volumeId: string,
    instanceId: string,
    node: Node,
    vmmHost?: string,
  ): Promise<{ code: string; message: string }> {
    const f = await faultOf(
      as(user).call(call, {
        volumeId,
        instanceId,
        device: node.device('f'),
        ...(vmmHost !== undefined ? { vmmHost } : {}),
      }),
    );
    return { code: f.code, message: f.message.replace(instanceId, 'ID') };
  }

  for (const node of nodes) {
    describe(`${node.driver} node`, () => {
      it("refuses bob's attach to alice's instance exactly as to one that does not exist, without asking the node", async () => {
        const volumeId = await newVolume('bob');
        const none = await refusal('bob', 'AttachVolume', volumeId, UNKNOWN, node);
        expect(none.code).to.equal('InvalidInstanceID.NotFound');
        expect(await refusal('bob', 'AttachVolume', volumeId, node.alices, node)).to.deep.equal(none);
        expect(await refusal('bob', 'AttachVolume', volumeId, node.alices, node, node.vmmHost)).to.deep.equal(none);
        expect(await refusal('bob', 'AttachVolume', volumeId, UNKNOWN, node, node.vmmHost)).to.deep.equal(none);
        expect(nodeLinesAbout(node, volumeId)).to.deep.equal([]);
        expect(await waitForVolume(as('bob'), volumeId, ['available'])).to.equal('available');
      });

      it('lets alice attach to and detach from her instance', async () => {
        const volumeId = await newVolume('alice');
        const r = await as('alice').call('AttachVolume', {
          volumeId,
          instanceId: node.alices,
          device: node.device('b'),
        });
        expect(r).to.include({ status: 'attached', instanceId: node.alices });
        const d = await as('alice').call('DetachVolume', { volumeId });
        expect(d.instanceId).to.equal(node.alices);
        expect(await waitForVolume(as('alice'), volumeId, ['available'])).to.equal('available');
      });

      it("refuses bob's detach of his volume from alice's instance (an admin attached it), and lets the admin detach it", async () => {
        const volumeId = await newVolume('bob');
        const r = await as('admin').call('AttachVolume', {
          volumeId,
          instanceId: node.alices,
          device: node.device('c'),
        });
        expect(r.status).to.equal('attached');
        for (const req of [{ volumeId }, { volumeId, instanceId: node.alices }]) {
          const f = await faultOf(as('bob').call('DetachVolume', req));
          expect({ code: f.code, message: f.message }).to.deep.equal({
            code: 'InvalidInstanceID.NotFound',
            message: `The instance ID '${node.alices}' does not exist.`,
          });
        }
        const v = (await as('bob').call('DescribeVolumes', { volumeSet: { item: [{ volumeId }] } })).volumeSet
          .item?.[0];
        expect(v?.attachmentSet.item?.[0]).to.include({ instanceId: node.alices, status: 'attached' });
        await as('admin').call('DetachVolume', { volumeId });
        expect(await waitForVolume(as('bob'), volumeId, ['available'])).to.equal('available');
      });

      it('lets only an admin attach to an instance whose owner nobody knows', async () => {
        const volumeId = await newVolume('alice');
        const none = await refusal('alice', 'AttachVolume', volumeId, UNKNOWN, node);
        expect(await refusal('alice', 'AttachVolume', volumeId, node.nobodys, node)).to.deep.equal(none);
        expect(nodeLinesAbout(node, volumeId)).to.deep.equal([]);
        const r = await as('admin').call('AttachVolume', {
          volumeId,
          instanceId: node.nobodys,
          device: node.device('d'),
        });
        expect(r.status).to.equal('attached');
        const f = await faultOf(as('alice').call('DetachVolume', { volumeId }));
        expect(f.code).to.equal('InvalidInstanceID.NotFound');
        await as('admin').call('DetachVolume', { volumeId });
        expect(await waitForVolume(as('alice'), volumeId, ['available'])).to.equal('available');
      });

      it("changes who may by an admin's set-owner, which wins over the node's report", async () => {
        const alices = await newVolume('alice');
        const bobs = await newVolume('bob');
        const set = await vbsAdmin(live().home, ['instance', 'set-owner', node.moved, '--owner', 'bob']);
        expect(set.stderr).to.equal('');
        expect(set.stdout).to.include(
          `${node.moved} on ${node.vmmHost} belongs to bob now (before: alice, as its node reports it)`,
        );
        expect(await refusal('alice', 'AttachVolume', alices, node.moved, node)).to.deep.equal(
          await refusal('alice', 'AttachVolume', alices, UNKNOWN, node),
        );
        await as('bob').call('AttachVolume', { volumeId: bobs, instanceId: node.moved, device: node.device('e') });
        // The platform says carol now: the node reports it, and the admin's bob still wins.
        await node.setOwner(node.moved, 'carol');
        await waitFor(
          `${node.moved}'s node reporting carol`,
          async () => {
            const listed = await vbsAdmin(live().home, ['instance', 'list', '--json']);
            const rows = JSON.parse(listed.stdout) as { instanceId: string; reportedOwnerId: string | null }[];
            return rows.find((i) => i.instanceId === node.moved)?.reportedOwnerId;
          },
          (owner) => owner === 'carol',
        );
        await as('bob').call('DetachVolume', { volumeId: bobs });
        expect(await waitForVolume(as('bob'), bobs, ['available'])).to.equal('available');
        expect(
          (
            await faultOf(
              as('alice').call('AttachVolume', { volumeId: alices, instanceId: node.moved, device: node.device('e') }),
            )
          ).code,
        ).to.equal('InvalidInstanceID.NotFound');
        // An instance nobody owned: the admin gives it to bob, who may attach to it from now on.
        expect(
          (
            await vbsAdmin(live().home, [
              'instance',
              'set-owner',
              node.nobodys,
              '--node',
              node.vmmHost,
              '--owner',
              'bob',
            ])
          ).status,
        ).to.equal(0);
        await as('bob').call('AttachVolume', { volumeId: bobs, instanceId: node.nobodys, device: node.device('g') });
        await as('bob').call('DetachVolume', { volumeId: bobs });
        expect(await waitForVolume(as('bob'), bobs, ['available'])).to.equal('available');
      });
    });
  }

  it("never counts or names the nodes of other users' instances of the same ID", async () => {
    const alices = await newVolume('alice');
    const bobs = await newVolume('bob');
    // Two nodes report the ID, one for each: neither is told that the other's exists.
    const a = await as('alice').call('AttachVolume', { volumeId: alices, instanceId: SHARED, device: '/dev/sdb' });
    const b = await as('bob').call('AttachVolume', { volumeId: bobs, instanceId: SHARED, device: '/dev/xvdb' });
    expect([a.status, b.status]).to.deep.equal(['attached', 'attached']);
    const described = async (user: TestUser, volumeId: string): Promise<unknown> =>
      (await as(user).call('DescribeVolumes', { volumeSet: { item: [{ volumeId }] } })).volumeSet.item?.[0]
        ?.attachmentSet.item?.[0]?.vmmHost;
    expect(await described('alice', alices)).to.equal('vmm-1');
    expect(await described('bob', bobs)).to.equal('vmm-2');
    // An admin sees both, and must name one.
    const f = await faultOf(
      as('admin').call('AttachVolume', { volumeId: await newVolume('admin'), instanceId: SHARED, device: '/dev/sdc' }),
    );
    expect(f.code).to.equal('InvalidParameterCombination');
    await as('alice').call('DetachVolume', { volumeId: alices });
    await as('bob').call('DetachVolume', { volumeId: bobs });
  });
});
