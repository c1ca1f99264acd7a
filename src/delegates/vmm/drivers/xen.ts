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
 *
 * A domain's owner is the xenstore key /local/domain/<domid>/vbs/owner (instance-owner.ts), which the
 * platform writes from dom0 when it starts the domain (`xenstore-write`, or libxl's c_info.xsdata,
 * which libxl writes there); it is read with `xenstore-read` at each listing. libxl makes the
 * domain's directory dom0's, readable but not writable by the guest, so a guest cannot claim to be
 * another tenant's; and the key goes with the domain when it is destroyed.
 */
import { VMM_COMMAND_TIMEOUT_MS, VMM_REQUEST_DEADLINE_MS } from '../../../config/config.js';
import { ExecError, run, type RunResult } from '../../exec.js';
import {
  DriverError,
  timeLeft,
  UNREACHABLE_STATE,
  type AttachRequest,
  type DetachOutcome,
  type DetachRequest,
  type DiskAttachment,
  type DriverLog,
  type InstanceInfo,
  type VmmDriver,
} from '../driver.js';
import { ownerFromText, OwnerWarnings, XENSTORE_OWNER_KEY } from './instance-owner.js';
import { instanceArg, volumePathArg } from './tool-args.js';
import { toolFailure, type FailureRule } from './tool-failure.js';
import { bareDeviceName, guestDevice, heldAsAsked, volumeIdOfFile } from './vbs-disk.js';
import { parseXlList, parseXlListLong, type XlDisk, type XlDomain } from './xl-output.js';

export interface XenDriverOptions {
  /** The xl executable (default "xl", looked up on PATH). */
  readonly command?: string;
  /** The xenstore-read executable (default "xenstore-read", looked up on PATH). */
  readonly xenstoreReadCommand?: string;
  /** Variables for xl's environment, on top of this process's. */
  readonly env?: NodeJS.ProcessEnv;
  /** How long one xl call may take (default VMM_COMMAND_TIMEOUT_MS); never past the request's deadline. */
  readonly timeoutMs?: number;
  /** A request's deadline after its arrival, when it brings none (default VMM_REQUEST_DEADLINE_MS). */
  readonly requestDeadlineMs?: number;
  readonly logger?: DriverLog;
}

/** xenstore-read runs at most this many at once while a listing reads the domains' owners. */
const OWNER_READS_AT_ONCE = 8;

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
  private readonly xenstoreReadCommand: string;
  private readonly env: NodeJS.ProcessEnv | undefined;
  private readonly timeoutMs: number;
  private readonly requestDeadlineMs: number;
  private readonly ownerWarnings: OwnerWarnings;

  constructor(options: XenDriverOptions = {}) {
    this.command = options.command ?? 'xl';
    this.xenstoreReadCommand = options.xenstoreReadCommand ?? 'xenstore-read';
    this.ownerWarnings = new OwnerWarnings(options.logger);
    this.env = options.env;
    this.timeoutMs = options.timeoutMs ?? VMM_COMMAND_TIMEOUT_MS;
    this.requestDeadlineMs = options.requestDeadlineMs ?? VMM_REQUEST_DEADLINE_MS;
  }

  async listInstances(): Promise<InstanceInfo[]> {
    const deadline = Date.now() + this.requestDeadlineMs;
    const table = (await this.xl(['list'], deadline)).stdout;
    const domains = readable(() => parseXlList(table)).filter((d) => d.domid !== 0);
    let disks: Map<string, XlDisk[]> | undefined;
    try {
      const long = (await this.xl(['list', '-l'], deadline)).stdout;
      disks = readable(() => parseXlListLong(long));
    } catch (error) {
      // xl answers but cannot tell the devices: the instances are there, their disks unknown (not none).
      if (!(error instanceof DriverError && error.kind === 'unavailable')) throw error;
    }
    const owners = await inTurn(domains, OWNER_READS_AT_ONCE, (d) => this.ownerOf(d, deadline));
    return domains.map((d, i) => {
      const owner = owners[i];
      return {
        instanceId: d.name,
        ...(disks === undefined
          ? { state: UNREACHABLE_STATE, disks: [] }
          : { state: d.state, disks: vbsDisks(d.name, disks.get(d.name) ?? []) }),
        ...(owner !== undefined ? { owner } : {}),
      };
    });
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

  /** The domain's owner, from xenstore (instance-owner.ts); undefined when unset or unreadable. */
  private async ownerOf(domain: XlDomain, deadline: number): Promise<string | undefined> {
    const key = `/local/domain/${domain.domid}/${XENSTORE_OWNER_KEY}`;
    let value: string;
    try {
      const timeoutMs = timeLeft(deadline, this.timeoutMs, 'running xenstore-read');
      value = (await run([this.xenstoreReadCommand, key], { timeoutMs, ...(this.env ? { env: this.env } : {}) }))
        .stdout;
    } catch (error) {
      // xenstore_client.c: warnx("couldn't read path %s") and exit 1 for a key that does not exist.
      if (error instanceof ExecError && error.exitCode === 1 && /couldn't read path/.test(error.stderr))
        return this.ownerWarnings.owner(domain.name, key, undefined);
      const why = error instanceof ExecError ? error.stderr.trim() || error.message : String(error);
      this.ownerWarnings.refused(domain.name, key, `xenstore-read failed: ${why.slice(0, 300)}`);
      return undefined;
    }
    // The value as xenstore-read prints it: non-printable bytes escaped (\n, \x01), then a newline.
    return this.ownerWarnings.owner(domain.name, key, ownerFromText(value));
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

/** fn over the items, at most `width` at a time, the results in the items' order. */
async function inTurn<T, R>(items: readonly T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) results[i] = await fn(items[i] as T);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return results;
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
