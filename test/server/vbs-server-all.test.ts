/**
 * The README's start command as a new user runs it: `vbs-server all` (what `npm start` runs) on a
 * fresh home makes the CA and the admin's credentials, starts every service, and the `vbs` CLI works
 * with no option at all but $VBS_HOME; Ctrl-C stops every process it started.
 */
import { expect } from 'chai';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI_BIN, SERVER_BIN } from '../support/repo.js';
import { freePort } from '../support/services.js';
import { waitFor } from '../support/wait.js';

function vbs(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI_BIN, ...args], { env, timeout: 30_000 }, (error, stdout, stderr) =>
      resolve({ status: error ? Number((error as { code?: unknown }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** PIDs of processes whose command line, or whose $VBS_HOME, mentions `marker` (the temporary home). */
function processesMentioning(marker: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((pid) => {
      try {
        return (
          readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker) ||
          readFileSync(`/proc/${pid}/environ`, 'utf8').includes(`VBS_HOME=${marker}`)
        );
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** What is left of those processes, to say which ones in a failure. */
function describeProcesses(pids: readonly number[]): string[] {
  return pids.map((pid) => {
    try {
      return `${pid}: ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim()}`;
    } catch {
      return `${pid}: (gone)`;
    }
  });
}

describe('vbs-server all (npm start)', function () {
  this.timeout(90_000);
  // Undefined when before() failed before making it; after() then has nothing to remove.
  let home: string | undefined;
  const homeDir = (): string => home ?? expect.fail('no home');
  /** Every `vbs-server all` this file starts, so that after() stops any a failed test left running. */
  const servers: ChildProcess[] = [];
  let server: ChildProcess | undefined;
  let output = '';
  let endpoint = '';

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'vbs-all-'));
    const [fp, vp, mp] = [await freePort(), await freePort(), await freePort()];
    // Ports of our own, so that a VBS already running on the defaults does not disturb the test.
    writeFileSync(
      join(home, 'frontend.json'),
      JSON.stringify({ port: fp, volumeDelegates: [{ id: 'vd-1', url: `https://127.0.0.1:${vp}/volume-delegate` }] }),
    );
    writeFileSync(
      join(home, 'volume-delegate.json'),
      JSON.stringify({ port: vp, frontendCallbackUrl: `https://127.0.0.1:${fp}/vbs/callback` }),
    );
    writeFileSync(
      join(home, 'vmm-delegate.json'),
      JSON.stringify({ port: mp, vmmHost: 'node-a', frontendRegistryUrl: `https://127.0.0.1:${fp}/vbs/vmm-registry` }),
    );
    server = spawn(process.execPath, [SERVER_BIN, 'all'], {
      env: { ...process.env, VBS_HOME: home },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    servers.push(server);
    server.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    server.stderr?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    endpoint = `https://127.0.0.1:${fp}/vbs`;
  });
  after(async () => {
    for (const s of servers) if (s.exitCode === null && s.signalCode === null) s.kill('SIGKILL');
    if (home === undefined) return;
    // The services it started, by their PIDs: a server killed above cannot stop them itself.
    for (const pid of processesMentioning(home)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // It exited between the listing and the kill.
      }
    }
    rmSync(home, { recursive: true, force: true });
  });

  const env = (): NodeJS.ProcessEnv => ({
    ...process.env,
    VBS_HOME: homeDir(),
    VBS_ENDPOINT: endpoint,
    VBS_CA: '',
    VBS_CERT: '',
    VBS_KEY: '',
  });

  it("makes the CA and the admin's credentials, and says where", async () => {
    const s = server ?? expect.fail('no server');
    const home = homeDir();
    // The banner is printed once the CA and the admin's files are made.
    await waitFor(
      'the "Ctrl-C stops everything" banner',
      () => {
        if (s.exitCode !== null) throw new Error(`vbs-server all exited (${s.exitCode}) first:\n${output}`);
        return output;
      },
      (o) => o.includes('Ctrl-C stops everything'),
      30_000,
    );
    expect(output).to.include(join(home, 'certs', 'ca.pem'));
    expect(output).to.include(join(home, 'users', 'admin', 'admin'));
    expect(existsSync(join(home, 'users', 'admin', 'admin.pem'))).to.equal(true);
    expect(statSync(join(home, 'users', 'admin', 'admin.key')).mode & 0o777).to.equal(0o600);
  });

  it('answers the vbs CLI with nothing but $VBS_HOME: create, describe, delete', async () => {
    // The services are up when the CLI gets an answer; until then it fails to connect.
    await waitFor(
      'vbs describe-zones answered',
      () => vbs(['describe-zones'], env()),
      (r) => r.status === 0,
      30_000,
    );
    const created = await vbs(['create-volume', '--size', '1', '--wait', '--json'], env());
    expect(created.status, created.stderr).to.equal(0);
    const volumeId = String(
      (JSON.parse(created.stdout) as { volumeSet: { item: { volumeId: string; status: string }[] } }).volumeSet.item[0]
        ?.volumeId,
    );
    expect(existsSync(join(homeDir(), 'volumes', 'volumes', `${volumeId}.img`))).to.equal(true);
    const deleted = await vbs(['delete-volume', volumeId, '--wait'], env());
    expect(deleted.status, deleted.stderr).to.equal(0);
  });

  it('stops every service on Ctrl-C (SIGINT)', async () => {
    const s = server ?? expect.fail('no server');
    const exited = new Promise<number | null>((resolve) => s.once('exit', (code) => resolve(code)));
    s.kill('SIGINT');
    expect(await exited).to.equal(0);
    // No wait: vbs-server all exits only once every service has exited, and the frontend stops its
    // workers before it does; so nothing may be left at this moment.
    const left = processesMentioning(homeDir());
    expect(describeProcesses(left)).to.deep.equal([]);
  });

  it('stops the other services and exits non-zero when one service dies', async () => {
    const home = homeDir();
    const [fp, vp, mp] = [await freePort(), await freePort(), await freePort()];
    writeFileSync(
      join(home, 'frontend.json'),
      JSON.stringify({ port: fp, volumeDelegates: [{ id: 'vd-1', url: `https://127.0.0.1:${vp}/volume-delegate` }] }),
    );
    writeFileSync(
      join(home, 'volume-delegate.json'),
      JSON.stringify({ port: vp, frontendCallbackUrl: `https://127.0.0.1:${fp}/vbs/callback` }),
    );
    writeFileSync(
      join(home, 'vmm-delegate.json'),
      JSON.stringify({ port: mp, vmmHost: 'node-a', frontendRegistryUrl: `https://127.0.0.1:${fp}/vbs/vmm-registry` }),
    );
    const again = spawn(process.execPath, [SERVER_BIN, 'all'], {
      env: { ...process.env, VBS_HOME: home },
      stdio: 'ignore',
    });
    servers.push(again);
    const exited = new Promise<number | null>((resolve) => again.once('exit', (code) => resolve(code)));
    // The frontend's own process (its argv has the word "frontend"; its workers are titled otherwise).
    const isFrontend = (pid: number): boolean => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('frontend');
      } catch {
        return false; // gone between the listing and this look
      }
    };
    const frontendPid = await waitFor(
      'the frontend started by vbs-server all',
      () => processesMentioning(home).find(isFrontend),
      (pid) => pid !== undefined,
      30_000,
    );
    process.kill(frontendPid ?? expect.fail('the frontend did not start'), 'SIGKILL');
    expect(await exited).to.equal(1);
    // The frontend's workers outlive a SIGKILLed frontend for a moment: nobody told them to stop,
    // and a node:cluster worker exits by itself once its channel to the dead primary closes.
    // Everything else is gone already, as vbs-server all waited for it.
    await waitFor(
      'every process of the home gone',
      () => describeProcesses(processesMentioning(home)),
      (l) => l.length === 0,
      10_000,
    );
  });
});
