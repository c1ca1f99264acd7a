/**
 * Kill -9 under load, then the promises of docs/architecture.md ("Nothing acknowledged is lost"):
 * a load of creates (sparse and zero-filled), snapshots and attaches to real QEMU VMs runs while, one
 * after another, a Volume Delegate (mid-job), the frontend (its primary and workers), the VMM Delegate
 * and a QEMU VM are killed with SIGKILL and the services restarted. Within 60 s of the last restart:
 *  - every acknowledged volume and snapshot is in its final state, or in error with a reason;
 *  - no row is in a transitional state (creating, pending, deleting, attaching, detaching);
 *  - every file in the storage root has a record, every finished record its file, no partial file
 *    is left;
 *  - no volume is attached read-write beside another attachment;
 *  - each running QEMU holds exactly the disks the records say, and the killed VM none.
 */
import { expect } from 'chai';
import Database from 'better-sqlite3';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { QmpClient } from '../../src/delegates/vmm/qmp-client.js';
import { readVbsBlockState } from '../../src/delegates/vmm/drivers/qemu-inspect.js';
import { ec2Client, type Ec2Client } from '../support/ec2-client.js';
import { ifMade } from '../support/if-made.js';
import { giveQemuInstances } from '../support/instance-owners.js';
import { startTestVm, type TestVm } from '../support/qemu-vm.js';
import { startCluster, waitForInstances, type Cluster, type ServiceProcess } from '../support/services.js';
import { waitFor } from '../support/wait.js';

const ZONE = 'vbs-local-1a';
const VMS = ['i-chaos00000000001', 'i-chaos00000000002'] as const;
const LOAD_MS = 24_000;
const DEVICES = ['/dev/sdb', '/dev/sdc', '/dev/sdd', '/dev/sde', '/dev/sdf', '/dev/sdg'];

interface Row {
  readonly id: string;
  readonly status: string;
  readonly status_message: string | null;
}

interface AttachmentRow {
  readonly volume_id: string;
  readonly instance_id: string;
  readonly status: string;
  readonly mode: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('kill -9 under load: nothing acknowledged is lost, nothing stays stuck', function () {
  this.timeout(240_000);
  let cluster: Cluster;
  let client: Ec2Client;
  const vms: TestVm[] = [];
  const acknowledged = { volumes: new Set<string>(), snapshots: new Set<string>(), attachments: 0 };

  before(async () => {
    cluster = await startCluster({
      delegates: 2,
      frontend: { workers: 2, volumeDelegateTimeoutSeconds: 3, vmmCallTimeoutSeconds: 5, jobDeadlineSeconds: 30 },
      delegate: () => ({ stallSeconds: 10 }),
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

  function db<T>(read: (conn: Database.Database) => T): T {
    const conn = new Database(join(cluster.home, 'vbs.sqlite'), { readonly: true });
    try {
      return read(conn);
    } finally {
      conn.close();
    }
  }

  /** Requests that may fail (a service is down); only what was answered counts. */
  async function load(until: number): Promise<void> {
    let n = 0;
    const used = new Map<string, number>();
    const loops = [
      async (): Promise<void> => {
        const volumeType = n++ % 3 === 0 ? 'zero' : 'sparse';
        const v = await client.call('CreateVolume', { size: '1', availabilityZone: ZONE, volumeType });
        acknowledged.volumes.add(v.volumeId);
      },
      async (): Promise<void> => {
        const available = db(
          (c) => c.prepare(`SELECT id FROM volumes WHERE status = 'available' LIMIT 5`).all() as Row[],
        );
        const pick = available[Math.floor(Math.random() * available.length)];
        if (!pick) return;
        const s = await client.call('CreateSnapshot', { volumeId: pick.id });
        acknowledged.snapshots.add(s.snapshotId);
      },
      async (): Promise<void> => {
        const available = db(
          (c) => c.prepare(`SELECT id FROM volumes WHERE status IN ('available', 'in-use') LIMIT 8`).all() as Row[],
        );
        const pick = available[Math.floor(Math.random() * available.length)];
        const instanceId = VMS[Math.floor(Math.random() * VMS.length)] ?? VMS[0];
        const next = used.get(instanceId) ?? 0;
        const device = DEVICES[next];
        if (!pick || device === undefined) return;
        used.set(instanceId, next + 1);
        await client.call('AttachVolume', {
          volumeId: pick.id,
          instanceId,
          device,
          attachMode: Math.random() < 0.5 ? 'ro' : 'rw',
        });
        acknowledged.attachments++;
      },
    ];
    await Promise.all(
      loops.map(async (step) => {
        while (Date.now() < until) {
          await step().catch(() => undefined);
          await sleep(150);
        }
      }),
    );
  }

  async function killAndRestart(service: ServiceProcess, downMs: number): Promise<void> {
    await cluster.kill(service, 'SIGKILL');
    await sleep(downMs);
    await cluster.restart(service);
  }

  it('keeps every promise after SIGKILL of a Volume Delegate, the frontend, the VMM Delegate and a VM', async () => {
    const started = Date.now();
    const loading = load(started + LOAD_MS);
    const vd1 = cluster.delegates[0] ?? expect.fail('no vd-1');
    const vmm = cluster.vmms[0] ?? expect.fail('no vmm');
    await sleep(3000);
    await killAndRestart(vd1, 2000);
    await sleep(2000);
    await killAndRestart(cluster.frontend, 1000);
    await sleep(2000);
    await killAndRestart(vmm, 1000);
    await sleep(2000);
    await (vms[1] ?? expect.fail('no vm')).kill();
    await loading;
    const lastRestart = Date.now();
    // The load really ran across the kills (what it did is printed, for the record of a run).
    console.log(
      `      load: ${acknowledged.volumes.size} volumes, ${acknowledged.snapshots.size} snapshots, ${acknowledged.attachments} attachments acknowledged`,
    );
    expect(acknowledged.volumes.size, 'volumes acknowledged').to.be.greaterThan(5);
    expect(acknowledged.snapshots.size, 'snapshots acknowledged').to.be.greaterThan(0);
    expect(acknowledged.attachments, 'attachments acknowledged').to.be.greaterThan(0);

    // Nothing stays in a transitional state.
    await waitFor(
      'no row in a transitional state',
      () =>
        db((c) => [
          ...(c.prepare(`SELECT id, status FROM volumes WHERE status IN ('creating', 'deleting')`).all() as Row[]),
          ...(c.prepare(`SELECT id, status FROM snapshots WHERE status IN ('pending', 'deleting')`).all() as Row[]),
          ...(c
            .prepare(`SELECT volume_id AS id, status FROM attachments WHERE status IN ('attaching', 'detaching')`)
            .all() as Row[]),
        ]),
      (rows) => rows.length === 0,
      60_000,
    );
    expect(Date.now() - lastRestart).to.be.lessThan(60_000);

    // Every acknowledged resource is final, or in error with a reason.
    const volumes = db((c) => c.prepare(`SELECT id, status, status_message FROM volumes`).all() as Row[]);
    const snapshots = db((c) => c.prepare(`SELECT id, status, status_message FROM snapshots`).all() as Row[]);
    const byId = new Map([...volumes, ...snapshots].map((r) => [r.id, r]));
    for (const id of [...acknowledged.volumes, ...acknowledged.snapshots]) {
      const row = byId.get(id) ?? expect.fail(`acknowledged ${id} has no record`);
      expect(['available', 'in-use', 'completed', 'error'], id).to.include(row.status);
      if (row.status === 'error') expect(row.status_message, `${id} is in error without a reason`).to.be.a('string');
    }

    // Every file has a record, every finished record its file, no partial file is left.
    const root = join(cluster.home, 'volumes');
    const files = ['volumes', 'snapshots'].flatMap((d) => readdirSync(join(root, d)));
    expect(
      files.filter((f) => f.endsWith('.part')),
      'partial files',
    ).to.deep.equal([]);
    const onDisk = new Set(files.map((f) => f.replace(/\.img$/, '')));
    for (const id of onDisk) {
      const row = byId.get(id);
      expect(row && row.status !== 'deleted', `file of ${id} has a record`).to.equal(true);
    }
    for (const r of [...volumes, ...snapshots])
      if (['available', 'in-use', 'completed'].includes(r.status))
        expect(onDisk.has(r.id), `${r.id}'s file`).to.equal(true);

    // The attach rules held, and QEMU holds what the records say.
    const live = db(
      (c) =>
        c
          .prepare(`SELECT volume_id, instance_id, status, mode FROM attachments WHERE status = 'attached'`)
          .all() as AttachmentRow[],
    );
    for (const v of new Set(live.map((a) => a.volume_id))) {
      const of = live.filter((a) => a.volume_id === v);
      if (of.some((a) => a.mode === 'rw')) expect(of, `${v} is attached read-write beside another`).to.have.length(1);
    }
    const alive = vms[0] ?? expect.fail('no vm');
    const qmp = await QmpClient.connect(alive.socket, { timeoutMs: 5000 });
    try {
      const held = (await readVbsBlockState(qmp)).disks.map((d) => `${d.volumeId}:${d.mode}`).sort();
      const recorded = live
        .filter((a) => a.instance_id === alive.id)
        .map((a) => `${a.volume_id}:${a.mode}`)
        .sort();
      expect(held, `what ${alive.id} holds`).to.deep.equal(recorded);
    } finally {
      await qmp.close();
    }
    expect(
      live.filter((a) => a.instance_id === VMS[1]),
      'the killed VM holds nothing',
    ).to.deep.equal([]);
  });
});
