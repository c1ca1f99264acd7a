/**
 * The Xen driver of the VMM Delegate: today's form of the paper's `xm block-attach`, through Xen's
 * `xl` tool. Instances are the domains `xl list` shows (Domain-0 excepted); a volume is attached as
 *   xl block-attach DOMAIN format=raw,vdev=xvdb,access=rw|ro,target=/path/vol-….img
 * and detached with `xl block-detach DOMAIN xvdb`. The format is always given, so nothing probes
 * the image; target= comes last because xl's disk-spec parser lets it eat the rest of the string,
 * commas included. The disks an instance holds come from `xl list -l`, libxl's own record of the
 * domain's devices (see xl-output.ts); they are never remembered here.
 *
 * Attach first reads the domain's disks, so that a disk already held exactly as asked is success with
 * nothing done (xl would refuse the second block-attach); detach of a disk not held is 'not-held'.
 * Every call goes through exec.run() as an argv array: no shell ever sees a path. Each xl run is
 * bounded by the command timeout and by the request's deadline; an xl block-attach or block-detach
 * cut off by its timeout (or libxl giving up on a backend still closing) may have acted, or still may.
 */
import { VMM_COMMAND_TIMEOUT_MS, VMM_REQUEST_DEADLINE_MS } from '../../../config/config.js';
import { run, type RunResult } from '../../exec.js';
import {
  DriverError,
  timeLeft,
  UNREACHABLE_STATE,
  type AttachRequest,
  type DetachOutcome,
  type DetachRequest,
  type DiskAttachment,
  type InstanceInfo,
  type VmmDriver,
} from '../driver.js';
import { instanceArg, volumePathArg } from './tool-args.js';
import { toolFailure, type FailureRule } from './tool-failure.js';
import { bareDeviceName, guestDevice, heldAsAsked, volumeIdOfFile } from './vbs-disk.js';
import { parseXlList, parseXlListLong, type XlDisk } from './xl-output.js';

export interface XenDriverOptions {
  /** The xl executable (default "xl", looked up on PATH). */
  readonly command?: string;
  /** Variables for xl's environment, on top of this process's. */
  readonly env?: NodeJS.ProcessEnv;
  /** How long one xl call may take (default VMM_COMMAND_TIMEOUT_MS); never past the request's deadline. */
  readonly timeoutMs?: number;
  /** A request's deadline after its arrival, when it brings none (default VMM_REQUEST_DEADLINE_MS). */
  readonly requestDeadlineMs?: number;
}

/** Guest device names libxl accepts as a vdev (libxl__device_disk_dev_number). */
const XEN_DEVICE_PREFIXES = ['xvd', 'sd', 'hd'] as const;

/** What xl and libxl print, and what it means (tools/xl/xl_block.c, xl_utils.c, libxl_disk.c). */
const XL_FAILURES: readonly FailureRule[] = [
  { pattern: /is an invalid domain identifier|Error: Domain '.*' does not exist/, kind: 'instance-not-found' },
  { pattern: /device already exists/, kind: 'device-in-use' },
  { pattern: /Error: Device \S+ not connected/, kind: 'disk-not-found' },
  // The backend did not close in time: the guest has not let the disk go (as the QEMU driver says it);
  // the removal stays requested, and may complete.
  { pattern: /libxl_device_disk_(safe_)?remove failed/, kind: 'unavailable', effect: 'unknown' },
  {
    pattern: /cannot init xl context|cannot open libxc handle|cannot connect to xenstore|xencall: error/,
    kind: 'unavailable',
  },
];

export class XenDriver implements VmmDriver {
  readonly name = 'xen';
  private readonly command: string;
  private readonly env: NodeJS.ProcessEnv | undefined;
  private readonly timeoutMs: number;
  private readonly requestDeadlineMs: number;

  constructor(options: XenDriverOptions = {}) {
    this.command = options.command ?? 'xl';
    this.env = options.env;
    this.timeoutMs = options.timeoutMs ?? VMM_COMMAND_TIMEOUT_MS;
    this.requestDeadlineMs = options.requestDeadlineMs ?? VMM_REQUEST_DEADLINE_MS;
  }

  async listInstances(): Promise<InstanceInfo[]> {
    const deadline = Date.now() + this.requestDeadlineMs;
    const table = (await this.xl(['list'], deadline)).stdout;
    const domains = readable(() => parseXlList(table)).filter((d) => d.domid !== 0);
    let disks: Map<string, XlDisk[]>;
    try {
      const long = (await this.xl(['list', '-l'], deadline)).stdout;
      disks = readable(() => parseXlListLong(long));
    } catch (error) {
      // xl answers but cannot tell the devices: the instances are there, their disks unknown (not none).
      if (error instanceof DriverError && error.kind === 'unavailable') {
        return domains.map((d) => ({ instanceId: d.name, state: UNREACHABLE_STATE, disks: [] }));
      }
      throw error;
    }
    return domains.map((d) => ({
      instanceId: d.name,
      state: d.state,
      disks: vbsDisks(d.name, disks.get(d.name) ?? []),
    }));
  }

  async attach(request: AttachRequest): Promise<DiskAttachment> {
    const deadline = request.deadline ?? Date.now() + this.requestDeadlineMs;
    const domain = instanceArg(request.instanceId);
    const path = volumePathArg(request.path);
    const vdev = bareDeviceName(request.device, XEN_DEVICE_PREFIXES);
    // xl's spec parser stops at a newline (flex's "." in target=.*); such a path cannot be said to xl.
    // eslint-disable-next-line no-control-regex -- a control character would end or split xl's disk spec
    if (/[\0-\x1f\x7f]/.test(path)) {
      throw new DriverError('refused', `xl cannot take a disk path with control characters: ${JSON.stringify(path)}`);
    }
    const attachment = {
      instanceId: request.instanceId,
      volumeId: request.volumeId,
      device: request.device,
      mode: request.mode,
    };
    if (heldAsAsked(await this.disksOf(domain, deadline), request, (d) => d === guestDevice(vdev))) return attachment;
    const spec = `format=raw,vdev=${vdev},access=${request.mode},target=${path}`;
    await this.xl(['block-attach', domain, spec], deadline, true);
    return attachment;
  }

  async detach(request: DetachRequest): Promise<DetachOutcome> {
    const deadline = request.deadline ?? Date.now() + this.requestDeadlineMs;
    const domain = instanceArg(request.instanceId);
    const vdev = bareDeviceName(request.device, XEN_DEVICE_PREFIXES);
    // Only ever detach the VBS volume asked for: never a root disk, never another volume.
    const held = await this.disksOf(domain, deadline);
    const disk =
      held.find((d) => d.volumeId === request.volumeId && d.device === guestDevice(vdev)) ??
      held.find((d) => d.volumeId === request.volumeId);
    if (disk === undefined) return 'not-held';
    try {
      await this.xl(['block-detach', domain, bareDeviceName(disk.device, XEN_DEVICE_PREFIXES)], deadline, true);
    } catch (error) {
      // Gone between the listing and the detach: not held (any more).
      if (error instanceof DriverError && error.kind === 'disk-not-found') return 'not-held';
      throw error;
    }
    return 'detached';
  }

  async health(): Promise<{ readonly healthy: boolean; readonly message: string }> {
    try {
      const table = (await this.xl(['list'], Date.now() + this.requestDeadlineMs)).stdout;
      const domains = readable(() => parseXlList(table));
      return { healthy: true, message: `xl answers: ${domains.length} domain(s) including Domain-0` };
    } catch (error) {
      return { healthy: false, message: error instanceof Error ? error.message : String(error) };
    }
  }

  async close(): Promise<void> {
    // Nothing is held between calls: every call is one xl process.
  }

  private async disksOf(instanceId: string, deadline: number): Promise<DiskAttachment[]> {
    const long = (await this.xl(['list', '-l', instanceId], deadline)).stdout;
    const disks = readable(() => parseXlListLong(long));
    return vbsDisks(instanceId, disks.get(instanceId) ?? []);
  }

  /** One xl run, within the command timeout and the deadline; `changes` for block-attach/-detach. */
  private async xl(args: readonly string[], deadline: number, changes = false): Promise<RunResult> {
    const timeoutMs = timeLeft(deadline, this.timeoutMs, `running xl ${args[0] ?? ''}`);
    try {
      return await run([this.command, ...args], { timeoutMs, ...(this.env ? { env: this.env } : {}) });
    } catch (error) {
      throw toolFailure(error, XL_FAILURES, changes);
    }
  }
}

/** An answer of xl that cannot be read is as good as none. */
function readable<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new DriverError('unavailable', error instanceof Error ? error.message : String(error), { cause: error });
  }
}

function vbsDisks(instanceId: string, disks: readonly XlDisk[]): DiskAttachment[] {
  const out: DiskAttachment[] = [];
  for (const d of disks) {
    const volumeId = volumeIdOfFile(d.target);
    if (volumeId !== undefined)
      out.push({ instanceId, volumeId, device: guestDevice(d.vdev), mode: d.readwrite ? 'rw' : 'ro' });
  }
  return out;
}
