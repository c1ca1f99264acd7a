/**
 * `npm run demo` as a new user runs it: the compiled demo (dist/scripts/demo.js) in a child process,
 * checked by what it prints (every step of the read-only sharing walk, the message read back inside
 * both VMs from a read-only disk, the volume deleted) and by what it leaves behind: no QEMU or VBS
 * process it started still running, found both by the PIDs it prints and by its temporary home
 * appearing in any process's command line, and no temporary home.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/repo.js';

const DEMO = join(REPO_ROOT, 'dist', 'scripts', 'demo.js');
const MESSAGE = 'hello from VBS';
const VMS = ['i-demo-vm1', 'i-demo-vm2'] as const;

interface DemoRun {
  readonly status: number | null;
  readonly output: string;
  readonly ms: number;
}

function runDemo(timeoutMs: number): Promise<DemoRun> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('VBS_')) env[k] = v;
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DEMO], {
      cwd: REPO_ROOT,
      env: { ...env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString('utf8');
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString('utf8');
    });
    // SIGINT lets the demo clean up after itself; the test's own timeout reports the hang.
    const timer = setTimeout(() => child.kill('SIGINT'), timeoutMs);
    child.once('error', reject);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, output, ms: Date.now() - started });
    });
  });
}

/** A live (not zombie) process's argv, or undefined when the PID runs nothing. */
function liveArgv(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    if (state === 'Z' || state === 'X') return undefined;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      .split('\0')
      .filter((a) => a !== '');
  } catch {
    return undefined;
  }
}

describe('npm run demo (read-only sharing walk-through)', function () {
  this.timeout(180_000);
  let run: DemoRun;

  before(async () => {
    run = await runDemo(150_000);
  });

  it('exits 0 within about a minute, without a failure', () => {
    expect(run.status, run.output).to.equal(0);
    expect(run.output).to.not.include('DEMO FAILED');
    expect(run.ms, `the demo took ${run.ms} ms`).to.be.below(90_000);
  });

  it('walks through every step, saying what it does and showing each vbs command', () => {
    expect(run.output).to.include('== Setup:');
    for (let n = 1; n <= 7; n++) expect(run.output).to.include(`== Step ${n} of 7:`);
    for (const cmd of [
      '$ vbs create-volume --size 1 --wait',
      '$ vbs attach-volume vol-',
      '--mode ro',
      '$ vbs describe-volumes',
      '$ vbs detach-volume vol-',
      '$ vbs delete-volume vol-',
    ]) {
      expect(run.output).to.include(cmd);
    }
  });

  it('writes the message read-write in the first VM, then reads it back in both from a read-only disk', () => {
    expect(run.output).to.match(new RegExp(`\\[${VMS[0]}\\]# printf '${MESSAGE}' \\| dd of=/dev/vd[a-z]+ conv=fsync`));
    for (const vm of VMS) {
      // The shell transcript: the read-back command, then the message as its output.
      expect(run.output).to.match(new RegExp(`\\[${vm}\\]# cat /sys/block/vd[a-z]+/ro\\n\\s+1\\n`));
      expect(run.output).to.match(
        new RegExp(`\\[${vm}\\]# head -c ${MESSAGE.length} /dev/vd[a-z]+; echo\\n\\s+${MESSAGE}\\n`),
      );
      expect(run.output).to.match(new RegExp(`-> ${vm}: /dev/vd[a-z]+ is read-only \\(ro=1\\) and holds '${MESSAGE}'`));
    }
    expect(run.output).to.match(/Operation not permitted|Read-only file system/);
    expect(run.output).to.include('VolumeInUse');
  });

  it('shows both read-only attachments, the disks gone after detaching, and the volume deleted', () => {
    const volumeId = /\bvol-[0-9a-f]{17}\b/.exec(run.output)?.[0] ?? expect.fail('no volume ID in the output');
    for (const vm of VMS) {
      expect(run.output).to.include(`${vm}:/dev/vdb(attached,ro)`);
      expect(run.output).to.include(`-> ${vm}: the disk is gone`);
    }
    expect(run.output).to.include(`${volumeId} deleted`);
  });

  it('leaves no process it started running, and no temporary home', () => {
    const pids = [...run.output.matchAll(/\bpid (\d+)\b/g)].map((m) => Number(m[1]));
    // vbs-server, its three services and two QEMUs, each named with its PID.
    expect(new Set(pids).size, run.output).to.be.at.least(6);
    for (const pid of new Set(pids)) {
      const argv = liveArgv(pid);
      // A PID reused since by something unrelated is no leak; one still running QEMU or VBS is.
      expect(argv?.join(' ') ?? '', `pid ${pid}`).to.not.match(/qemu-system|vbs-server/);
    }
    const home = /\/\S*vbs-demo-[A-Za-z0-9]+/.exec(run.output)?.[0] ?? expect.fail('the demo did not print its home');
    expect(existsSync(home), home).to.equal(false);
    const users = readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .filter((d) => liveArgv(Number(d))?.some((a) => a.includes(home)));
    expect(users, `processes still mentioning ${home}`).to.deep.equal([]);
  });
});
