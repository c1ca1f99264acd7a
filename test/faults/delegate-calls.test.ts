/**
 * The frontend's calls to the Volume Delegates when the network or the services fail, through real
 * processes (a TCP proxy in front of a delegate makes its network misbehave; see tcp-proxy.ts):
 *  - an answer lost after the delegate took the job is "unknown", not "refused": the volume is
 *    creating, no other delegate is asked, the first delegate's job makes it available, one file;
 *  - a frontend killed while its offer had not reached the delegate offers the job again when it
 *    starts, and the volume is available at once, not when the deadline fails it;
 *  - a job that makes no progress is stopped: its command killed, its partial file removed, its
 *    volume in error with the reason;
 *  - admission counts what every running job will write: of four snapshots that fit only once, one
 *    is admitted and completes, the others are refused before anything is written.
 */
import { expect } from 'chai';
import Database from 'better-sqlite3';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
  closeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ec2Client, faultOf, waitForSnapshot, waitForVolume, type Ec2Client } from '../support/ec2-client.js';
import { ifMade } from '../support/if-made.js';
import { startCluster, type Cluster, type ClusterOptions } from '../support/services.js';
import { startTcpProxy, viaProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { mountTinyFs, type TinyFs } from '../support/tiny-fs.js';
import { waitFor } from '../support/wait.js';

const ZONE = 'vbs-local-1a';

/** The files of a resource in the storage root: its own (ID.img) and its jobs' partial ones. */
function filesOf(root: string, resourceId: string): string[] {
  const dir = join(root, resourceId.startsWith('vol-') ? 'volumes' : 'snapshots');
  return readdirSync(dir).filter((f) => f.startsWith(`${resourceId}.`));
}

interface Setup {
  cluster: Cluster;
  client: Ec2Client;
  proxy: TcpProxy | undefined;
  extra: (() => void)[];
}

/** A cluster whose frontend reaches vd-1 through a proxy (when `proxied`). */
async function setUp(options: ClusterOptions, proxied: boolean): Promise<Setup> {
  let proxy: TcpProxy | undefined;
  const cluster = await startCluster({
    ...options,
    ...(proxied
      ? {
          delegateUrlForFrontend: async (id, url) => {
            if (id !== 'vd-1') return url;
            proxy = await startTcpProxy(Number(new URL(url).port));
            return viaProxy(url, proxy);
          },
        }
      : {}),
  });
  return { cluster, client: ec2Client(cluster), proxy, extra: [] };
}

async function tearDown(s: Setup | undefined): Promise<void> {
  if (!s) return;
  ifMade(s.client)?.close();
  await ifMade(s.cluster)?.stop();
  await s.proxy?.close();
  for (const f of s.extra) f();
}

function logOf(cluster: Cluster, id: string): Record<string, unknown>[] {
  const delegate = cluster.delegates.find((d) => d.name === id) ?? expect.fail(`no ${id}`);
  return cluster.logLines(delegate);
}

describe('Volume Delegate calls that fail', function () {
  this.timeout(120_000);

  describe('an answer lost after the delegate took the job', () => {
    let s: Setup | undefined;
    before(async () => {
      s = await setUp({ delegates: 2, frontend: { workers: 1, volumeDelegateTimeoutSeconds: 2 } }, true);
    });
    after(() => tearDown(s));

    it('is "unknown": the volume is creating, no other delegate runs the job, and it becomes available with one file', async () => {
      const { cluster, client, proxy } = s ?? expect.fail('no setup');
      (proxy ?? expect.fail('no proxy')).mode = 'swallow';
      const created = await client.call('CreateVolume', { size: '1', availabilityZone: ZONE, volumeType: 'zero' });
      expect(created.status).to.equal('creating');
      (proxy ?? expect.fail('no proxy')).mode = 'pass';
      expect(await waitForVolume(client, created.volumeId, ['available', 'error'], 60_000)).to.equal('available');
      const ran = (id: string): boolean =>
        logOf(cluster, id).some((l) => l['message'] === 'job succeeded' && l['resourceId'] === created.volumeId);
      expect(ran('vd-1'), 'vd-1, which took the job, ran it').to.equal(true);
      expect(ran('vd-2'), 'vd-2 was never given the job').to.equal(false);
      expect(filesOf(join(cluster.home, 'volumes'), created.volumeId)).to.deep.equal([`${created.volumeId}.img`]);
    });
  });

  describe('a delegate that never answers', () => {
    let s: Setup | undefined;
    before(async () => {
      s = await setUp({ frontend: { workers: 1, volumeDelegateTimeoutSeconds: 1, jobDeadlineSeconds: 8 } }, true);
    });
    after(() => tearDown(s));

    it('is asked again with the same job, and the volume still fails at its deadline, with the reason', async () => {
      const { cluster, client, proxy } = s ?? expect.fail('no setup');
      (proxy ?? expect.fail('no proxy')).mode = 'swallow';
      const started = Date.now();
      // The delegate refuses this one (it does not fit), but its answer never arrives: "unknown" each time.
      const { volumeId, status } = await client.call('CreateVolume', {
        size: '10000',
        availabilityZone: ZONE,
        volumeType: 'thick',
      });
      expect(status).to.equal('creating');
      expect(await waitForVolume(client, volumeId, ['available', 'error'], 30_000)).to.equal('error');
      expect(Date.now() - started, 'failed by the deadline, not kept alive by the offers').to.be.below(20_000);
      expect((proxy ?? expect.fail('no proxy')).accepted.swallow, 'offered more than once').to.be.greaterThan(1);
      const offers = cluster
        .logLines(cluster.frontend)
        .filter(
          (l) => l['message'] === 'volume delegate did not answer; it may have the job, which is offered again later',
        );
      expect(new Set(offers.map((l) => l['jobId'])).size, 'always the same job').to.equal(1);
    });
  });

  describe('a frontend killed before its offer reached the delegate', () => {
    let s: Setup | undefined;
    before(async () => {
      s = await setUp({ frontend: { workers: 1, volumeDelegateTimeoutSeconds: 30 } }, true);
    });
    after(() => tearDown(s));

    it('offers the job again when it starts: the volume is available within seconds, not at the deadline', async () => {
      const { cluster, client, proxy } = s ?? expect.fail('no setup');
      (proxy ?? expect.fail('no proxy')).mode = 'hold';
      const lost = client.call('CreateVolume', { size: '1', availabilityZone: ZONE }).then(
        () => 'answered',
        () => 'no answer',
      );
      const db = join(cluster.home, 'vbs.sqlite');
      const offered = await waitFor(
        'the offer to be recorded',
        () => {
          const conn = new Database(db, { readonly: true });
          try {
            return conn.prepare(`SELECT id FROM volumes WHERE status = 'creating' AND delegate_id = 'vd-1'`).get() as
              { id: string } | undefined;
          } finally {
            conn.close();
          }
        },
        (row) => row !== undefined,
      );
      const volumeId = offered?.id ?? expect.fail('no volume');
      await cluster.kill(cluster.frontend, 'SIGKILL');
      expect(await lost).to.equal('no answer');
      (proxy ?? expect.fail('no proxy')).mode = 'pass';
      const restarted = Date.now();
      await cluster.restart(cluster.frontend);
      expect(await waitForVolume(client, volumeId, ['available', 'error'], 30_000)).to.equal('available');
      expect(Date.now() - restarted, 'settled at start, long before the 120 s deadline').to.be.lessThan(20_000);
    });
  });

  describe('a job that makes no progress', () => {
    let s: Setup | undefined;
    const bin = mkdtempSync(join(tmpdir(), 'vbs-stuck-dd-'));
    const pids = join(bin, 'pids');
    before(async () => {
      // A dd that starts and then never writes a byte: what a hung file system looks like from here.
      writeFileSync(join(bin, 'dd'), `#!/bin/sh\necho $$ >> ${pids}\nexec sleep 3600\n`);
      chmodSync(join(bin, 'dd'), 0o755);
      s = await setUp(
        {
          env: { PATH: `${bin}:${process.env['PATH'] ?? ''}` },
          delegate: () => ({ stallSeconds: 2, heartbeatSeconds: 1 }),
        },
        false,
      );
      s.extra.push(() => {
        for (const pid of existsSync(pids) ? readFileSync(pids, 'utf8').split('\n').filter(Boolean) : []) {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            // gone already, as it should be
          }
        }
        rmSync(bin, { recursive: true, force: true });
      });
    });
    after(() => tearDown(s));

    it('is stopped: its command is killed, its partial file removed, and the volume is in error with the reason', async () => {
      const { cluster, client } = s ?? expect.fail('no setup');
      const { volumeId } = await client.call('CreateVolume', { size: '1', availabilityZone: ZONE, volumeType: 'zero' });
      expect(await waitForVolume(client, volumeId, ['available', 'error'], 30_000)).to.equal('error');
      const conn = new Database(join(cluster.home, 'vbs.sqlite'), { readonly: true });
      try {
        const row = conn.prepare('SELECT status_message FROM volumes WHERE id = ?').get(volumeId) as {
          status_message: string;
        };
        expect(row.status_message).to.match(/no progress for 2 s/);
      } finally {
        conn.close();
      }
      const pid = Number(readFileSync(pids, 'utf8').trim().split('\n')[0]);
      await waitFor(
        'the stuck dd to be gone',
        () => existsSync(`/proc/${pid}`),
        (alive) => !alive,
        10_000,
      );
      expect(filesOf(join(cluster.home, 'volumes'), volumeId)).to.deep.equal([]);
      await client.call('DeleteVolume', { volumeId });
      expect((await faultOf(client.call('DescribeVolumes', { volumeSet: { item: [{ volumeId }] } }))).code).to.equal(
        'InvalidVolume.NotFound',
      );
    });
  });

  describe('admission', () => {
    let s: Setup | undefined;
    let fs: TinyFs | undefined;
    before(async () => {
      fs = mountTinyFs(64);
      const root = fs.dir;
      s = await setUp({ delegate: () => ({ storageRoot: root, sparseOvercommit: 64 }) }, false);
    });
    after(async () => {
      await tearDown(s);
      ifMade(fs)?.unmount();
    });

    it('counts the bytes of every running job: of four snapshots that fit once, one is admitted and completes', async () => {
      const { client } = s ?? expect.fail('no setup');
      const root = (fs ?? expect.fail('no fs')).dir;
      const { volumeId } = await client.call('CreateVolume', { size: '1', availabilityZone: ZONE });
      expect(await waitForVolume(client, volumeId, ['available', 'error'])).to.equal('available');
      // 30 MiB of data in the volume: a copy of it fits in the 34 MiB left once, not twice.
      const fd = openSync(join(root, 'volumes', `${volumeId}.img`), 'r+');
      try {
        for (let i = 0; i < 30; i++) writeSync(fd, Buffer.alloc(1024 * 1024, i + 1), 0, 1024 * 1024, i * 1024 * 1024);
      } finally {
        closeSync(fd);
      }
      const answers = await Promise.all(
        Array.from({ length: 4 }, () =>
          client.call('CreateSnapshot', { volumeId }).then(
            (a) => ({ snapshotId: a.snapshotId, code: 'accepted' }),
            (e: unknown) => ({ snapshotId: '', code: (e as { code?: string }).code ?? String(e) }),
          ),
        ),
      );
      const accepted = answers.filter((a) => a.code === 'accepted');
      expect(accepted, JSON.stringify(answers)).to.have.length(1);
      expect(answers.filter((a) => a.code === 'InsufficientVolumeCapacity')).to.have.length(3);
      const only = accepted[0] ?? expect.fail('none accepted');
      expect(await waitForSnapshot(client, only.snapshotId, ['completed', 'error'], 60_000)).to.equal('completed');
      const all = await client.call('DescribeSnapshots', { snapshotSet: {} });
      expect((all.snapshotSet.item ?? []).map((x) => x.snapshotId)).to.deep.equal([only.snapshotId]);
    });
  });
});
