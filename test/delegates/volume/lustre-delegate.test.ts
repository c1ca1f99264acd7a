/**
 * A Volume Delegate whose storage root is on Lustre, with a faithful fake `lfs` on PATH: new volume
 * files get the paper's layout (4 MiB stripes over 2 OSTs) and free space comes from `lfs df`.
 */
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCluster, type Cluster } from '../../support/services.js';
import { ec2Client, faultOf, waitForSnapshot, waitForVolume, type Ec2Client } from '../../support/ec2-client.js';
import { FAKE_BIN } from '../../support/repo.js';

describe('Volume Delegate on Lustre (fake lfs)', function () {
  this.timeout(60_000);
  let cluster: Cluster;
  let client: Ec2Client;
  let lfsLog: string;

  before(async () => {
    lfsLog = join(process.env['TMPDIR'] ?? '/tmp', `fake-lfs-${process.pid}.log`);
    writeFileSync(lfsLog, '');
    cluster = await startCluster({
      delegate: () => ({ lustre: 'on' }),
      env: {
        PATH: `${FAKE_BIN}:${process.env['PATH'] ?? ''}`,
        FAKE_LFS_LOG: lfsLog,
        FAKE_LFS_STATE: `${lfsLog}.state`,
      },
    });
    client = ec2Client(cluster);
  });
  after(async () => {
    client.close();
    await cluster.stop();
  });

  const calls = (): string[][] =>
    readFileSync(lfsLog, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as string[]);

  it('lays out every new volume and snapshot file with lfs setstripe -S 4M -c 2 before filling it', async () => {
    const { volumeId } = await client.call('CreateVolume', {
      size: '1',
      availabilityZone: 'vbs-local-1a',
      volumeType: 'thick',
    });
    expect(await waitForVolume(client, volumeId, ['available', 'error'])).to.equal('available');
    // The layout goes on the job's own (partial) file, which becomes the volume's file when done.
    const stripedFor = (dir: string, id: string): boolean =>
      calls().some(
        (c) =>
          c.slice(0, 5).join(' ') === `setstripe -S ${4 * 1024 * 1024} -c 2` &&
          (c[5] ?? '').startsWith(join(cluster.home, 'volumes', dir, `${id}.job-`)) &&
          (c[5] ?? '').endsWith('.vd-1.part'),
      );
    expect(stripedFor('volumes', volumeId), JSON.stringify(calls())).to.equal(true);
    expect(calls().some((c) => c[0] === 'df')).to.equal(true);
    const { snapshotId } = await client.call('CreateSnapshot', { volumeId });
    expect(await waitForSnapshot(client, snapshotId, ['completed', 'error'])).to.equal('completed');
    expect(stripedFor('snapshots', snapshotId), JSON.stringify(calls())).to.equal(true);
  });

  it('takes free space from lfs df: a full file system refuses a thick volume and keeps no record', async () => {
    const delegate = cluster.delegates[0];
    if (!delegate) throw new Error('no delegate');
    await cluster.kill(delegate, 'SIGTERM');
    await cluster.restart(delegate, { FAKE_LFS_AVAIL_KB: '1024' });
    const before = (await client.call('DescribeVolumes', { volumeSet: {} })).volumeSet.item?.length ?? 0;
    const fault = await faultOf(
      client.call('CreateVolume', { size: '1', availabilityZone: 'vbs-local-1a', volumeType: 'thick' }),
    );
    expect(fault.code).to.equal('InsufficientVolumeCapacity');
    expect(fault.faultcode).to.equal('soap:Server.InsufficientVolumeCapacity');
    expect((await client.call('DescribeVolumes', { volumeSet: {} })).volumeSet.item?.length ?? 0).to.equal(before);
  });
});
