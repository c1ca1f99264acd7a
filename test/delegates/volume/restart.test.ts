/**
 * Crashes of the Volume Delegate in the middle of work: kill -9 during a large "zero" creation. The
 * volume must end available or error, never stuck; no volume file may be left without a record.
 */
import { expect } from 'chai';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startCluster, type Cluster } from '../../support/services.js';
import { ec2Client, faultOf, waitForVolume, type Ec2Client } from '../../support/ec2-client.js';
import { waitFor } from '../../support/wait.js';
import { partialSizeOf } from '../../support/partial-files.js';

const ZONE = 'vbs-local-1a';

/** The resource each file on disk belongs to: its own file (ID.img) or a job's partial one (ID.job-….part). */
function filesOnDisk(cluster: Cluster): string[] {
  return ['volumes', 'snapshots'].flatMap((d) =>
    readdirSync(join(cluster.home, 'volumes', d)).map((f) => f.split('.')[0] ?? f),
  );
}

async function recordedIds(client: Ec2Client): Promise<string[]> {
  const v = await client.call('DescribeVolumes', { volumeSet: {} });
  const s = await client.call('DescribeSnapshots', { snapshotSet: {} });
  return [...(v.volumeSet.item ?? []).map((i) => i.volumeId), ...(s.snapshotSet.item ?? []).map((i) => i.snapshotId)];
}

describe('Volume Delegate crash and restart', function () {
  this.timeout(120_000);
  let cluster: Cluster;
  let client: Ec2Client;

  beforeEach(async () => {
    cluster = await startCluster({ frontend: { jobDeadlineSeconds: 4 } });
    client = ec2Client(cluster);
  });
  afterEach(async () => {
    client.close();
    await cluster.stop();
  });

  async function killMidway(sizeGiB: number): Promise<string> {
    const { volumeId } = await client.call('CreateVolume', {
      size: String(sizeGiB),
      availabilityZone: ZONE,
      volumeType: 'zero',
    });
    // Wait until dd has really written something, so the kill lands in the middle of the job.
    await waitFor(
      'zero-fill under way',
      () => partialSizeOf(join(cluster.home, 'volumes', 'volumes'), volumeId),
      (n) => n > 64 * 1024 * 1024,
    );
    const delegate = cluster.delegates[0];
    if (!delegate) throw new Error('no delegate');
    await cluster.kill(delegate, 'SIGKILL');
    expect(await waitForVolume(client, volumeId, ['creating'])).to.equal('creating');
    return volumeId;
  }

  it('finishes the interrupted creation after a restart: the volume ends available, full size, and reported', async () => {
    const volumeId = await killMidway(3);
    const delegate = cluster.delegates[0];
    if (!delegate) throw new Error('no delegate');
    await cluster.restart(delegate);
    expect(await waitForVolume(client, volumeId, ['available', 'error'], 90_000)).to.equal('available');
    expect(statSync(join(cluster.home, 'volumes', 'volumes', `${volumeId}.img`)).size).to.equal(3 * 1024 ** 3);
    const recovery = cluster
      .logLines(delegate)
      .find((l) => l['message'] === 'job interrupted by a restart; starting it again');
    expect(recovery?.['resourceId']).to.equal(volumeId);
    const recorded = await recordedIds(client);
    for (const f of filesOnDisk(cluster)) expect(recorded, `file ${f} has no record`).to.include(f);
  });

  it('fails a creation that no delegate finishes, by the deadline, and then the file can be deleted with its volume', async () => {
    const volumeId = await killMidway(3);
    expect(await waitForVolume(client, volumeId, ['available', 'error'], 30_000)).to.equal('error');
    const delegate = cluster.delegates[0];
    if (!delegate) throw new Error('no delegate');
    await cluster.restart(delegate);
    // The delegate's retried job may still make the file; the record exists, so it is not lost.
    for (const f of filesOnDisk(cluster)) expect(await recordedIds(client), `file ${f} has no record`).to.include(f);
    await client.call('DeleteVolume', { volumeId });
    await waitFor(
      'file removed',
      async () => filesOnDisk(cluster),
      (files) => !files.includes(volumeId),
      30_000,
    );
    expect(await recordedIds(client)).to.not.include(volumeId);
  });

  it('refuses creation with Unavailable when no delegate answers, and keeps no record', async () => {
    const delegate = cluster.delegates[0];
    if (!delegate) throw new Error('no delegate');
    await cluster.kill(delegate, 'SIGKILL');
    const before = await recordedIds(client);
    const fault = await faultOf(client.call('CreateVolume', { size: '1', availabilityZone: ZONE }));
    expect(fault.code).to.equal('Unavailable');
    expect(await recordedIds(client)).to.deep.equal(before);
  });

  it('accepts a deletion while no delegate answers, keeps the volume deleting, and finishes when one is back', async () => {
    const { volumeId } = await client.call('CreateVolume', { size: '1', availabilityZone: ZONE });
    expect(await waitForVolume(client, volumeId, ['available'])).to.equal('available');
    const delegate = cluster.delegates[0];
    if (!delegate) throw new Error('no delegate');
    await cluster.kill(delegate, 'SIGKILL');
    const answer = await client.call('DeleteVolume', { volumeId });
    expect(answer.return).to.equal(true);
    expect(await waitForVolume(client, volumeId, ['deleting'])).to.equal('deleting');
    expect(filesOnDisk(cluster)).to.include(volumeId);
    await cluster.restart(delegate);
    await waitFor(
      'volume gone',
      () => recordedIds(client),
      (ids) => !ids.includes(volumeId),
      30_000,
    );
    expect(filesOnDisk(cluster)).to.not.include(volumeId);
  });
});
