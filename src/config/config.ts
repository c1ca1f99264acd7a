/**
 * Configuration of each VBS service: a JSON file (`vbs-server SERVICE --config FILE`), with every
 * field optional and defaulted from the home directory ($VBS_HOME, default ./var), so that one machine
 * runs with no file at all and a cluster sets only what differs. Unknown or mistyped fields are
 * refused at start, naming the field, rather than ignored.
 */
import { readFileSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { availableParallelism, hostname } from 'node:os';
import { VOLUME_TYPES, type VolumeType } from '../core/records.js';

/**
 * The time limits of AttachDisk and DetachDisk, from the frontend down to the hypervisor, in one place
 * because each must be shorter than the one above it. When the frontend's call to a VMM Delegate gets
 * no answer within VMM_CALL_TIMEOUT_MS, the outcome is unknown: the attachment stays attaching or
 * detaching, and reconciliation settles it later by what the hypervisor holds. That is only right if
 * the node can no longer change what the hypervisor holds by then; were it to attach a disk after
 * reconciliation found it absent and freed the volume, the volume could be attached read-write
 * elsewhere too: two writers. So the node drops a request that has not started by
 * VMM_REQUEST_DEADLINE_MS after its arrival, never works on one past that deadline (every hypervisor
 * command and every wait is cut to the time left), and bounds each command (a QMP command, one xl or
 * virsh run) by VMM_COMMAND_TIMEOUT_MS. A frontend configured with a shorter vmmCallTimeoutSeconds
 * gives up on work a node may still finish; reconciliation still settles it, but only after
 * inFlightGraceMs (src/frontend/usecases/register-vmm.ts), which grows with the frontend's timeout.
 */
export const VMM_CALL_TIMEOUT_MS = 30_000;
export const VMM_REQUEST_DEADLINE_MS = 20_000;
export const VMM_COMMAND_TIMEOUT_MS = 10_000;

export interface Listen {
  readonly host: string;
  readonly port: number;
}

export interface FrontendConfig extends Listen {
  readonly home: string;
  readonly certDir: string;
  readonly database: string;
  readonly zones: readonly string[];
  readonly region: string;
  readonly maxVolumeSizeGiB: number;
  readonly defaultVolumeType: VolumeType;
  readonly jobDeadlineSeconds: number;
  readonly sweepIntervalSeconds: number;
  readonly volumeDelegates: readonly { readonly id: string; readonly url: string }[];
  /** How long the frontend waits for a Volume Delegate's answer; none by then means "unknown", not "refused". */
  readonly volumeDelegateTimeoutSeconds: number;
  /** The user trust store (SQLite), shared with vbs-admin. */
  readonly trustStore: string;
  /** User IDs that may see and act on every user's resources. */
  readonly admins: readonly string[];
  readonly clockSkewSeconds: number;
  /** Accept rsa-sha1/sha1 signatures, for EC2-era tooling. Off unless turned on. */
  readonly allowSha1Signatures: boolean;
  /**
   * Live entries the replay cache holds at most, and per user (docs/security.md, "Replay
   * protection"). Default: a quarter of the frontend's heap limit at 100 bytes an entry; per user an
   * eighth of that.
   */
  readonly replayCacheEntries: number | undefined;
  readonly replayCacheEntriesPerUser: number | undefined;
  /**
   * Processes that serve requests (node:cluster workers sharing the port); 1 runs the frontend as one
   * process. Default: one per CPU (os.availableParallelism()).
   */
  readonly workers: number;
  /**
   * How long the frontend waits for a VMM Delegate's answer to AttachDisk or DetachDisk (default
   * VMM_CALL_TIMEOUT_MS). Keep it longer than the nodes' VMM_REQUEST_DEADLINE_MS: see there.
   */
  readonly vmmCallTimeoutSeconds: number;
  /**
   * Each user's quota where `vbs-admin quota set` gave it none: how many volumes, how many GiB in all
   * of them, how many snapshots (null: no limit). Deleted resources do not count; error ones do.
   */
  readonly quotaVolumes: number | null;
  readonly quotaGiB: number | null;
  readonly quotaSnapshots: number | null;
  readonly logFile: string | undefined;
}

export interface VolumeDelegateConfig extends Listen {
  readonly home: string;
  readonly certDir: string;
  readonly id: string;
  readonly storageRoot: string;
  readonly journal: string;
  readonly frontendCallbackUrl: string;
  readonly lustre: 'auto' | 'on' | 'off';
  readonly stripeSizeBytes: number;
  readonly stripeCount: number;
  readonly sparseOvercommit: number;
  /**
   * The most the full sizes of this delegate's sparse volumes may add up to (made and not deleted,
   * or being made); null: sparseOvercommit times the size of the file system. Set it on a shared
   * file system with several delegates, each of which would otherwise promise the whole of it.
   */
  readonly maxPromisedSparseBytes: number | null;
  /** The most jobs the delegate runs at once; more are refused (Unavailable) and go to another delegate. */
  readonly maxConcurrentJobs: number;
  readonly maxAttempts: number;
  readonly heartbeatSeconds: number;
  /** A job whose progress has not moved for this long is stopped and fails (a hung command or file system). */
  readonly stallSeconds: number;
  readonly logFile: string | undefined;
}

export interface VmmDelegateConfig extends Listen {
  readonly home: string;
  readonly certDir: string;
  /** This node's name in the frontend's registry and in attachments (vmmHost). */
  readonly vmmHost: string;
  readonly storageRoot: string;
  readonly driver: 'qemu' | 'xen' | 'libvirt';
  readonly qemuSocketDir: string;
  readonly qemuBus: 'auto' | 'scsi' | 'virtio-blk';
  readonly libvirtUri: string | undefined;
  readonly frontendRegistryUrl: string;
  /** How the frontend reaches this delegate; default https://HOST:PORT/vmm-delegate. */
  readonly advertisedUrl: string | undefined;
  readonly heartbeatSeconds: number;
  readonly inventoryPollSeconds: number;
  readonly logFile: string | undefined;
}

export function defaultHome(): string {
  return resolve(process.env['VBS_HOME'] ?? 'var');
}

export function frontendDefaults(home: string): FrontendConfig {
  return {
    home,
    host: '127.0.0.1',
    port: 8443,
    certDir: join(home, 'certs'),
    database: join(home, 'vbs.sqlite'),
    zones: ['vbs-local-1a'],
    region: 'vbs-local-1',
    maxVolumeSizeGiB: 16384,
    defaultVolumeType: 'sparse',
    jobDeadlineSeconds: 120,
    sweepIntervalSeconds: 5,
    volumeDelegates: [{ id: 'vd-1', url: 'https://127.0.0.1:8444/volume-delegate' }],
    volumeDelegateTimeoutSeconds: 10,
    trustStore: join(home, 'trust.sqlite'),
    admins: ['admin'],
    clockSkewSeconds: 60,
    allowSha1Signatures: false,
    replayCacheEntries: undefined,
    replayCacheEntriesPerUser: undefined,
    workers: availableParallelism(),
    vmmCallTimeoutSeconds: VMM_CALL_TIMEOUT_MS / 1000,
    // EC2's limits of the 2010 API's time: 5000 volumes, 20 TiB of volumes, 10000 snapshots.
    quotaVolumes: 5000,
    quotaGiB: 20480,
    quotaSnapshots: 10000,
    logFile: undefined,
  };
}

export function volumeDelegateDefaults(home: string): VolumeDelegateConfig {
  return {
    home,
    host: '127.0.0.1',
    port: 8444,
    certDir: join(home, 'certs'),
    id: 'vd-1',
    storageRoot: join(home, 'volumes'),
    journal: join(home, 'volume-delegate-vd-1.journal'),
    frontendCallbackUrl: 'https://127.0.0.1:8443/vbs/callback',
    lustre: 'auto',
    stripeSizeBytes: 4 * 1024 * 1024,
    stripeCount: 2,
    sparseOvercommit: 8,
    maxPromisedSparseBytes: null,
    maxConcurrentJobs: 32,
    maxAttempts: 2,
    heartbeatSeconds: 5,
    stallSeconds: 120,
    logFile: undefined,
  };
}

export function vmmDelegateDefaults(home: string): VmmDelegateConfig {
  return {
    home,
    host: '127.0.0.1',
    port: 8445,
    certDir: join(home, 'certs'),
    vmmHost: defaultVmmHost(),
    storageRoot: join(home, 'volumes'),
    driver: 'qemu',
    qemuSocketDir: join(home, 'qemu'),
    qemuBus: 'auto',
    libvirtUri: undefined,
    frontendRegistryUrl: 'https://127.0.0.1:8443/vbs/vmm-registry',
    advertisedUrl: undefined,
    heartbeatSeconds: 10,
    inventoryPollSeconds: 2,
    logFile: undefined,
  };
}

/** The host name, as a VBS service name can carry it (lower case letters, digits and dashes). */
function defaultVmmHost(): string {
  return (
    hostname()
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '-')
      .replace(/^-+/, '')
      .slice(0, 48) || 'vmm'
  );
}

type Shape<T> = { readonly [K in keyof T]: (v: unknown) => boolean };

const isStr = (v: unknown): boolean => typeof v === 'string' && v.length > 0;
const isPort = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 0 && (v as number) < 65536;
const isPos = (v: unknown): boolean => typeof v === 'number' && v > 0 && Number.isFinite(v);
const isOptStr = (v: unknown): boolean => v === undefined || isStr(v);
/** A count or a size: a whole number, 0 or more (0 allows nothing); null for no limit. */
const isLimit = (v: unknown): boolean => v === null || (Number.isSafeInteger(v) && (v as number) >= 0);
/** More workers than this is a typo, not a machine (each one holds its own store and TLS state). */
const MAX_FRONTEND_WORKERS = 256;

const FRONTEND_SHAPE: Shape<FrontendConfig> = {
  home: isStr,
  host: isStr,
  port: isPort,
  certDir: isStr,
  database: isStr,
  zones: (v) => Array.isArray(v) && v.length > 0 && v.every(isStr),
  region: isStr,
  maxVolumeSizeGiB: (v) => Number.isInteger(v) && isPos(v),
  defaultVolumeType: (v) => VOLUME_TYPES.some((t) => t === v),
  jobDeadlineSeconds: isPos,
  sweepIntervalSeconds: isPos,
  volumeDelegates: (v) =>
    Array.isArray(v) &&
    v.length > 0 &&
    v.every(
      (d: unknown) =>
        typeof d === 'object' &&
        d !== null &&
        isStr((d as Record<string, unknown>)['id']) &&
        isStr((d as Record<string, unknown>)['url']),
    ),
  volumeDelegateTimeoutSeconds: isPos,
  trustStore: isStr,
  admins: (v) => Array.isArray(v) && v.every(isStr),
  clockSkewSeconds: (v) => typeof v === 'number' && v >= 0 && v <= 3600,
  allowSha1Signatures: (v) => typeof v === 'boolean',
  replayCacheEntries: (v) => v === undefined || (Number.isInteger(v) && isPos(v)),
  replayCacheEntriesPerUser: (v) => v === undefined || (Number.isInteger(v) && isPos(v)),
  workers: (v) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= MAX_FRONTEND_WORKERS,
  vmmCallTimeoutSeconds: isPos,
  quotaVolumes: isLimit,
  quotaGiB: isLimit,
  quotaSnapshots: isLimit,
  logFile: isOptStr,
};

const DELEGATE_SHAPE: Shape<VolumeDelegateConfig> = {
  home: isStr,
  host: isStr,
  port: isPort,
  certDir: isStr,
  id: (v) => typeof v === 'string' && /^[a-z0-9][a-z0-9-]{0,62}$/.test(v),
  storageRoot: isStr,
  journal: isStr,
  frontendCallbackUrl: isStr,
  lustre: (v) => v === 'auto' || v === 'on' || v === 'off',
  stripeSizeBytes: (v) => Number.isInteger(v) && isPos(v),
  stripeCount: (v) => Number.isInteger(v) && isPos(v),
  sparseOvercommit: isPos,
  maxPromisedSparseBytes: (v) => v === null || (Number.isSafeInteger(v) && isPos(v)),
  maxConcurrentJobs: (v) => Number.isInteger(v) && isPos(v),
  maxAttempts: (v) => Number.isInteger(v) && isPos(v),
  heartbeatSeconds: isPos,
  stallSeconds: isPos,
  logFile: isOptStr,
};

const VMM_SHAPE: Shape<VmmDelegateConfig> = {
  home: isStr,
  host: isStr,
  port: isPort,
  certDir: isStr,
  vmmHost: (v) => typeof v === 'string' && /^[a-z0-9][a-z0-9-]{0,47}$/.test(v),
  storageRoot: isStr,
  driver: (v) => v === 'qemu' || v === 'xen' || v === 'libvirt',
  qemuSocketDir: isStr,
  qemuBus: (v) => v === 'auto' || v === 'scsi' || v === 'virtio-blk',
  libvirtUri: isOptStr,
  frontendRegistryUrl: isStr,
  advertisedUrl: isOptStr,
  heartbeatSeconds: isPos,
  inventoryPollSeconds: isPos,
  logFile: isOptStr,
};

function merge<T extends object>(defaults: T, shape: Shape<T>, given: Record<string, unknown>, source: string): T {
  const out = new Map<string, unknown>(Object.entries(defaults));
  for (const [key, value] of Object.entries(given)) {
    const check = (shape as Record<string, ((v: unknown) => boolean) | undefined>)[key];
    if (!check) throw new Error(`${source}: unknown setting "${key}"`);
    if (!check(value)) throw new Error(`${source}: invalid value for "${key}"`);
    out.set(key, value);
  }
  return Object.fromEntries(out) as T;
}

function readJson(file: string | undefined): Record<string, unknown> {
  if (file === undefined) return {};
  const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new Error(`${file}: expected a JSON object`);
  return parsed as Record<string, unknown>;
}

/**
 * Paths in the file are taken relative to the home, which is the file's own "home", else `home` (a
 * tool's --home), else $VBS_HOME.
 */
function homeOf(given: Record<string, unknown>, home?: string): string {
  return typeof given['home'] === 'string' ? resolve(given['home']) : (home ?? defaultHome());
}

export function loadFrontendConfig(file?: string, home?: string): FrontendConfig {
  const given = readJson(file);
  return merge(frontendDefaults(homeOf(given, home)), FRONTEND_SHAPE, given, file ?? 'defaults');
}

export function loadVolumeDelegateConfig(file?: string): VolumeDelegateConfig {
  const given = readJson(file);
  const home = homeOf(given);
  const id = typeof given['id'] === 'string' ? given['id'] : 'vd-1';
  const defaults = { ...volumeDelegateDefaults(home), id, journal: join(home, `volume-delegate-${id}.journal`) };
  return merge(defaults, DELEGATE_SHAPE, given, file ?? 'defaults');
}

export function loadVmmDelegateConfig(file?: string): VmmDelegateConfig {
  const given = readJson(file);
  return merge(vmmDelegateDefaults(homeOf(given)), VMM_SHAPE, given, file ?? 'defaults');
}
