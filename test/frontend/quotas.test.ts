/**
 * Per-user quotas through the real services: a frontend on two workers (two processes, two store
 * connections, as `vbs-server frontend` runs), its quota defaults from its config, and vbs-admin
 * changing a user's quota while it runs. 100 concurrent creates never get more than the quota; a
 * deleted volume no longer counts; an override takes effect on the next request.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { SoapFault } from '../../src/soap/client.js';
import { ec2Client, faultOf, waitForSnapshot, waitForVolume, type Ec2Client } from '../support/ec2-client.js';
import { ifMade } from '../support/if-made.js';
import { REPO_ROOT } from '../support/repo.js';
import { startCluster, type Cluster } from '../support/services.js';

const ZONE = 'vbs-local-1a';
const ADMIN_BIN = join(REPO_ROOT, 'dist', 'src', 'cli', 'vbs-admin.js');

function vbsAdmin(home: string, args: readonly string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [ADMIN_BIN, ...args],
      { env: { ...process.env, VBS_HOME: home }, timeout: 30_000 },
      (error, stdout, stderr) => {
        resolve({ status: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
      },
    );
  });
}

/** The outcome of each call: 'ok', or the fault's code. */
async function outcomes(calls: readonly Promise<unknown>[]): Promise<string[]> {
  const settled = await Promise.allSettled(calls);
  return settled.map((s) => {
    if (s.status === 'fulfilled') return 'ok';
    if (s.reason instanceof SoapFault) return s.reason.code;
    throw s.reason;
  });
}

function count(values: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

describe('quotas through the real frontend (two workers) and vbs-admin', function () {
  this.timeout(120_000);
  let cluster: Cluster;
  let alice: Ec2Client;
  let bob: Ec2Client;

  const aliceVolumes = async (): Promise<string[]> =>
    ((await alice.call('DescribeVolumes', { volumeSet: {} })).volumeSet.item ?? []).map((v) => v.volumeId);

  before(async () => {
    cluster = await startCluster({
      frontend: { workers: 2, quotaVolumes: 5, quotaGiB: 1000, quotaSnapshots: 3 },
    });
    alice = ec2Client(cluster, 'alice');
    bob = ec2Client(cluster, 'bob');
  });
  after(async () => {
    ifMade(alice)?.close();
    ifMade(bob)?.close();
    await ifMade(cluster)?.stop();
  });

  it('gives 100 concurrent CreateVolume calls exactly the quota, and VolumeLimitExceeded to the rest', async () => {
    const results = await outcomes(
      Array.from({ length: 100 }, () => alice.call('CreateVolume', { size: '1', availabilityZone: ZONE })),
    );
    expect(count(results)).to.deep.equal({ ok: 5, VolumeLimitExceeded: 95 });
    // Both workers (two processes, two store connections) took part.
    const creates = cluster.logLines(cluster.frontend).filter((l) => l['operation'] === 'CreateVolume');
    expect(new Set(creates.map((l) => l['worker'])).size).to.equal(2);
    const held = await aliceVolumes();
    expect(held).to.have.length(5);
    for (const id of held) await waitForVolume(alice, id, ['available']);
    // The fault is a Client fault that says what to do.
    const fault = await faultOf(alice.call('CreateVolume', { size: '1', availabilityZone: ZONE }));
    expect(fault.faultcode).to.match(/Client\.VolumeLimitExceeded$/);
    expect(fault.message).to.include('5 of the 5 volumes');
    // Another user's quota is its own.
    expect((await bob.call('CreateVolume', { size: '1', availabilityZone: ZONE })).status).to.equal('creating');
  });

  it('no longer counts a deleted volume, and applies vbs-admin quota set at once', async () => {
    const [first] = await aliceVolumes();
    await alice.call('DeleteVolume', { volumeId: first ?? '' });
    const again = await alice.call('CreateVolume', { size: '1', availabilityZone: ZONE });
    expect(again.status).to.equal('creating');
    expect((await faultOf(alice.call('CreateVolume', { size: '1', availabilityZone: ZONE }))).code).to.equal(
      'VolumeLimitExceeded',
    );

    const set = await vbsAdmin(cluster.home, ['quota', 'set', 'alice', '--volumes', '7']);
    expect(set.status, set.stderr).to.equal(0);
    expect(set.stdout).to.match(/volumes\s+7\s+override\s+5/);
    const results = await outcomes(
      Array.from({ length: 10 }, () => alice.call('CreateVolume', { size: '1', availabilityZone: ZONE })),
    );
    expect(count(results)).to.deep.equal({ ok: 2, VolumeLimitExceeded: 8 });

    const shown = await vbsAdmin(cluster.home, ['quota', 'show', 'alice', '--json']);
    expect(shown.status, shown.stderr).to.equal(0);
    expect(JSON.parse(shown.stdout)).to.deep.include({
      userId: 'alice',
      quotas: [
        { kind: 'volumes', limit: 7, setBy: 'override', held: 7 },
        { kind: 'gib', limit: 1000, setBy: 'default', held: 7 },
        { kind: 'snapshots', limit: 3, setBy: 'default', held: 0 },
      ],
    });
  });

  it('limits the GiB of all volumes of a user', async () => {
    expect((await vbsAdmin(cluster.home, ['quota', 'set', 'bob', '--gib', '10'])).status).to.equal(0);
    // bob holds 1 GiB from the first test.
    const fault = await faultOf(bob.call('CreateVolume', { size: '10', availabilityZone: ZONE }));
    expect(fault.code).to.equal('VolumeLimitExceeded');
    expect(fault.message).to.include('quota of 10 GiB').and.include('1 GiB held');
    expect((await bob.call('CreateVolume', { size: '9', availabilityZone: ZONE })).status).to.equal('creating');
  });

  it('gives 20 concurrent CreateSnapshot calls exactly the quota, and SnapshotLimitExceeded to the rest', async () => {
    const [volumeId = ''] = await aliceVolumes();
    await waitForVolume(alice, volumeId, ['available']);
    const results = await outcomes(Array.from({ length: 20 }, () => alice.call('CreateSnapshot', { volumeId })));
    expect(count(results)).to.deep.equal({ ok: 3, SnapshotLimitExceeded: 17 });
    const snapshots = (await alice.call('DescribeSnapshots', { snapshotSet: {} })).snapshotSet.item;
    expect(snapshots).to.have.length(3);
    for (const s of snapshots ?? []) await waitForSnapshot(alice, s.snapshotId, ['completed']);
  });
});
