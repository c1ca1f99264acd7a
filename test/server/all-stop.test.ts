/**
 * `vbs-server all` stopped as an operator stops it, while a `zero` creation runs: Ctrl-C (SIGINT to
 * its whole process group, as a terminal sends it) and SIGTERM to its PID. Either way it stops the
 * frontend first, then the delegates, each of which stops gracefully (the Volume Delegate stops its
 * job itself, not its dd dying of the terminal's SIGINT, and leaves it journaled); it exits 0 with
 * nothing left running; started again, it finishes the volume.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { schema, type AmazonEC2PortTypeOperations } from '../../src/generated/frontend.js';
import { Journal } from '../../src/delegates/volume/journal.js';
import { SoapClient } from '../../src/soap/client.js';
import { STOP_GRACE_MS } from '../../src/soap/https-host.js';
import { signedAs } from '../../src/security/wssec/sign.js';
import { waitForVolume, type Ec2Client } from '../support/ec2-client.js';
import { SERVER_BIN } from '../support/repo.js';
import { freePort } from '../support/services.js';
import { waitFor } from '../support/wait.js';
import { processes } from './stop-helpers.js';
import { partialSizeOf } from '../support/partial-files.js';

type Line = Record<string, unknown>;

describe('vbs-server all stopped during a zero creation', function () {
  this.timeout(180_000);
  let home: string | undefined;
  const homeDir = (): string => home ?? expect.fail('no home');
  const servers: ChildProcess[] = [];
  let client: Ec2Client | undefined;
  let volumeId = '';

  /** Every process of this home: the services (by $VBS_HOME or arguments), their workers, dd. */
  const left = (): string[] =>
    processes()
      .filter((p) => {
        if (p.pid === process.pid) return false;
        try {
          return (
            p.argv.some((a) => a.includes(homeDir())) ||
            readFileSync(`/proc/${p.pid}/environ`, 'utf8').includes(`VBS_HOME=${homeDir()}`)
          );
        } catch {
          return false;
        }
      })
      .map((p) => `${p.pid}: ${p.argv.join(' ')}`);

  const logOf = (name: string): Line[] =>
    readFileSync(join(homeDir(), `${name}.log`), 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as Line);
  const lineAt = (name: string, message: string): number => {
    const found = logOf(name).filter((l) => l['message'] === message);
    const last = found[found.length - 1] ?? expect.fail(`${name}: no "${message}"`);
    return Date.parse(String(last['timestamp']));
  };

  /** Starts `vbs-server all` as the leader of its own process group, as a shell starts a job. */
  const startAll = async (): Promise<ChildProcess> => {
    const server = spawn(process.execPath, [SERVER_BIN, 'all'], {
      env: { ...process.env, VBS_HOME: homeDir() },
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    servers.push(server);
    const started: [string, string][] = [
      ['frontend', 'frontend started'],
      ['volume-delegate', 'volume delegate started'],
      ['vmm-delegate', 'vmm delegate started'],
    ];
    const count = (name: string, message: string): number => {
      try {
        return logOf(name).filter((l) => l['message'] === message).length;
      } catch {
        return 0; // not written yet
      }
    };
    const before = started.map(([name, message]) => count(name, message));
    let stderr = '';
    server.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await waitFor(
      'every service started',
      () => {
        if (server.exitCode !== null) throw new Error(`vbs-server all exited (${server.exitCode}):\n${stderr}`);
        return started.every(([name, message], i) => count(name, message) > (before[i] ?? 0));
      },
      (up) => up,
    );
    return server;
  };

  const exitOf = (server: ChildProcess): Promise<{ code: number | null; at: number }> =>
    new Promise((resolve) => server.once('exit', (code) => resolve({ code, at: Date.now() })));

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'vbs-all-stop-'));
    const [fp, vp, mp] = [await freePort(), await freePort(), await freePort()];
    const at = (name: string, config: object): void =>
      writeFileSync(
        join(homeDir(), `${name}.json`),
        JSON.stringify({ ...config, logFile: join(homeDir(), `${name}.log`) }),
      );
    at('frontend', { port: fp, volumeDelegates: [{ id: 'vd-1', url: `https://127.0.0.1:${vp}/volume-delegate` }] });
    at('volume-delegate', {
      port: vp,
      frontendCallbackUrl: `https://127.0.0.1:${fp}/vbs/callback`,
      heartbeatSeconds: 1,
    });
    at('vmm-delegate', {
      port: mp,
      vmmHost: 'node-a',
      frontendRegistryUrl: `https://127.0.0.1:${fp}/vbs/vmm-registry`,
    });
    await startAll();
    const admin = join(homeDir(), 'users', 'admin', 'admin');
    client = new SoapClient<AmazonEC2PortTypeOperations>(schema, 'AmazonEC2PortType', {
      url: `https://127.0.0.1:${fp}/vbs`,
      caPem: readFileSync(join(homeDir(), 'certs', 'ca.pem'), 'utf8'),
      envelope: signedAs({
        certPem: readFileSync(`${admin}.pem`, 'utf8'),
        keyPem: readFileSync(`${admin}.key`, 'utf8'),
      }),
    });
  });
  after(async () => {
    client?.close();
    for (const s of servers) if (s.exitCode === null && s.signalCode === null) s.kill('SIGKILL');
    if (home === undefined) return;
    for (const line of left()) {
      try {
        process.kill(Number(line.split(':')[0]), 'SIGKILL');
      } catch {
        // It exited between the listing and the kill.
      }
    }
    rmSync(home, { recursive: true, force: true });
  });

  const ec2 = (): Ec2Client => client ?? expect.fail('no client');
  const file = (): string => join(homeDir(), 'volumes', 'volumes', `${volumeId}.img`);

  it('on Ctrl-C: stops the frontend, then the delegates, leaves the job journaled, exits 0, leaves nothing', async () => {
    const server = servers[0] ?? expect.fail('no server');
    ({ volumeId } = await ec2().call('CreateVolume', {
      size: '2',
      availabilityZone: 'vbs-local-1a',
      volumeType: 'zero',
    }));
    await waitFor(
      'zero-fill under way',
      () => partialSizeOf(join(homeDir(), 'volumes', 'volumes'), volumeId),
      (n) => n > 64 * 1024 * 1024,
    );
    const exited = exitOf(server);
    const signalledAt = Date.now();
    // What a terminal does on Ctrl-C: SIGINT to every process of the foreground group.
    process.kill(-(server.pid ?? expect.fail('no PID')), 'SIGINT');
    const { code, at } = await exited;
    expect(code).to.equal(0);
    expect(at - signalledAt, 'exit within the bound').to.be.below(STOP_GRACE_MS);
    expect(left()).to.deep.equal([]);
    // The frontend first (its requests still reach the delegates), then the delegates.
    const frontendStopped = lineAt('frontend', 'frontend stopped');
    expect(lineAt('volume-delegate', 'volume delegate stopping')).to.be.at.least(frontendStopped);
    expect(lineAt('vmm-delegate', 'vmm delegate stopping')).to.be.at.least(frontendStopped);
    expect(
      logOf('volume-delegate').find((l) => l['message'] === 'job stopped; the next start runs it again'),
    ).to.deep.include({ resourceId: volumeId });
    expect(logOf('volume-delegate').filter((l) => l['message'] === 'job failed')).to.deep.equal([]);
    const journal = new Journal(join(homeDir(), 'volume-delegate-vd-1.journal'));
    try {
      expect(journal.running().map((j) => j.resourceId)).to.include(volumeId);
    } finally {
      journal.close();
    }
  });

  it('started again, finishes the volume; on SIGTERM exits 0 and leaves nothing', async () => {
    const server = await startAll();
    expect(await waitForVolume(ec2(), volumeId, ['available', 'error'], 90_000)).to.equal('available');
    expect(statSync(file()).size).to.equal(2 * 1024 ** 3);
    const exited = exitOf(server);
    const signalledAt = Date.now();
    server.kill('SIGTERM');
    const { code, at } = await exited;
    expect(code).to.equal(0);
    expect(at - signalledAt, 'exit within the bound').to.be.below(STOP_GRACE_MS);
    expect(left()).to.deep.equal([]);
    expect(lineAt('volume-delegate', 'volume delegate stopping')).to.be.at.least(
      lineAt('frontend', 'frontend stopped'),
    );
  });
});
