/**
 * A private VBS for the demo: `vbs-server all` (the Volume Delegate, the frontend and a QEMU VMM
 * Delegate as its child processes) in a fresh temporary VBS_HOME, on free loopback ports given to each
 * service in $VBS_HOME/<service>.json, so that it never meets a VBS the user already runs on the
 * default ports. The services log to files in the home (read here to know when they are up, and shown
 * when something fails); what vbs-server itself prints (its banner) is kept for the demo to show.
 * It is stopped the way a user stops it, SIGINT to its PID, and then every service PID it forked
 * is checked to be gone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { get } from 'node:https';
import { join } from 'node:path';
import { SERVER_BIN } from '../../test/support/repo.js';
import { freePort } from '../../test/support/services.js';
import { argvOf, childrenOf, isRunning, signal, waitUntilGone } from './procs.js';

export const SERVICES = ['volume-delegate', 'frontend', 'vmm-delegate'] as const;
export type Service = (typeof SERVICES)[number];

/** The log line each service writes once it listens. */
const STARTED: Record<Service, string> = {
  'volume-delegate': 'volume delegate started',
  frontend: 'frontend started',
  'vmm-delegate': 'vmm delegate started',
};

export interface Ports {
  readonly frontend: number;
  readonly volumeDelegate: number;
  readonly vmmDelegate: number;
}

export interface PrivateVbsLayout {
  readonly home: string;
  readonly ports: Ports;
  readonly endpoint: string;
  readonly qemuSocketDir: string;
  /** The config files written, by service. */
  readonly configs: Readonly<Record<Service, string>>;
}

export interface StopReport {
  readonly exit: string;
  /** Service PIDs that were still running after vbs-server exited (then killed by PID). */
  readonly leftBehind: readonly number[];
}

const VMM_HOST = 'demo-node';

export const logFileOf = (home: string, service: Service): string => join(home, `${service}.log`);

/** Writes frontend.json, volume-delegate.json and vmm-delegate.json into the home. */
export async function writeConfigs(home: string): Promise<PrivateVbsLayout> {
  const ports: Ports = { frontend: await freePort(), volumeDelegate: await freePort(), vmmDelegate: await freePort() };
  const fe = `https://127.0.0.1:${ports.frontend}`;
  const qemuSocketDir = join(home, 'qemu');
  const settings: Record<Service, Record<string, unknown>> = {
    frontend: {
      port: ports.frontend,
      sweepIntervalSeconds: 1,
      logFile: logFileOf(home, 'frontend'),
      volumeDelegates: [{ id: 'vd-1', url: `https://127.0.0.1:${ports.volumeDelegate}/volume-delegate` }],
    },
    'volume-delegate': {
      port: ports.volumeDelegate,
      frontendCallbackUrl: `${fe}/vbs/callback`,
      heartbeatSeconds: 1,
      logFile: logFileOf(home, 'volume-delegate'),
    },
    'vmm-delegate': {
      port: ports.vmmDelegate,
      vmmHost: VMM_HOST,
      qemuSocketDir,
      frontendRegistryUrl: `${fe}/vbs/vmm-registry`,
      heartbeatSeconds: 2,
      inventoryPollSeconds: 0.5,
      logFile: logFileOf(home, 'vmm-delegate'),
    },
  };
  const configs = {} as Record<Service, string>;
  for (const service of SERVICES) {
    configs[service] = join(home, `${service}.json`);
    writeFileSync(configs[service], `${JSON.stringify(settings[service], null, 2)}\n`);
  }
  return { home, ports, endpoint: `${fe}/vbs`, qemuSocketDir, configs };
}

function logMessages(home: string, service: Service): Record<string, unknown>[] {
  const file = logFileOf(home, service);
  if (!existsSync(file)) return [];
  const out: Record<string, unknown>[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      const parsed: unknown = JSON.parse(line);
      if (typeof parsed === 'object' && parsed !== null) out.push(parsed as Record<string, unknown>);
    } catch {
      // a line being written
    }
  }
  return out;
}

/** The last lines of a service's log, for a failure report. */
export function logTail(home: string, service: Service, lines = 8): string {
  const file = logFileOf(home, service);
  if (!existsSync(file)) return '(no log)';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

/** True once the frontend answers HTTPS with its WSDL, trusting only the private VBS's CA. */
function frontendAnswers(endpoint: string, caFile: string): Promise<boolean> {
  if (!existsSync(caFile)) return Promise.resolve(false);
  const ca = readFileSync(caFile, 'utf8');
  return new Promise((resolve) => {
    const req = get(`${endpoint}?wsdl`, { ca, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(false));
  });
}

export class PrivateVbs {
  private readonly child: ChildProcess;
  private printed = '';
  private exitInfo: string | undefined;
  private readonly exited: Promise<void>;
  private stopped = false;
  /** The services' PIDs by name, known once ready() resolved. */
  services: { readonly service: string; readonly pid: number }[] = [];

  constructor(readonly layout: PrivateVbsLayout) {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('VBS_')) env[k] = v;
    this.child = spawn(process.execPath, [SERVER_BIN, 'all'], {
      env: { ...env, VBS_HOME: layout.home },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (this.child.pid === undefined) throw new Error('vbs-server did not start');
    const keep = (d: Buffer): void => {
      this.printed = (this.printed + d.toString('utf8')).slice(-65536);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, sig) => {
        this.exitInfo = sig ? `signal ${sig}` : `code ${code ?? '?'}`;
        resolve();
      });
      this.child.once('error', (e) => {
        this.exitInfo = e.message;
        resolve();
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get caFile(): string {
    return join(this.layout.home, 'certs', 'ca.pem');
  }

  /** Everything vbs-server and its services printed on stdout/stderr so far. */
  output(): string {
    return this.printed;
  }

  /** Waits until every service logged that it started and the frontend answers HTTPS. */
  async ready(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.exitInfo !== undefined)
        throw new Error(`vbs-server exited (${this.exitInfo}) while starting:\n${this.printed.trim()}`);
      const waiting = SERVICES.filter(
        (s) => !logMessages(this.layout.home, s).some((m) => m['message'] === STARTED[s]),
      );
      if (waiting.length === 0 && (await frontendAnswers(this.layout.endpoint, this.caFile))) break;
      if (Date.now() > deadline) {
        throw new Error(
          `VBS not up within ${timeoutMs / 1000} s (waiting for: ${waiting.length ? waiting.join(', ') : 'the frontend to answer HTTPS'})`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    this.services = childrenOf(this.pid).map((pid) => ({ service: argvOf(pid)[2] ?? '?', pid }));
  }

  /** Waits until the VMM Delegate registered these instances with the frontend (its log says so). */
  async instancesRegistered(ids: readonly string[], timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const last = logMessages(this.layout.home, 'vmm-delegate')
        .filter((m) => m['message'] === 'registered with the frontend')
        .pop();
      const instances = last?.['instances'];
      if (Array.isArray(instances) && ids.every((id) => instances.includes(id))) return;
      if (this.exitInfo !== undefined) throw new Error(`vbs-server exited (${this.exitInfo})`);
      if (Date.now() > deadline)
        throw new Error(`the VMM Delegate did not register ${ids.join(', ')} within ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * SIGINT to vbs-server's PID (what Ctrl-C does), which stops its services; then checks each service
   * PID is gone, and kills any left behind by PID so the demo leaves nothing running.
   */
  async stop(timeoutMs = 10_000): Promise<StopReport> {
    const pids = this.services.length ? this.services.map((s) => s.pid) : childrenOf(this.pid);
    if (this.exitInfo === undefined) {
      signal(this.pid, 'SIGINT');
      const late = await Promise.race([
        this.exited.then(() => false),
        new Promise<boolean>((r) => setTimeout(() => r(true), timeoutMs).unref()),
      ]);
      if (late) {
        signal(this.pid, 'SIGKILL');
        await this.exited;
        this.exitInfo = `did not exit within ${timeoutMs / 1000} s of SIGINT: killed`;
      }
    }
    const leftBehind = await waitUntilGone(pids, 5_000);
    for (const pid of leftBehind) signal(pid, 'SIGKILL');
    await waitUntilGone(leftBehind, 5_000);
    this.stopped = true;
    return { exit: this.exitInfo ?? '?', leftBehind };
  }

  /** Last resort when the demo itself exits abruptly: SIGKILL the server and its services by PID. */
  killNow(): void {
    if (this.stopped) return;
    const ours = (pid: number): boolean => isRunning(pid) && argvOf(pid).includes(SERVER_BIN);
    const pids = [...this.services.map((s) => s.pid), ...(isRunning(this.pid) ? childrenOf(this.pid) : [])].filter(
      ours,
    );
    if (this.exitInfo === undefined) signal(this.pid, 'SIGKILL');
    for (const pid of pids) signal(pid, 'SIGKILL');
  }
}
