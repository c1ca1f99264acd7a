/**
 * The vbs CLI with several endpoints, as a user with more than one frontend runs it: the real binary
 * against a real frontend, with the other endpoints dead (nothing listening), black holes (accepted,
 * nothing forwarded: the request never arrives) or swallowing (the request arrives, the answer never
 * comes back). A request that cannot have arrived goes to the next frontend; one that may have been
 * carried out is sent again only when it is a read.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { CLI_BIN } from '../support/repo.js';
import { freePort, startCluster, type Cluster } from '../support/services.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { ifMade } from '../support/if-made.js';

interface Run {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

describe('vbs CLI: several endpoints', function () {
  this.timeout(60_000);
  let cluster: Cluster;
  let proxy: TcpProxy;
  let env: NodeJS.ProcessEnv;
  let live: string;
  let dead: string;
  let viaProxy: string;

  const vbs = (args: readonly string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Run> =>
    new Promise((resolve) => {
      execFile(
        process.execPath,
        [CLI_BIN, ...args],
        { env: { ...env, ...extraEnv }, timeout: 30_000 },
        (error, stdout, stderr) => {
          const status = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
          resolve({ status, stdout, stderr });
        },
      );
    });
  const volumeCount = async (): Promise<number> => {
    const r = await vbs(['--endpoint', live, '--json', 'describe-volumes']);
    expect(r.status, r.stderr).to.equal(0);
    return (JSON.parse(r.stdout) as { volumeSet?: { item?: unknown[] } }).volumeSet?.item?.length ?? 0;
  };

  before(async () => {
    cluster = await startCluster();
    live = cluster.frontendUrl;
    const url = new URL(live);
    proxy = await startTcpProxy(Number(url.port));
    viaProxy = `https://127.0.0.1:${proxy.port}${url.pathname}`;
    dead = `https://127.0.0.1:${await freePort()}${url.pathname}`;
    env = {
      ...process.env,
      VBS_HOME: cluster.home,
      VBS_CA: '',
      VBS_CERT: join(cluster.home, 'users', 'alice', 'alice.pem'),
      VBS_KEY: join(cluster.home, 'users', 'alice', 'alice.key'),
    };
  });

  after(async () => {
    await ifMade(proxy)?.close();
    await ifMade(cluster)?.stop();
  });

  it('passes over a frontend that refuses connections, for reads and writes alike', async () => {
    const before = await volumeCount();
    const read = await vbs(['--endpoint', `${dead},${live}`, 'describe-volumes']);
    expect(read.status, read.stderr).to.equal(0);
    const created = await vbs(['--endpoint', `${dead},${live}`, 'create-volume', '--size', '1']);
    expect(created.status, created.stderr).to.equal(0);
    expect(created.stdout).to.match(/vol-[0-9a-f]+/);
    expect(await volumeCount()).to.equal(before + 1);
  });

  it('passes over a frontend that never lets the request arrive (TLS never set up)', async () => {
    proxy.mode = 'hold';
    const before = await volumeCount();
    const created = await vbs(
      ['--endpoint', `${viaProxy},${live}`, 'create-volume', '--size', '1', '--zone', 'vbs-local-1a'],
      { VBS_REQUEST_TIMEOUT: '1' },
    );
    expect(created.status, created.stderr).to.equal(0);
    expect(await volumeCount()).to.equal(before + 1);
    expect(proxy.accepted.hold).to.be.greaterThan(0);
  });

  it('does not send a create again when the first frontend may have carried it out', async () => {
    proxy.mode = 'swallow';
    const before = await volumeCount();
    // --zone: CreateVolume is the first call (without it a zone lookup, a read, would move on first).
    const created = await vbs(
      ['--endpoint', `${viaProxy},${live}`, 'create-volume', '--size', '1', '--zone', 'vbs-local-1a'],
      { VBS_REQUEST_TIMEOUT: '2' },
    );
    expect(created.status, created.stdout + created.stderr).to.equal(1);
    expect(created.stderr).to.match(/^vbs: cannot reach https:\/\/127\.0\.0\.1:\d+\/vbs: .*may have been carried out/);
    expect(created.stderr).not.to.match(/^\s+at /m);
    // The swallowed request reached the frontend and made its volume; no second one was made.
    expect(await volumeCount()).to.equal(before + 1);
  });

  it('sends a read again to the next frontend when the first does not answer', async () => {
    proxy.mode = 'swallow';
    const read = await vbs(['--endpoint', `${viaProxy},${live}`, 'describe-volumes'], { VBS_REQUEST_TIMEOUT: '2' });
    expect(read.status, read.stderr).to.equal(0);
    expect(read.stdout).to.match(/vol-[0-9a-f]+/);
  });

  it('refuses an endpoint list with an empty entry, as a usage error', async () => {
    const r = await vbs(['--endpoint', `${live},`, 'describe-volumes']);
    expect(r.status).to.equal(2);
    expect(r.stderr).to.match(/^vbs: --endpoint has an empty entry/);
  });
});
