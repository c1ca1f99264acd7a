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

/** PIDs of processes whose command line mentions `marker` (the temporary home). */
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

describe('vbs-server all (npm start)', function () {
  this.timeout(90_000);
  let home: string;
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
    server.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    server.stderr?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    endpoint = `https://127.0.0.1:${fp}/vbs`;
  });
  after(async () => {
    if (server && server.exitCode === null) server.kill('SIGKILL');
    for (const pid of processesMentioning(home)) process.kill(pid, 'SIGKILL');
    rmSync(home, { recursive: true, force: true });
  });

  const env = (): NodeJS.ProcessEnv => ({
    ...process.env,
    VBS_HOME: home,
    VBS_ENDPOINT: endpoint,
    VBS_CA: '',
    VBS_CERT: '',
    VBS_KEY: '',
  });

  it("makes the CA and the admin's credentials, and says where", async () => {
    const deadline = Date.now() + 30_000;
    while (!output.includes('Ctrl-C stops everything') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect(output).to.include(join(home, 'certs', 'ca.pem'));
    expect(output).to.include(join(home, 'users', 'admin', 'admin'));
    expect(existsSync(join(home, 'users', 'admin', 'admin.pem'))).to.equal(true);
    expect(statSync(join(home, 'users', 'admin', 'admin.key')).mode & 0o777).to.equal(0o600);
  });

  it('answers the vbs CLI with nothing but $VBS_HOME: create, describe, delete', async () => {
    let zones = await vbs(['describe-zones'], env());
    const deadline = Date.now() + 30_000;
    while (zones.status !== 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      zones = await vbs(['describe-zones'], env());
    }
    expect(zones.status, zones.stderr).to.equal(0);
    const created = await vbs(['create-volume', '--size', '1', '--wait', '--json'], env());
    expect(created.status, created.stderr).to.equal(0);
    const volumeId = String(
      (JSON.parse(created.stdout) as { volumeSet: { item: { volumeId: string; status: string }[] } }).volumeSet.item[0]
        ?.volumeId,
    );
    expect(existsSync(join(home, 'volumes', 'volumes', `${volumeId}.img`))).to.equal(true);
    const deleted = await vbs(['delete-volume', volumeId, '--wait'], env());
    expect(deleted.status, deleted.stderr).to.equal(0);
  });

  it('stops every service on Ctrl-C (SIGINT)', async () => {
    const s = server ?? expect.fail('no server');
    const exited = new Promise<number | null>((resolve) => s.once('exit', (code) => resolve(code)));
    s.kill('SIGINT');
    expect(await exited).to.equal(0);
    await new Promise((r) => setTimeout(r, 500));
    expect(processesMentioning(home)).to.deep.equal([]);
  });

  it('stops the other services and exits non-zero when one service dies', async () => {
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
    const exited = new Promise<number | null>((resolve) => again.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 30_000;
    let frontendPid: number | undefined;
    while (frontendPid === undefined && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      frontendPid = processesMentioning(home).find((pid) =>
        readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('frontend'),
      );
    }
    process.kill(frontendPid ?? expect.fail('the frontend did not start'), 'SIGKILL');
    expect(await exited).to.equal(1);
    await new Promise((r) => setTimeout(r, 500));
    expect(processesMentioning(home)).to.deep.equal([]);
  });
});
