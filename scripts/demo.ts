/**
 * `npm run demo`: a guided walk for a new user through VBS's read-only sharing (paper, section 4.3).
 * One volume is written by one VM, then attached read-only to two running VMs at once, and each VM
 * shows from inside that it sees the same bytes on a read-only disk.
 *
 * Everything is real and private to the run: `vbs-server all` in a fresh temporary VBS_HOME on free
 * ports, two tiny Linux guests under QEMU/TCG whose QMP sockets sit in the VMM Delegate's socket
 * directory, and the `vbs` CLI as a user types it. Each step says what it does, shows each command
 * with its output, and checks what it shows; the first failure names its step and reason, and the
 * demo cleans up anyway and exits 1. At the end everything it started is stopped by PID and checked
 * gone, and the temporary home is removed.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { virtioBlkSerials } from '../test/support/tiny-guest.js';
import { bootGuest, guestImages, inGuest, qemuVersion, stopGuest, type TinyGuest } from './demo/guests.js';
import { failure, heading, note, say, seconds, shellWord, shown, transcript } from './demo/narrator.js';
import { PrivateVbs, SERVICES, logTail, writeConfigs } from './demo/private-vbs.js';
import { processesMentioning, signal } from './demo/procs.js';
import { connectionTo, runVbs, type VbsConnection, type VbsRun } from './demo/vbs-cli.js';

const GUEST_IDS = ['i-demo-vm1', 'i-demo-vm2'] as const;
const MESSAGE = 'hello from VBS';
const STEPS = 7;

/** A step's expectation that did not hold: its message is the reason the user reads. */
class DemoError extends Error {
  override readonly name = 'DemoError';
}

interface State {
  home?: string;
  server?: PrivateVbs;
  connection?: VbsConnection;
  guests: TinyGuest[];
  volumeId?: string;
  timings: { label: string; ms: number }[];
  current: string;
}

/** Set by Ctrl-C: the handler reports and cleans up, and the interrupted step's error is not reported. */
let interrupted = false;

const state: State = { guests: [], timings: [], current: 'setup' };

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new DemoError(`${what} is missing (an earlier step did not finish)`);
  return value;
}

function expect(ok: boolean, reason: string): void {
  if (!ok) throw new DemoError(reason);
}

async function timed(label: string, title: string, run: () => Promise<void>): Promise<void> {
  state.current = `${label} (${title})`;
  heading(`${label}: ${title}`);
  const started = Date.now();
  await run();
  state.timings.push({ label, ms: Date.now() - started });
}

/** Runs and shows a `vbs` command; unless `refusal` is expected, a non-zero exit fails the step. */
async function vbs(args: readonly string[], refusal = false): Promise<VbsRun> {
  const r = await runVbs(need(state.connection, 'the VBS connection'), args);
  transcript('$', r.typed.map(shellWord).join(' '), r.output);
  if (!refusal && r.status !== 0) throw new DemoError(`'${r.typed.join(' ')}' exited ${r.status}: ${r.output.trim()}`);
  if (refusal && r.status === 0) throw new DemoError(`'${r.typed.join(' ')}' succeeded but VBS should have refused it`);
  return r;
}

const guest = (i: number): TinyGuest => need(state.guests[i], `guest ${GUEST_IDS[i] ?? i}`);

// ---- setup ----

async function setup(): Promise<void> {
  await timed('Setup', 'a private VBS and two running VMs', async () => {
    say('This demo shows read-only sharing (VBS paper, section 4.3): a volume is attached read-write to one VM,');
    say('which writes to it; then read-only to two VMs at once, which both read what was written and cannot');
    say('change it. It starts its own private VBS and two tiny Linux VMs, and removes all of it at the end.');
    say('');
    say(`Checking for QEMU (the VMs run under TCG, software emulation, so no KVM is needed): ${await qemuVersion()}`);
    const images = await guestImages();
    say(`Guest images: Debian's kernel ${images.kernelRelease} and a busybox initrd (${images.kernel}).`);

    const home = mkdtempSync(join(tmpdir(), 'vbs-demo-'));
    state.home = home;
    const layout = await writeConfigs(home);
    say(`\nStarting VBS in a fresh temporary home, ${home}, on free ports (one config file per service):`);
    say(`  frontend.json         port ${layout.ports.frontend}`);
    say(`  volume-delegate.json  port ${layout.ports.volumeDelegate}, reports to the frontend`);
    say(
      `  vmm-delegate.json     port ${layout.ports.vmmDelegate}, QEMU instances = the QMP sockets in ${layout.qemuSocketDir}`,
    );
    const server = new PrivateVbs(layout);
    state.server = server;
    transcript(
      '$',
      `VBS_HOME=${shellWord(home)} node dist/src/server/vbs-server.js all &`,
      `[started: vbs-server pid ${server.pid}]`,
    );
    const t0 = Date.now();
    await server.ready();
    const banner = server.output();
    say(
      `vbs-server printed:\n${banner
        .trimEnd()
        .split('\n')
        .map((l) => `    | ${l}`)
        .join('\n')}`,
    );
    if (/:8443\b/.test(banner) && layout.ports.frontend !== 8443) {
      note(
        `the banner names the default ports; this VBS listens where its config files say: frontend ${layout.endpoint}`,
      );
    }
    shown(
      `VBS answers at ${layout.endpoint} after ${seconds(Date.now() - t0)}; its services: ` +
        server.services.map((s) => `${s.service} pid ${s.pid}`).join(', '),
    );
    expect(
      SERVICES.every((s) => server.services.some((x) => x.service === s)),
      `vbs-server should run ${SERVICES.join(', ')} as child processes`,
    );

    say(`\nBooting two VMs under QEMU, each with its QMP socket in the VMM Delegate's directory:`);
    say(
      `  qemu-system-x86_64 -accel tcg -machine q35 -m 256 ... -qmp unix:${layout.qemuSocketDir}/<ID>.qmp,server=on,wait=off`,
    );
    const booted = await Promise.allSettled(GUEST_IDS.map((id) => bootGuest(layout.qemuSocketDir, id)));
    for (const b of booted) if (b.status === 'fulfilled') state.guests.push(b.value);
    const failed = booted.find((b): b is PromiseRejectedResult => b.status === 'rejected');
    if (failed)
      throw new DemoError(
        `a VM did not boot: ${String(failed.reason instanceof Error ? failed.reason.message : failed.reason)}`,
      );
    for (const g of state.guests)
      shown(`${g.id} is running Linux ${g.kernelRelease} (qemu pid ${g.pid}), booted in ${seconds(g.bootMs)}`);
    await server.instancesRegistered(GUEST_IDS);
    shown(`the VMM Delegate found both QMP sockets and registered ${GUEST_IDS.join(' and ')} with the frontend`);

    state.connection = connectionTo(home, layout.endpoint, banner);
    say('\nThe vbs client finds this VBS through these variables (and trusts $VBS_HOME/certs/ca.pem); in your own');
    say('shell, `npx vbs` runs the same client:');
    transcript(
      '$',
      `export ${Object.entries(state.connection.env)
        .map(([k, v]) => `${k}=${shellWord(v)}`)
        .join(' ')}`,
      '',
    );
  });
}

// ---- the steps ----

async function step1CreateVolume(): Promise<void> {
  await timed(`Step 1 of ${STEPS}`, 'create a 1 GiB volume', async () => {
    say('CreateVolume makes a 1 GiB volume file on the storage root; --wait follows it until it is available.');
    const r = await vbs(['create-volume', '--size', '1', '--wait']);
    const id = /\bvol-[0-9a-f]{8,17}\b/.exec(r.output)?.[0];
    expect(id !== undefined, 'create-volume printed no volume ID');
    expect(/\bavailable\b/.test(r.output), 'the new volume is not shown as available');
    state.volumeId = id;
    shown(`volume ${id ?? ''} is available`);
  });
}

/** Waits for the volume's disk in a guest (found by its serial) and shows it. */
async function diskIn(g: TinyGuest, volumeId: string): Promise<string> {
  const disk = await g.waitForDisk(volumeId);
  const serial = await inGuest(g, `cat /sys/block/${disk}/serial`);
  expect(
    virtioBlkSerials(volumeId).includes(serial.output.trim()),
    `${g.id}: ${disk} has serial ${serial.output.trim()}, not the volume's`,
  );
  return disk;
}

async function step2WriteOnce(): Promise<void> {
  await timed(`Step 2 of ${STEPS}`, `attach read-write to ${GUEST_IDS[0]}, write a message, detach`, async () => {
    const volumeId = need(state.volumeId, 'the volume');
    const vm1 = guest(0);
    say(`AttachVolume (mode rw, the default) hot-plugs the volume file into ${vm1.id} as a virtio disk.`);
    await vbs(['attach-volume', volumeId, '--instance', vm1.id, '--device', '/dev/vdb']);
    say(`Inside ${vm1.id}, the disk's serial is the volume ID (without its dash: virtio-blk keeps 20 bytes).`);
    say('Linux names disks itself, in order, so the device VBS records (/dev/vdb) may differ from the name inside:');
    const disk = await diskIn(vm1, volumeId);
    const ro = await inGuest(vm1, `cat /sys/block/${disk}/ro`);
    expect(
      ro.output.trim() === '0',
      `${vm1.id}: /sys/block/${disk}/ro is ${ro.output.trim()}, expected 0 (read-write)`,
    );
    shown(`${vm1.id} sees /dev/${disk} read-write (ro=0)`);
    say('The VM writes a short message at the start of the disk, and reads it back:');
    const write = await inGuest(vm1, `printf ${shellWord(MESSAGE)} | dd of=/dev/${disk} conv=fsync`);
    expect(write.status === 0, `${vm1.id}: writing to /dev/${disk} failed (exit ${write.status})`);
    const back = await inGuest(vm1, `head -c ${MESSAGE.length} /dev/${disk}; echo`);
    expect(back.output.trim() === MESSAGE, `${vm1.id}: read back '${back.output.trim()}'`);
    say('DetachVolume unplugs the disk; the volume is available again, with the message on it.');
    await vbs(['detach-volume', volumeId]);
    await vm1.waitForDiskGone(disk);
    shown(`${vm1.id} wrote '${MESSAGE}' onto ${volumeId}; the disk is detached`);
  });
}

async function step3ShareReadOnly(): Promise<void> {
  await timed(`Step 3 of ${STEPS}`, 'attach read-only to both VMs', async () => {
    const volumeId = need(state.volumeId, 'the volume');
    const [vm1, vm2] = [guest(0), guest(1)];
    say('With --mode ro, VBS attaches a volume to any number of VMs at once; QEMU opens the file read-only');
    say('and the guest kernel sees a read-only disk.');
    await vbs(['attach-volume', volumeId, '--instance', vm1.id, '--device', '/dev/vdb', '--mode', 'ro']);
    say(
      `While it is attached read-only, VBS refuses to attach it read-write to another VM (one writer, or many readers):`,
    );
    const refused = await vbs(['attach-volume', volumeId, '--instance', vm2.id, '--device', '/dev/vdb'], true);
    expect(
      /VolumeInUse/.test(refused.output),
      `the read-write attach was refused, but not with VolumeInUse: ${refused.output.trim()}`,
    );
    shown('read-write attach refused (VolumeInUse)');
    say('Read-only, it may:');
    await vbs(['attach-volume', volumeId, '--instance', vm2.id, '--device', '/dev/vdb', '--mode', 'ro']);
    for (const g of [vm1, vm2]) {
      say(`\nIn ${g.id}:`);
      const disk = await diskIn(g, volumeId);
      const ro = await inGuest(g, `cat /sys/block/${disk}/ro`);
      expect(ro.output.trim() === '1', `${g.id}: /sys/block/${disk}/ro is ${ro.output.trim()}, expected 1 (read-only)`);
      const back = await inGuest(g, `head -c ${MESSAGE.length} /dev/${disk}; echo`);
      expect(
        back.output.trim() === MESSAGE,
        `${g.id}: read '${back.output.trim()}' from the shared disk, expected '${MESSAGE}'`,
      );
      if (g === vm2) {
        say('A write is refused by the guest kernel:');
        const write = await inGuest(g, `printf 'overwritten' | dd of=/dev/${disk} conv=fsync`);
        expect(write.status !== 0, `${g.id}: a write to the read-only disk succeeded`);
      }
      shown(`${g.id}: /dev/${disk} is read-only (ro=1) and holds '${back.output.trim()}'`);
    }
  });
}

async function step4Describe(): Promise<void> {
  await timed(`Step 4 of ${STEPS}`, 'the volume with its two read-only attachments', async () => {
    const volumeId = need(state.volumeId, 'the volume');
    say('DescribeVolumes lists each attachment as instance:device(status,mode):');
    const r = await vbs(['describe-volumes', volumeId]);
    for (const id of GUEST_IDS) {
      expect(
        r.output.includes(`${id}:/dev/vdb(attached,ro)`),
        `describe-volumes does not show ${id}:/dev/vdb(attached,ro)`,
      );
    }
    expect(/\bin-use\b/.test(r.output), 'the volume is not shown in-use');
    shown(`${volumeId} is in-use with two read-only attachments: ${GUEST_IDS.join(', ')}`);
  });
}

async function step5Detach(): Promise<void> {
  await timed(`Step 5 of ${STEPS}`, 'detach from both VMs', async () => {
    const volumeId = need(state.volumeId, 'the volume');
    say('With several attachments, DetachVolume needs the instance named:');
    for (const [i] of GUEST_IDS.entries()) {
      const g = guest(i);
      const disk = await g.waitForDisk(volumeId);
      await vbs(['detach-volume', volumeId, '--instance', g.id]);
      await g.waitForDiskGone(disk);
      const left = await inGuest(
        g,
        `ls /sys/block; [ -e /sys/block/${disk} ] && echo "${disk} still there" || echo "no ${disk}"`,
      );
      expect(left.output.includes(`no ${disk}`), `${g.id}: /sys/block/${disk} is still there after the detach`);
      shown(`${g.id}: the disk is gone`);
    }
    const r = await vbs(['describe-volumes', volumeId]);
    expect(/\bavailable\b/.test(r.output), 'the volume is not available after the last detach');
    shown(`${volumeId} is available again, attached nowhere`);
  });
}

async function step6Delete(): Promise<void> {
  await timed(`Step 6 of ${STEPS}`, 'delete the volume', async () => {
    const volumeId = need(state.volumeId, 'the volume');
    say('DeleteVolume removes the volume file; --wait follows it until the frontend no longer knows it.');
    const r = await vbs(['delete-volume', volumeId, '--wait']);
    expect(r.output.includes(`${volumeId} deleted`), 'delete-volume did not report the volume deleted');
    const file = join(need(state.home, 'the VBS home'), 'volumes', 'volumes', `${volumeId}.img`);
    expect(!existsSync(file), `the volume file ${file} is still there`);
    shown(`the volume file $VBS_HOME/volumes/volumes/${volumeId}.img is gone`);
    const all = await vbs(['describe-volumes']);
    expect(!all.output.includes(volumeId), `describe-volumes still lists ${volumeId}`);
    shown(`${volumeId} deleted; describe-volumes lists no volume`);
  });
}

// ---- clean-up ----

let cleaning: Promise<string[]> | undefined;

/** Stops every guest and the server by PID, checks they are gone, removes the home; returns problems. */
function cleanUp(): Promise<string[]> {
  cleaning ??= (async () => {
    const problems: string[] = [];
    for (const g of state.guests) {
      if (await stopGuest(g)) say(`  stopped ${g.id} (qemu pid ${g.pid}): gone`);
      else problems.push(`qemu pid ${g.pid} (${g.id}) is still running`);
    }
    if (state.server) {
      const server = state.server;
      const report = await server.stop();
      say(`  stopped vbs-server (pid ${server.pid}) with SIGINT: it exited (${report.exit})`);
      for (const s of server.services) {
        if (report.leftBehind.includes(s.pid))
          problems.push(`vbs-server left its ${s.service} (pid ${s.pid}) running after it exited (killed by PID)`);
        else say(`  ${s.service} (pid ${s.pid}): gone`);
      }
      if (!/^code 0$/.test(report.exit) && state.current.startsWith(`Step ${STEPS}`))
        problems.push(`vbs-server exited with ${report.exit} on SIGINT, not 0`);
    }
    if (state.home) {
      const stragglers = processesMentioning(state.home);
      for (const pid of stragglers) signal(pid, 'SIGKILL');
      if (stragglers.length)
        problems.push(`processes still using ${state.home}: pids ${stragglers.join(', ')} (killed)`);
      rmSync(state.home, { recursive: true, force: true });
      say(`  removed ${state.home}`);
    }
    return problems;
  })();
  return cleaning;
}

async function step7CleanUp(): Promise<void> {
  await timed(`Step ${STEPS} of ${STEPS}`, 'stop everything and clean up', async () => {
    say('Stopping the VMs by their QEMU PIDs and vbs-server by its PID with SIGINT (as Ctrl-C would), which');
    say('stops its three services; then checking that every one of those processes is gone.');
    const problems = await cleanUp();
    if (problems.length) throw new DemoError(problems.join('; '));
  });
}

function summary(): void {
  heading('What you saw');
  const vol = state.volumeId ?? 'the volume';
  say(`- VBS created ${vol} (1 GiB) and attached it read-write to ${GUEST_IDS[0]}, which wrote '${MESSAGE}' on it.`);
  say(`- VBS then attached it read-only to ${GUEST_IDS.join(' and ')} at the same time: both saw a read-only`);
  say(`  disk (ro=1) holding '${MESSAGE}'; a write inside a VM failed, and a read-write attach was refused.`);
  say('- describe-volumes showed both read-only attachments; after detaching, the disk was gone from both VMs.');
  say('- The volume was deleted, and everything the demo started was stopped and its temporary home removed.');
  say(
    `Timings: ${state.timings.map((t) => `${t.label} ${seconds(t.ms)}`).join(', ')}; total ${seconds(state.timings.reduce((a, t) => a + t.ms, 0))}.`,
  );
}

function diagnostics(): void {
  const home = state.home;
  if (!home || !state.server) return;
  say('\nWhat the services logged last:');
  for (const s of SERVICES)
    say(
      `  ${s}:\n${logTail(home, s)
        .split('\n')
        .map((l) => `    ${l}`)
        .join('\n')}`,
    );
  const printed = state.server.output().trim();
  if (printed)
    say(
      `  vbs-server printed:\n${printed
        .split('\n')
        .slice(-10)
        .map((l) => `    ${l}`)
        .join('\n')}`,
    );
}

async function main(): Promise<number> {
  const stepsRun = [
    setup,
    step1CreateVolume,
    step2WriteOnce,
    step3ShareReadOnly,
    step4Describe,
    step5Detach,
    step6Delete,
    step7CleanUp,
  ];
  try {
    for (const run of stepsRun) await run();
    summary();
    return 0;
  } catch (error) {
    if (interrupted) return 130; // the SIGINT handler reports and cleans up
    const reason = error instanceof Error ? error.message : String(error);
    failure(`${state.current} failed: ${reason}`);
    diagnostics();
    say('\nCleaning up anyway:');
    const problems = await cleanUp().catch((e: unknown) => [String(e)]);
    for (const p of problems) say(`  problem: ${p}`);
    return 1;
  }
}

// Ctrl-C on the demo: clean up, then exit 130. An abrupt exit still kills what was started, by PID.
process.once('SIGINT', () => {
  interrupted = true;
  failure(`interrupted during ${state.current}`);
  say('\nCleaning up:');
  void cleanUp().finally(() => process.exit(130));
});
process.on('exit', () => state.server?.killNow());

process.exitCode = await main();
