/**
 * The Volume Delegate's caps, through the real services: the total size it promises to sparse
 * volumes (maxPromisedSparseBytes, by default sparseOvercommit times its file system's size), counted
 * on their full size while they are made and after, until deleted, across a restart; and the jobs it
 * runs at once (maxConcurrentJobs), refused as Unavailable. A delegate that refuses for a cap does not
 * have the job, and the frontend offers it to the next one.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { VolumeType } from '../../../src/core/records.js';
import { ec2Client, faultOf, waitForVolume, type Ec2Client } from '../../support/ec2-client.js';
import { ifMade } from '../../support/if-made.js';
import { startCluster, type Cluster, type ServiceProcess } from '../../support/services.js';
import { mountTinyFs, type TinyFs } from '../../support/tiny-fs.js';

const ZONE = 'vbs-local-1a';
const GiB = 1024 ** 3;

async function create(client: Ec2Client, sizeGiB: number, volumeType: VolumeType = 'sparse'): Promise<string> {
  const { volumeId } = await client.call('CreateVolume', { size: String(sizeGiB), availabilityZone: ZONE, volumeType });
  expect(await waitForVolume(client, volumeId, ['available', 'error'])).to.equal('available');
  return volumeId;
}

async function refusal(client: Ec2Client, sizeGiB: number): Promise<string> {
  return (await faultOf(client.call('CreateVolume', { size: String(sizeGiB), availabilityZone: ZONE }))).faultcode;
}

/** The resources a delegate accepted a job for, from its log. */
function acceptedBy(cluster: Cluster, delegate: ServiceProcess): string[] {
  return cluster
    .logLines(delegate)
    .filter((l) => l['message'] === 'job accepted')
    .map((l) => String(l['resourceId']));
}

describe('Volume Delegate caps', function () {
  this.timeout(120_000);

  describe('maxPromisedSparseBytes on one delegate', () => {
    let cluster: Cluster;
    let client: Ec2Client;
    before(async () => {
      cluster = await startCluster({ delegate: () => ({ maxPromisedSparseBytes: 3 * GiB }) });
      client = ec2Client(cluster);
    });
    after(async () => {
      ifMade(client)?.close();
      await ifMade(cluster)?.stop();
    });

    it('counts the full size of sparse volumes, not thick ones, until they are deleted, across a restart', async () => {
      const two = await create(client, 2);
      // 2 GiB / 8 is free many times over: only the promise refuses it.
      expect(await refusal(client, 2)).to.match(/Server\.InsufficientVolumeCapacity$/);
      await create(client, 1, 'thick');
      await create(client, 1);
      expect(await refusal(client, 1)).to.match(/InsufficientVolumeCapacity$/);

      const delegate = cluster.delegates[0] ?? expect.fail('no delegate');
      await cluster.kill(delegate, 'SIGTERM');
      await cluster.restart(delegate);
      expect(await refusal(client, 1), 'after a restart').to.match(/InsufficientVolumeCapacity$/);

      await client.call('DeleteVolume', { volumeId: two });
      await create(client, 2);
    });
  });

  describe('the default cap: sparseOvercommit times the file system', () => {
    let fs: TinyFs | undefined;
    let cluster: Cluster | undefined;
    let client: Ec2Client | undefined;
    before(async () => {
      fs = mountTinyFs(64);
      const root = fs.dir;
      // 64 × 64 MiB: 4 GiB of sparse volumes, each needing 16 MiB free when it is made.
      cluster = await startCluster({ delegate: () => ({ storageRoot: root, sparseOvercommit: 64 }) });
      client = ec2Client(cluster);
    });
    after(async () => {
      ifMade(client)?.close();
      await ifMade(cluster)?.stop();
      ifMade(fs)?.unmount();
    });

    it('admits 1 GiB sparse volumes on 64 MiB four times, and refuses the fifth', async () => {
      const c = client ?? expect.fail('no client');
      for (let i = 0; i < 4; i++) await create(c, 1);
      expect(await refusal(c, 1)).to.match(/InsufficientVolumeCapacity$/);
    });
  });

  describe('two delegates, one with a small cap', () => {
    let cluster: Cluster;
    let client: Ec2Client;
    before(async () => {
      cluster = await startCluster({
        delegates: 2,
        delegate: (i) => (i === 0 ? { maxPromisedSparseBytes: 2 * GiB } : {}),
      });
      client = ec2Client(cluster);
    });
    after(async () => {
      ifMade(client)?.close();
      await ifMade(cluster)?.stop();
    });

    it('has the frontend offer a job the full delegate refuses to the next one', async () => {
      for (let i = 0; i < 6; i++) await create(client, 1);
      const [vd1, vd2] = cluster.delegates;
      expect(acceptedBy(cluster, vd1 ?? expect.fail('no vd-1'))).to.have.length(2);
      expect(acceptedBy(cluster, vd2 ?? expect.fail('no vd-2'))).to.have.length(4);
    });

    it('forgets the promise of a volume another delegate deleted, once the cap would refuse', async () => {
      const [vd1, vd2] = cluster.delegates;
      if (!vd1 || !vd2) return expect.fail('no delegates');
      const made = acceptedBy(cluster, vd1);
      // vd-1 down: its volumes are deleted through vd-2, which shares the storage root.
      await cluster.kill(vd1, 'SIGTERM');
      for (const volumeId of made) await client.call('DeleteVolume', { volumeId });
      await cluster.restart(vd1);
      // Jobs rotate over the delegates: within two creates, vd-1 is asked first once.
      await create(client, 1);
      await create(client, 1);
      const lines = cluster.logLines(vd1);
      expect(lines.filter((l) => l['message'] === 'forgot the promise of sparse volumes whose files are gone'))
        .to.have.length(1)
        .and.to.have.nested.property('[0].gone')
        .that.has.members(made);
      expect(acceptedBy(cluster, vd1)).to.have.length(made.length + 1);
    });
  });

  describe('maxConcurrentJobs', () => {
    let cluster: Cluster;
    let client: Ec2Client;
    const bin = mkdtempSync(join(tmpdir(), 'vbs-gated-dd-'));
    const gate = join(bin, 'open');
    before(async () => {
      // A dd that waits for the test to open the gate, then does its work.
      const realDd = execFileSync('sh', ['-c', 'command -v dd'], { encoding: 'utf8' }).trim();
      writeFileSync(join(bin, 'dd'), `#!/bin/sh\nwhile [ ! -e ${gate} ]; do sleep 0.1; done\nexec ${realDd} "$@"\n`);
      chmodSync(join(bin, 'dd'), 0o755);
      cluster = await startCluster({
        env: { PATH: `${bin}:${process.env['PATH'] ?? ''}` },
        delegate: () => ({ maxConcurrentJobs: 1 }),
      });
      client = ec2Client(cluster);
    });
    after(async () => {
      writeFileSync(gate, '');
      ifMade(client)?.close();
      await ifMade(cluster)?.stop();
      rmSync(bin, { recursive: true, force: true });
    });

    it('refuses a job past the cap as Unavailable while one runs, and takes jobs again once it ends', async () => {
      const slow = await client.call('CreateVolume', { size: '1', availabilityZone: ZONE, volumeType: 'zero' });
      const busy = await faultOf(client.call('CreateVolume', { size: '1', availabilityZone: ZONE }));
      expect(busy.faultcode).to.match(/Server\.Unavailable$/);
      const refused = cluster
        .logLines(cluster.frontend)
        .filter((l) => l['message'] === 'volume delegate refused a job');
      expect(String(refused[0]?.['error'])).to.include('maxConcurrentJobs');
      // Nothing of the refused volume is left for the client.
      expect((await client.call('DescribeVolumes', { volumeSet: {} })).volumeSet.item).to.have.length(1);

      writeFileSync(gate, '');
      expect(await waitForVolume(client, slow.volumeId, ['available', 'error'], 60_000)).to.equal('available');
      await create(client, 1);
    });
  });
});
