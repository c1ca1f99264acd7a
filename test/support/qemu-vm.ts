/**
 * Diskless QEMU VMs for tests: real QEMU processes (TCG, paused with -S, no firmware run) whose QMP
 * sockets the QEMU driver talks to. They start in ~50 ms and are stopped by their own PID, so a test
 * never touches a QEMU it did not start. Started through src/delegates/exec.ts (argv only).
 *
 * Hot-unplug without a guest OS (measured, see /work/shared/guides/test-environment.md): scsi-hd on
 * virtio-scsi-pci completes at once; virtio-blk-pci completes at once only on q35 with ACPI hotplug
 * of bridges off (native PCIe hotplug on an unpowered root port), never on "pc".
 *
 * qemuFixture() builds the QEMU driver's test fixture on them: a temporary directory with a QMP socket
 * directory and a volume directory, two VMs and a QemuDriver; its teardown stops every VM it started.
 */
import { mkdir, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/delegates/exec.js';
import { QemuDriver, type QemuDriverOptions } from '../../src/delegates/vmm/drivers/qemu.js';
import { QmpClient } from '../../src/delegates/vmm/qmp-client.js';
import type { DriverFixture } from '../conformance/vmm-driver.js';

export interface TestVmOptions {
  /** Adds -device virtio-scsi-pci,id=scsi0. */
  readonly scsi?: boolean;
  /** Default q35. */
  readonly machine?: 'q35' | 'pc';
  /** q35 only: this many pcie-root-port devices (rp1..rpN) with native PCIe hotplug. */
  readonly pciePorts?: number;
}

export interface TestVm {
  readonly id: string;
  readonly pid: number;
  readonly socket: string;
  /** Quits via QMP, SIGKILLs the PID if QEMU does not exit within 2 s; idempotent. */
  stop(): Promise<void>;
  /** SIGKILL now, leaving the socket file behind (a crashed VM). */
  kill(): Promise<void>;
}

function qemuArgs(socket: string, options: TestVmOptions): string[] {
  const machine = options.machine ?? 'q35';
  const args = [
    '-S',
    '-nodefaults',
    '-display',
    'none',
    '-accel',
    'tcg',
    '-machine',
    machine,
    '-m',
    '64',
    '-qmp',
    `unix:${socket},server=on,wait=off`,
  ];
  if (options.scsi) args.push('-device', 'virtio-scsi-pci,id=scsi0');
  const ports = options.pciePorts ?? 0;
  if (machine === 'q35' && ports > 0) {
    args.push('-global', 'ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off');
    for (let i = 1; i <= ports; i++) args.push('-device', `pcie-root-port,id=rp${i},chassis=${i},slot=${i}`);
  }
  return args;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function startTestVm(dir: string, id: string, options: TestVmOptions = {}): Promise<TestVm> {
  const socket = join(dir, `${id}.qmp`);
  const spawned: { pid?: number } = {};
  const life = { exited: false };
  let exitMessage = '';
  const exit = run(['qemu-system-x86_64', ...qemuArgs(socket, options)], {
    onSpawn: (p) => {
      spawned.pid = p;
    },
  })
    .then(
      () => undefined,
      (e: unknown) => {
        exitMessage = e instanceof Error ? e.message : String(e);
      },
    )
    .finally(() => {
      life.exited = true;
    });
  const ownPid = spawned.pid;
  if (ownPid === undefined) {
    await exit;
    throw new Error(`qemu-system-x86_64 did not start: ${exitMessage}`);
  }

  const kill = async (): Promise<void> => {
    if (!life.exited) process.kill(ownPid, 'SIGKILL');
    await exit;
  };
  const stop = async (): Promise<void> => {
    if (!life.exited) {
      try {
        const qmp = await QmpClient.connect(socket, { timeoutMs: 1000 });
        await qmp.execute('quit').catch(() => undefined); // QEMU may close before it answers
        await qmp.close();
      } catch {
        // not answering: the SIGKILL below ends it
      }
      await Promise.race([exit, sleep(2000)]);
      await kill();
    }
    await rm(socket, { force: true });
  };

  const deadline = Date.now() + 10_000;
  for (;;) {
    if (life.exited) throw new Error(`QEMU ${id} exited at start: ${exitMessage}`);
    try {
      const qmp = await QmpClient.connect(socket, { timeoutMs: 1000 });
      await qmp.close();
      break;
    } catch (e) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`QEMU ${id} did not answer on ${socket}: ${String(e)}`, { cause: e });
      }
      await sleep(10);
    }
  }
  return { id, pid: ownPid, socket, stop, kill };
}

export interface QemuFixture extends DriverFixture {
  readonly dir: string;
  readonly socketDir: string;
  readonly vms: TestVm[];
  /** Starts one more VM in the socket directory; teardown stops it too. */
  addVm(id: string, options: TestVmOptions): Promise<TestVm>;
  /** A driver on the same sockets, as a restarted VMM Delegate would make. */
  newDriver(options?: Omit<QemuDriverOptions, 'socketDir'>): QemuDriver;
}

export const INSTANCE_A = 'i-0000000000000000a';
export const INSTANCE_B = 'i-0000000000000000b';

export async function qemuFixture(
  vm: TestVmOptions,
  devicePrefix: 'sd' | 'vd',
  driverOptions: Omit<QemuDriverOptions, 'socketDir'> = {},
): Promise<QemuFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'vbs-qemu-'));
  const socketDir = join(dir, 'qmp');
  const volumeDir = join(dir, 'volumes');
  await mkdir(socketDir);
  await mkdir(volumeDir);
  const vms: TestVm[] = [];
  const drivers: QemuDriver[] = [];
  const addVm = async (id: string, options: TestVmOptions): Promise<TestVm> => {
    const started = await startTestVm(socketDir, id, options);
    vms.push(started);
    return started;
  };
  const newDriver = (options: Omit<QemuDriverOptions, 'socketDir'> = driverOptions): QemuDriver => {
    const d = new QemuDriver({ socketDir, ...options });
    drivers.push(d);
    return d;
  };
  const teardown = async (): Promise<void> => {
    await Promise.all(drivers.map((d) => d.close()));
    await Promise.all(vms.map((v) => v.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  const started = await Promise.allSettled([addVm(INSTANCE_A, vm), addVm(INSTANCE_B, vm)]);
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await teardown();
    throw failed.reason;
  }
  return {
    dir,
    socketDir,
    vms,
    driver: newDriver(),
    instances: [INSTANCE_A, INSTANCE_B],
    device: (index) => `/dev/${devicePrefix}${String.fromCharCode('b'.charCodeAt(0) + index)}`,
    volumeFile: async (volumeId) => {
      const path = join(volumeDir, `${volumeId}.img`);
      await writeFile(path, '');
      await truncate(path, 1 << 20);
      return path;
    },
    addVm,
    newDriver,
    teardown,
  };
}
