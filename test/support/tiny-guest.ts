/**
 * A tiny real Linux guest (Debian's kernel + busybox, built by scripts/build-tiny-guest.sh) booted
 * under QEMU/TCG, so tests can check from INSIDE a running guest what a hot-plugged volume looks
 * like: its serial, whether it is read-only, its bytes, and that it is gone after a detach.
 *
 * The guest's shell is driven over its serial console (QEMU's stdio, so no socket to race for).
 * Each command runs in its own `sh -c` between unique begin/end markers that carry its exit status,
 * so kernel noise, a syntax error or a stuck command cannot confuse the next one. QMP is left to the
 * caller (the VBS QEMU driver, or a test) at DIR/ID.qmp.
 *
 * Facts found with this guest (QEMU 7.2, kernel 6.1, q35):
 * - q35's root bus pcie.0 refuses hot-plug ("Bus 'pcie.0' does not support hotplugging"): a
 *   virtio-blk-pci device_add needs `bus` = a free pcie-root-port; the guest has `hotplugBuses`.
 * - virtio-blk shows at most 20 bytes of serial in the guest (/sys/block/vdX/serial), so
 *   'vol-0123456789abcdef0' reads back as 'vol-0123456789abcdef' (hence the VBS driver's dash-less
 *   'vol0123456789abcdef0'). scsi-hd shows it whole in VPD page 0x80
 *   (/sys/block/sdX/device/vpd_pg80, after a 4-byte header).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { REPO_ROOT } from './repo.js';

export const BUILD_TINY_GUEST = join(REPO_ROOT, 'scripts', 'build-tiny-guest.sh');
export const DEFAULT_GUEST_IMAGES = join(REPO_ROOT, 'var', 'guest');
/** virtio-blk's serial field is 20 bytes (VIRTIO_BLK_ID_BYTES); the guest sees no more. */
export const VIRTIO_BLK_SERIAL_MAX = 20;

export interface TinyGuestImages {
  readonly kernel: string;
  readonly initrd: string;
  /** `uname -r` in the guest, e.g. 6.1.0-56-amd64. */
  readonly kernelRelease: string;
}

export interface TinyGuestOptions {
  /** Add `-device virtio-scsi-pci,id=scsi0`, for scsi-hd attachments (bus "scsi0.0"). */
  readonly scsi?: boolean;
  /** How many empty pcie-root-ports to add for hot-plugging PCI devices (default 4). */
  readonly hotplugPorts?: number;
  /** Where vmlinuz and initrd.img are (built there when missing); default var/guest. */
  readonly imagesDir?: string;
  /** Time allowed from spawn to a shell that answers (default 90 s; ~5 s is usual under TCG). */
  readonly bootTimeoutMs?: number;
}

export interface GuestResult {
  readonly status: number;
  readonly output: string;
}

export interface TinyGuest {
  readonly id: string;
  readonly pid: number;
  readonly qmpSocket: string;
  readonly kernelRelease: string;
  /** Free pcie-root-port ids: give one as `bus` to device_add virtio-blk-pci. */
  readonly hotplugBuses: readonly string[];
  /** The virtio-scsi controller's id when started with scsi: true ("scsi0"), else undefined. */
  readonly scsiController: string | undefined;
  /** Milliseconds from spawn to the first answered command. */
  readonly bootMs: number;
  /** Runs a shell command in the guest; resolves with its output (stdout+stderr), rejects on a non-zero status. */
  run(cmd: string, timeoutMs?: number): Promise<string>;
  /** Runs a shell command in the guest; resolves with its status and output whatever the status. */
  exec(cmd: string, timeoutMs?: number): Promise<GuestResult>;
  /**
   * Waits until a disk with this serial (e.g. the volume ID) shows in the guest: sd* by VPD page
   * 0x80, vd* by either form of virtioBlkSerials(serial). Resolves with its name, e.g. "vda".
   */
  waitForDisk(serial: string, timeoutMs?: number): Promise<string>;
  /** Waits until /sys/block/NAME is gone in the guest. */
  waitForDiskGone(name: string, timeoutMs?: number): Promise<void>;
  /** Everything the serial console printed so far (for failure messages). */
  transcript(): string;
  /** Powers the guest off (SIGKILL by PID if it does not exit in time); safe to call twice. */
  stop(): Promise<void>;
}

export class GuestCommandError extends Error {
  override readonly name = 'GuestCommandError';
  constructor(
    readonly cmd: string,
    readonly status: number,
    readonly output: string,
  ) {
    super(`guest command exited ${status}: ${cmd}\n${output}`);
  }
}

/** Quotes a string for the guest's POSIX shell. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * What a guest may show in /sys/block/vdX/serial for a device given `serial`: the first 20 bytes
 * (QEMU cuts it), or, for a longer ID, the first dash dropped then 20 bytes (what the VBS QEMU driver
 * sets for virtio-blk, as EC2 does for NVMe: "vol0123456789abcdef0").
 */
export function virtioBlkSerials(serial: string): [cut: string, dashless: string] {
  const cut = serial.slice(0, VIRTIO_BLK_SERIAL_MAX);
  const dashless =
    serial.length > VIRTIO_BLK_SERIAL_MAX ? serial.replace('-', '').slice(0, VIRTIO_BLK_SERIAL_MAX) : cut;
  return [cut, dashless];
}

const builds = new Map<string, Promise<TinyGuestImages>>();

/** Builds the guest images with scripts/build-tiny-guest.sh (a no-op when up to date). */
export function ensureTinyGuestImages(imagesDir: string = DEFAULT_GUEST_IMAGES): Promise<TinyGuestImages> {
  let p = builds.get(imagesDir);
  if (!p) {
    p = new Promise<TinyGuestImages>((resolve, reject) => {
      execFile(
        'bash',
        [BUILD_TINY_GUEST, imagesDir],
        { timeout: 600_000, maxBuffer: 16 << 20 },
        (err, _out, stderr) => {
          if (err) {
            reject(new Error(`${BUILD_TINY_GUEST} failed: ${err.message}\n${stderr}`));
            return;
          }
          resolve({
            kernel: join(imagesDir, 'vmlinuz'),
            initrd: join(imagesDir, 'initrd.img'),
            kernelRelease: readFileSync(join(imagesDir, 'kernel-release'), 'utf8').trim(),
          });
        },
      );
    });
    builds.set(imagesDir, p);
    p.catch(() => builds.delete(imagesDir));
  }
  return p;
}

/** Guests not yet stopped: killed by PID if the test process exits without stopping them. */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) {
    if (child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
});

const READY = 'TINY-GUEST-READY';
/** The tty's canonical line limit is 4095 bytes; stay well under it with the wrapper. */
const MAX_COMMAND_BYTES = 3000;
const TRANSCRIPT_MAX = 1 << 20;

interface Waiter {
  readonly test: (buffer: string) => boolean;
  readonly wake: () => void;
}

class SerialGuest implements TinyGuest {
  readonly pid: number;
  readonly hotplugBuses: readonly string[];
  readonly scsiController: string | undefined;
  kernelRelease = '';
  bootMs = 0;
  private buffer = '';
  private log = '';
  private waiters: Waiter[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private seq = 0;
  private exited: Promise<void>;
  private exitInfo: string | undefined;
  private stderr = '';

  constructor(
    readonly id: string,
    readonly qmpSocket: string,
    private readonly child: ChildProcess,
    hotplugBuses: string[],
    scsiController: string | undefined,
  ) {
    if (child.pid === undefined) throw new Error('qemu-system-x86_64 did not start');
    this.pid = child.pid;
    this.hotplugBuses = hotplugBuses;
    this.scsiController = scsiController;
    live.add(child);
    const decoder = new StringDecoder('utf8');
    child.stdout?.on('data', (chunk: Buffer) => this.feed(decoder.write(chunk).replace(/\r/g, '')));
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString('utf8')).slice(-8192);
    });
    child.stdin?.on('error', () => undefined); // EPIPE once QEMU is gone; exit is reported instead
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = `qemu exited (${signal ?? `code ${code ?? '?'}`})${this.stderr ? `: ${this.stderr.trim()}` : ''}`;
        live.delete(child);
        for (const w of this.waiters) w.wake();
        resolve();
      });
    });
  }

  private feed(text: string): void {
    this.buffer += text;
    this.log = (this.log + text).slice(-TRANSCRIPT_MAX);
    for (const w of [...this.waiters]) if (w.test(this.buffer)) w.wake();
  }

  /** Waits until test(buffer) holds, QEMU exits, or the time is up. */
  private waitFor(test: (buffer: string) => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (err?: Error): void => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((x) => x !== w);
        if (err) reject(err);
        else resolve();
      };
      const w: Waiter = {
        test,
        wake: () => {
          if (test(this.buffer)) done();
          else if (this.exitInfo !== undefined) done(new Error(`guest ${this.id}: ${what}: ${this.exitInfo}`));
        },
      };
      const timer = setTimeout(
        () => done(new Error(`guest ${this.id}: ${what}: timed out after ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.waiters.push(w);
      w.wake();
    });
  }

  async boot(timeoutMs: number, started: number): Promise<void> {
    await this.waitFor((b) => b.includes(READY), timeoutMs, 'waiting for the guest to boot');
    // The shell starts after READY: the first command answered is the proof it listens.
    this.kernelRelease = await this.run('uname -r', Math.max(5_000, timeoutMs - (Date.now() - started)));
    this.bootMs = Date.now() - started;
  }

  exec(cmd: string, timeoutMs = 30_000): Promise<GuestResult> {
    const next = this.queue.then(() => this.execNow(cmd, timeoutMs));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async execNow(cmd: string, timeoutMs: number): Promise<GuestResult> {
    if (this.exitInfo !== undefined) throw new Error(`guest ${this.id}: ${this.exitInfo}`);
    const tag = `${process.pid}x${++this.seq}x${Math.random().toString(36).slice(2, 8)}`;
    const begin = `TGB_${tag}\n`;
    const end = `TGE_${tag}:`;
    // printf '%s_%s' keeps the markers out of the command text itself, should echo ever be on.
    const line =
      `printf '%s_%s\\n' TGB ${tag}; sh -c ${shellQuote(cmd)} </dev/null 2>&1; ` +
      `printf '%s_%s:%s\\n' TGE ${tag} "$?"\n`;
    if (Buffer.byteLength(line) > MAX_COMMAND_BYTES) {
      throw new Error(`guest ${this.id}: command too long for the serial console (${cmd.length} chars)`);
    }
    const complete = (b: string): boolean => {
      const i = b.indexOf(begin);
      if (i < 0) return false;
      const j = b.indexOf(end, i + begin.length);
      return j >= 0 && b.indexOf('\n', j) >= 0;
    };
    this.child.stdin?.write(line);
    try {
      await this.waitFor(complete, timeoutMs, `running ${JSON.stringify(cmd)}`);
    } catch (err) {
      this.child.stdin?.write('\x03'); // SIGINT to the stuck command (the shell has job control)
      throw err;
    }
    const i = this.buffer.indexOf(begin) + begin.length;
    const j = this.buffer.indexOf(end, i);
    const nl = this.buffer.indexOf('\n', j);
    const output = this.buffer.slice(i, j);
    const status = Number(this.buffer.slice(j + end.length, nl));
    this.buffer = this.buffer.slice(nl + 1);
    return { status, output: output.replace(/\n$/, '') };
  }

  async run(cmd: string, timeoutMs?: number): Promise<string> {
    const r = await this.exec(cmd, timeoutMs);
    if (r.status !== 0) throw new GuestCommandError(cmd, r.status, r.output);
    return r.output;
  }

  async waitForDisk(serial: string, timeoutMs = 15_000): Promise<string> {
    const loops = Math.ceil(timeoutMs / 50);
    const [cut, dashless] = virtioBlkSerials(serial);
    const script = [
      `v=${shellQuote(cut)}; w=${shellQuote(dashless)}; s=${shellQuote(serial)}; i=0`,
      `while [ $i -lt ${loops} ]; do`,
      `  for d in /sys/block/vd*; do [ -r "$d/serial" ] && x="$(cat "$d/serial")" && [ "$x" = "$v" -o "$x" = "$w" ] && { echo "\${d##*/}"; exit 0; }; done`,
      `  for d in /sys/block/sd*; do [ -r "$d/device/vpd_pg80" ] && [ "$(tail -c +5 "$d/device/vpd_pg80")" = "$s" ] && { echo "\${d##*/}"; exit 0; }; done`,
      `  usleep 50000; i=$((i+1))`,
      `done; exit 1`,
    ].join('\n');
    const r = await this.exec(script, timeoutMs + 10_000);
    if (r.status !== 0) throw new Error(`guest ${this.id}: no disk with serial ${serial} after ${timeoutMs} ms`);
    return r.output.trim();
  }

  async waitForDiskGone(name: string, timeoutMs = 15_000): Promise<void> {
    const loops = Math.ceil(timeoutMs / 50);
    const script = `i=0; while [ -e /sys/block/${shellQuote(name)} ]; do [ $i -ge ${loops} ] && exit 1; usleep 50000; i=$((i+1)); done`;
    const r = await this.exec(script, timeoutMs + 10_000);
    if (r.status !== 0) throw new Error(`guest ${this.id}: /sys/block/${name} still there after ${timeoutMs} ms`);
  }

  transcript(): string {
    return this.log;
  }

  async stop(): Promise<void> {
    if (this.exitInfo === undefined) {
      // poweroff -f is the reboot(2) syscall: with -no-reboot QEMU exits at once.
      this.child.stdin?.write('\x03\nsync; poweroff -f\n');
      const timer = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), 5_000).unref());
      if ((await Promise.race([this.exited.then(() => 'ok' as const), timer])) === 'late') {
        try {
          process.kill(this.pid, 'SIGKILL');
        } catch {
          // exited meanwhile
        }
        await this.exited;
      }
    }
    rmSync(this.qmpSocket, { force: true });
  }
}

/**
 * Boots the tiny guest: `qemu-system-x86_64 -accel tcg -machine q35 -m 256 -nodefaults ...` with its
 * QMP socket at DIR/ID.qmp, and resolves once its shell answers. Stop it with stop().
 */
export async function startTinyGuest(dir: string, id: string, options: TinyGuestOptions = {}): Promise<TinyGuest> {
  const images = await ensureTinyGuestImages(options.imagesDir);
  const qmpSocket = join(dir, `${id}.qmp`);
  if (existsSync(qmpSocket)) rmSync(qmpSocket);
  const ports = options.hotplugPorts ?? 4;
  const hotplugBuses = Array.from({ length: ports }, (_, i) => `rp${i}`);
  const args = [
    '-accel',
    'tcg',
    '-machine',
    'q35',
    '-m',
    '256',
    '-nodefaults',
    '-display',
    'none',
    '-name',
    id,
    '-kernel',
    images.kernel,
    '-initrd',
    images.initrd,
    '-append',
    'console=ttyS0 quiet panic=-1',
    // The serial console on QEMU's stdin/stdout; signal=off so a ^C byte reaches the guest.
    '-chardev',
    'stdio,id=serial0,signal=off',
    '-serial',
    'chardev:serial0',
    '-qmp',
    `unix:${qmpSocket},server=on,wait=off`,
    '-no-reboot',
  ];
  hotplugBuses.forEach((bus, i) => args.push('-device', `pcie-root-port,id=${bus},chassis=${i + 1},slot=${i + 1}`));
  if (options.scsi) args.push('-device', 'virtio-scsi-pci,id=scsi0');
  const started = Date.now();
  const child = spawn('qemu-system-x86_64', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
  spawnError.catch(() => undefined);
  await Promise.race([new Promise((resolve) => child.once('spawn', resolve)), spawnError]);
  const guest = new SerialGuest(id, qmpSocket, child, hotplugBuses, options.scsi ? 'scsi0' : undefined);
  try {
    await guest.boot(options.bootTimeoutMs ?? 90_000, started);
  } catch (err) {
    const tail = guest.transcript().slice(-2000);
    await guest.stop();
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n--- serial console ---\n${tail}`, {
      cause: err,
    });
  }
  return guest;
}
