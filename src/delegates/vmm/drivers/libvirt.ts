/**
 * The libvirt driver of the VMM Delegate, through `virsh`. Instances are the active domains
 * `virsh list` shows; a volume is attached live as
 *   virsh attach-disk DOMAIN /path/vol-….img vdb --sourcetype file --driver qemu --subdriver raw
 *         --serial vol-… [--mode readonly] --live
 * and detached with `virsh detach-disk DOMAIN vdb --live`, which is done only once the disk has left
 * the live XML (libvirt itself waits for the guest only briefly). The format is always given (raw), so
 * libvirt never probes the image, and the serial is the volume ID, so the guest sees which volume a
 * disk is (/dev/disk/by-id/virtio-vol-…). The disks an instance holds come from `virsh dumpxml`,
 * libvirt's own live view; they are never remembered here. An optional connection URI (-c) picks the
 * libvirt daemon, e.g. qemu:///system.
 *
 * Attach first reads the domain's disks, so that a disk already held exactly as asked is success with
 * nothing done (libvirt would refuse the duplicate target); detach of a disk not held is 'not-held'.
 * A domain's owner is <owner> in VBS's element of its <metadata> (instance-owner.ts), read from the
 * same dumpxml: the platform sets it when it defines the domain, or later with `virsh metadata`;
 * only a client of libvirt with write access can change it, never the guest.
 * Every call goes through exec.run() as an argv array: no shell ever sees a path or an ID. Each virsh
 * run is bounded by the command timeout and by the request's deadline, and so is the wait for the
 * guest to let a disk go; an attach-disk or a detach that ran out of time may still complete.
 */
import { VMM_COMMAND_TIMEOUT_MS, VMM_REQUEST_DEADLINE_MS } from '../../../config/config.js';
import { isId } from '../../../core/ids.js';
import { run, type RunResult } from '../../exec.js';
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
import { ownerFromText, OwnerWarnings } from './instance-owner.js';
import { instanceArg, volumePathArg } from './tool-args.js';
import { toolFailure, type FailureRule } from './tool-failure.js';
import { bareDeviceName, guestDevice, heldAsAsked, volumeIdOfFile } from './vbs-disk.js';
import { parseDomain, parseVirshList, type VirshDisk } from './virsh-output.js';

export interface LibvirtDriverOptions {
  /** The virsh executable (default "virsh", looked up on PATH). */
  readonly command?: string;
  /** The libvirt connection URI passed as `-c`, e.g. qemu:///system; virsh's default when absent. */
  readonly connectUri?: string;
  /** Variables for virsh's environment, on top of this process's. */
  readonly env?: NodeJS.ProcessEnv;
  /** How long one virsh call may take (default VMM_COMMAND_TIMEOUT_MS); never past the request's deadline. */
  readonly timeoutMs?: number;
  /** A request's deadline after its arrival, when it brings none (default VMM_REQUEST_DEADLINE_MS). */
  readonly requestDeadlineMs?: number;
  /** Bound on waiting, after detach-disk, for the guest to let the disk go (default 10000 ms). */
  readonly unplugTimeoutMs?: number;
  readonly logger?: DriverLog;
}

const UNPLUG_POLL_MS = 250;

/** Hot-pluggable buses by target prefix: vd -> virtio, sd -> scsi. */
const LIBVIRT_DEVICE_PREFIXES = ['vd', 'sd'] as const;

/** What virsh and libvirtd print, and what it means (tools/virsh-util.c, virsh-domain.c, qemu_hotplug.c). */
const VIRSH_FAILURES: readonly FailureRule[] = [
  { pattern: /failed to get domain|Domain not found/, kind: 'instance-not-found' },
  { pattern: /target \S+ already exists|target '\S+' duplicated/, kind: 'device-in-use' },
  { pattern: /No disk found whose source path or target is/, kind: 'disk-not-found' },
  {
    pattern:
      /failed to connect to the hypervisor|Failed to connect socket|no valid connection|Cannot recv data|End of file while reading data/,
    kind: 'unavailable',
  },
  { pattern: /Timed out during operation|cannot acquire state change lock/, kind: 'unavailable' },
];

export class LibvirtDriver implements VmmDriver {
  readonly name = 'libvirt';
  private readonly command: string;
  private readonly connectUri: string | undefined;
  private readonly env: NodeJS.ProcessEnv | undefined;
  private readonly timeoutMs: number;
  private readonly unplugTimeoutMs: number;
  private readonly requestDeadlineMs: number;
  private readonly ownerWarnings: OwnerWarnings;

  constructor(options: LibvirtDriverOptions = {}) {
    this.ownerWarnings = new OwnerWarnings(options.logger);
    this.command = options.command ?? 'virsh';
    this.connectUri = options.connectUri;
    this.env = options.env;
    this.timeoutMs = options.timeoutMs ?? VMM_COMMAND_TIMEOUT_MS;
    this.unplugTimeoutMs = options.unplugTimeoutMs ?? 10_000;
    this.requestDeadlineMs = options.requestDeadlineMs ?? VMM_REQUEST_DEADLINE_MS;
  }

  async listInstances(): Promise<InstanceInfo[]> {
    const deadline = Date.now() + this.requestDeadlineMs;
    const table = (await this.virsh(['list'], deadline)).stdout;
    const instances: InstanceInfo[] = [];
    for (const domain of readable(() => parseVirshList(table))) {
      let found: { disks: DiskAttachment[]; owner: string | undefined };
      try {
        found = await this.domainOf(domain.name, deadline);
      } catch (error) {
        if (error instanceof DriverError && error.kind === 'instance-not-found') continue; // gone meanwhile
        // Listed but not questionable now: its disks are unknown, not none.
        if (error instanceof DriverError && error.kind === 'unavailable') {
          instances.push({ instanceId: domain.name, state: UNREACHABLE_STATE, disks: [] });
          continue;
        }
        throw error;
      }
      const { disks, owner } = found;
      instances.push({
        instanceId: domain.name,
        state: domain.state,
        disks,
        ...(owner !== undefined ? { owner } : {}),
      });
    }
    return instances;
  }

  async attach(request: AttachRequest): Promise<DiskAttachment> {
    const deadline = request.deadline ?? Date.now() + this.requestDeadlineMs;
    const domain = instanceArg(request.instanceId);
    const path = volumePathArg(request.path);
    const target = bareDeviceName(request.device, LIBVIRT_DEVICE_PREFIXES);
    const attachment = {
      instanceId: request.instanceId,
      volumeId: request.volumeId,
      device: request.device,
      mode: request.mode,
    };
    if (heldAsAsked(await this.disksOf(domain, deadline), request, (d) => d === guestDevice(target))) return attachment;
    await this.virsh(
      [
        'attach-disk',
        domain,
        path,
        target,
        '--sourcetype',
        'file',
        '--driver',
        'qemu',
        '--subdriver',
        'raw',
        '--serial',
        request.volumeId,
        ...(request.mode === 'ro' ? ['--mode', 'readonly'] : []),
        '--live',
      ],
      deadline,
      true,
    );
    return attachment;
  }

  async detach(request: DetachRequest): Promise<DetachOutcome> {
    const deadline = request.deadline ?? Date.now() + this.requestDeadlineMs;
    const domain = instanceArg(request.instanceId);
    const asked = guestDevice(bareDeviceName(request.device, LIBVIRT_DEVICE_PREFIXES));
    // Only ever detach the VBS volume asked for: never a root disk, never another volume.
    const held = await this.disksOf(domain, deadline);
    const disk =
      held.find((d) => d.volumeId === request.volumeId && d.device === asked) ??
      held.find((d) => d.volumeId === request.volumeId);
    if (disk === undefined) return 'not-held';
    const target = bareDeviceName(disk.device, LIBVIRT_DEVICE_PREFIXES);
    try {
      await this.virsh(['detach-disk', domain, target, '--live'], deadline, true);
    } catch (error) {
      // Gone between the listing and the detach: not held (any more).
      if (error instanceof DriverError && error.kind === 'disk-not-found') return 'not-held';
      // An earlier detach that is still waiting for the guest: wait for it like for a new one.
      if (!(error instanceof DriverError && /already in the process of unplug/.test(error.message))) throw error;
    }
    try {
      await this.waitUntilReleased(domain, disk, deadline);
    } catch (error) {
      // The unplug was asked for and may still complete.
      throw error instanceof DriverError ? error.withEffect('unknown') : error;
    }
    return 'detached';
  }

  async health(): Promise<{ readonly healthy: boolean; readonly message: string }> {
    try {
      const table = (await this.virsh(['list'], Date.now() + this.requestDeadlineMs)).stdout;
      const domains = readable(() => parseVirshList(table));
      return {
        healthy: true,
        message: `libvirt answers${this.connectUri ? ` at ${this.connectUri}` : ''}: ${domains.length} active domain(s)`,
      };
    } catch (error) {
      return { healthy: false, message: error instanceof Error ? error.message : String(error) };
    }
  }

  async close(): Promise<void> {
    // Nothing is held between calls: every call is one virsh process with its own connection.
  }

  /**
   * libvirt returns from a live detach once QEMU was asked, and waits only briefly for the guest; the
   * disk stays in the live XML until the guest lets it go. The detach is done only when it is gone.
   */
  private async waitUntilReleased(domain: string, disk: DiskAttachment, requestDeadline: number): Promise<void> {
    const deadline = Math.min(Date.now() + this.unplugTimeoutMs, requestDeadline);
    for (;;) {
      const held = await this.disksOf(domain, requestDeadline);
      if (!held.some((d) => d.device === disk.device && d.volumeId === disk.volumeId)) return;
      if (Date.now() >= deadline) {
        throw new DriverError(
          'unavailable',
          `${domain} did not release ${disk.device} (${disk.volumeId}) within ${this.unplugTimeoutMs} ms: ` +
            'the unplug waits for the guest OS; it stays requested, and the disk leaves the listing once the guest lets go',
        );
      }
      await new Promise((resolve) => setTimeout(resolve, UNPLUG_POLL_MS));
    }
  }

  private async disksOf(instanceId: string, deadline: number): Promise<DiskAttachment[]> {
    return (await this.domainOf(instanceId, deadline)).disks;
  }

  /** The domain's VBS disks and its owner (instance-owner.ts), from one `virsh dumpxml`. */
  private async domainOf(
    instanceId: string,
    deadline: number,
  ): Promise<{ disks: DiskAttachment[]; owner: string | undefined }> {
    // By name (--domain): listed names come from libvirt and may be anything, even "--all".
    const xml = (await this.virsh(['dumpxml', '--domain', instanceId], deadline)).stdout;
    const domain = readable(() => parseDomain(xml));
    const where = `<metadata> of ${instanceId}`;
    const owner = this.ownerWarnings.owner(
      instanceId,
      where,
      domain.owner === undefined ? undefined : ownerFromText(domain.owner),
    );
    return { disks: vbsDisks(instanceId, domain.disks), owner };
  }

  /** One virsh run, within the command timeout and the deadline; `changes` for attach-disk/detach-disk. */
  private async virsh(args: readonly string[], deadline: number, changes = false): Promise<RunResult> {
    const argv: [string, ...string[]] = [
      this.command,
      ...(this.connectUri !== undefined ? ['-c', this.connectUri] : []),
      ...args,
    ];
    const timeoutMs = timeLeft(deadline, this.timeoutMs, `running virsh ${args[0] ?? ''}`);
    try {
      return await run(argv, { timeoutMs, ...(this.env ? { env: this.env } : {}) });
    } catch (error) {
      throw toolFailure(error, VIRSH_FAILURES, changes);
    }
  }
}

/** An answer of virsh that cannot be read is as good as none. */
function readable<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new DriverError('unavailable', error instanceof Error ? error.message : String(error), { cause: error });
  }
}

/** The VBS volumes among a domain's disks: by the volume file's name, else by the serial VBS gave it. */
function vbsDisks(instanceId: string, disks: readonly VirshDisk[]): DiskAttachment[] {
  const out: DiskAttachment[] = [];
  for (const d of disks) {
    if (d.device !== 'disk' && d.device !== 'lun') continue;
    const volumeId =
      (d.source !== undefined ? volumeIdOfFile(d.source) : undefined) ??
      (d.serial !== undefined && isId('vol', d.serial) ? d.serial : undefined);
    if (volumeId !== undefined)
      out.push({ instanceId, volumeId, device: guestDevice(d.target), mode: d.readonly ? 'ro' : 'rw' });
  }
  return out;
}
