/**
 * Starts real VBS services as separate processes on loopback, each with its own config file in a
 * temporary home, as an operator would run them on a cluster; and stops them by their own PIDs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { SERVER_BIN } from './repo.js';
import { ensureLocalCa } from '../../src/security/ca/local-tls.js';
import { TrustStore } from '../../src/security/truststore/trust-store.js';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** A user's credentials, as vbs-admin user add gives them. */
export interface UserCredentials {
  readonly userId: string;
  readonly certPem: string;
  readonly keyPem: string;
}

/** Users every test cluster has: two ordinary users and the configured admin. */
export const TEST_USERS = ['alice', 'bob', 'admin'] as const;
export type TestUser = (typeof TEST_USERS)[number];

export interface ServiceProcess {
  readonly name: string;
  readonly configFile: string;
  readonly logFile: string;
  child: ChildProcess;
}

export interface Cluster {
  readonly home: string;
  readonly frontendUrl: string;
  /** The strict EC2 endpoint: Amazon's 2010-08-31 shapes without VBS extensions. */
  readonly ec2Url: string;
  readonly caPem: string;
  readonly users: Readonly<Record<TestUser, UserCredentials>>;
  readonly frontend: ServiceProcess;
  readonly delegates: ServiceProcess[];
  readonly vmms: ServiceProcess[];
  /** Starts a stopped (or killed) service again with the same config. */
  restart(service: ServiceProcess, extraEnv?: NodeJS.ProcessEnv): Promise<void>;
  kill(service: ServiceProcess, signal?: NodeJS.Signals): Promise<void>;
  logLines(service: ServiceProcess): Record<string, unknown>[];
  stop(): Promise<void>;
}

export interface ClusterOptions {
  readonly delegates?: number;
  readonly frontend?: Record<string, unknown>;
  readonly delegate?: (index: number) => Record<string, unknown>;
  /** The URL the frontend is given for each Volume Delegate (e.g. a proxy in front of it). */
  readonly delegateUrlForFrontend?: (delegateId: string, url: string) => string | Promise<string>;
  /** VMM Delegates to start (named vmm-1, vmm-2, ...), each with these config overrides. */
  readonly vmms?: readonly Record<string, unknown>[];
  readonly env?: NodeJS.ProcessEnv;
  /** Runs after the services stopped and before the home is removed (e.g. to stop test VMs). */
  readonly beforeRemove?: (home: string) => Promise<void>;
}

async function waitForLog(logFile: string, message: string, child: ChildProcess, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${logFile}: process exited with ${child.exitCode}`);
    if (existsSync(logFile) && readFileSync(logFile, 'utf8').includes(`"message":"${message}"`)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${logFile}: no "${message}" within ${timeoutMs} ms`);
}

function launch(
  name: string,
  service: string,
  configFile: string,
  logFile: string,
  env: NodeJS.ProcessEnv,
  startedMessage: string,
): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [SERVER_BIN, service, '--config', configFile], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env,
  });
  let stderr = '';
  // Kept beside the log: a service that dies says why there.
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    appendFileSync(`${logFile}.stderr`, d);
  });
  const proc: ServiceProcess = { name, configFile, logFile, child };
  return waitForLog(logFile, startedMessage, child).then(
    () => proc,
    (e: unknown) => {
      child.kill('SIGKILL');
      throw new Error(`${String(e)}\n${stderr}`);
    },
  );
}

function stopProcess(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const home = mkdtempSync(join(tmpdir(), 'vbs-it-'));
  const env = { ...process.env, ...options.env, VBS_HOME: home };
  // The CA and the users exist before any service starts, as after `vbs-admin ca init` and `user add`.
  const ca = ensureLocalCa(join(home, 'certs'));
  const trust = new TrustStore(join(home, 'trust.sqlite'), ca.certPem);
  const users = Object.fromEntries(
    TEST_USERS.map((name) => {
      const issued = trust.issueUser(name, ca);
      // Where vbs-admin user add puts them, so that the vbs CLI finds the admin's by default.
      const dir = join(home, 'users', name);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      writeFileSync(join(dir, `${name}.pem`), issued.certPem);
      writeFileSync(join(dir, `${name}.key`), issued.keyPem, { mode: 0o600 });
      return [name, { userId: name, certPem: issued.certPem, keyPem: issued.keyPem }];
    }),
  ) as Record<TestUser, UserCredentials>;
  trust.close();
  const frontendPort = await freePort();
  const count = options.delegates ?? 1;
  const delegateSpecs = await Promise.all(
    Array.from({ length: count }, async (_, i) => ({ id: `vd-${i + 1}`, port: await freePort() })),
  );
  const frontendConfig = {
    home,
    port: frontendPort,
    logFile: join(home, 'frontend.log'),
    sweepIntervalSeconds: 1,
    volumeDelegates: await Promise.all(
      delegateSpecs.map(async (d) => {
        const url = `https://127.0.0.1:${d.port}/volume-delegate`;
        return { id: d.id, url: (await options.delegateUrlForFrontend?.(d.id, url)) ?? url };
      }),
    ),
    ...options.frontend,
  };
  const frontendFile = join(home, 'frontend.json');
  writeFileSync(frontendFile, JSON.stringify(frontendConfig, null, 2));
  const delegates: ServiceProcess[] = [];
  try {
    for (const [i, d] of delegateSpecs.entries()) {
      const file = join(home, `${d.id}.json`);
      const logFile = join(home, `${d.id}.log`);
      writeFileSync(
        file,
        JSON.stringify(
          {
            home,
            id: d.id,
            port: d.port,
            logFile,
            frontendCallbackUrl: `https://127.0.0.1:${frontendPort}/vbs/callback`,
            heartbeatSeconds: 1,
            ...options.delegate?.(i),
          },
          null,
          2,
        ),
      );
      delegates.push(await launch(d.id, 'volume-delegate', file, logFile, env, 'volume delegate started'));
    }
  } catch (e) {
    await Promise.all(delegates.map((d) => stopProcess(d.child, 'SIGKILL')));
    throw e;
  }
  const frontend = await launch(
    'frontend',
    'frontend',
    frontendFile,
    frontendConfig.logFile,
    env,
    'frontend started',
  ).catch(async (e: unknown) => {
    await Promise.all(delegates.map((d) => stopProcess(d.child, 'SIGKILL')));
    throw e;
  });
  const vmms: ServiceProcess[] = [];
  try {
    for (const [i, overrides] of (options.vmms ?? []).entries()) {
      const name = `vmm-${i + 1}`;
      const file = join(home, `${name}.json`);
      const logFile = join(home, `${name}.log`);
      writeFileSync(
        file,
        JSON.stringify(
          {
            home,
            vmmHost: name,
            port: await freePort(),
            logFile,
            qemuSocketDir: join(home, 'qemu', name),
            frontendRegistryUrl: `https://127.0.0.1:${frontendPort}/vbs/vmm-registry`,
            heartbeatSeconds: 2,
            inventoryPollSeconds: 0.5,
            ...overrides,
          },
          null,
          2,
        ),
      );
      vmms.push(await launch(name, 'vmm-delegate', file, logFile, env, 'vmm delegate started'));
    }
  } catch (e) {
    await Promise.all([frontend, ...delegates, ...vmms].map((d) => stopProcess(d.child, 'SIGKILL')));
    throw e;
  }
  const all = [frontend, ...delegates, ...vmms];
  const started = (s: ServiceProcess): string =>
    s === frontend ? 'frontend started' : vmms.includes(s) ? 'vmm delegate started' : 'volume delegate started';
  const serviceOf = (s: ServiceProcess): string =>
    s === frontend ? 'frontend' : vmms.includes(s) ? 'vmm-delegate' : 'volume-delegate';
  return {
    home,
    frontendUrl: `https://127.0.0.1:${frontendPort}/vbs`,
    ec2Url: `https://127.0.0.1:${frontendPort}/ec2`,
    caPem: readFileSync(join(home, 'certs', 'ca.pem'), 'utf8'),
    users,
    frontend,
    delegates,
    vmms,
    async restart(s, extraEnv = {}) {
      const before = existsSync(s.logFile) ? readFileSync(s.logFile, 'utf8') : '';
      writeFileSync(s.logFile, '');
      writeFileSync(`${s.logFile}.before-restart`, before);
      const fresh = await launch(s.name, serviceOf(s), s.configFile, s.logFile, { ...env, ...extraEnv }, started(s));
      s.child = fresh.child;
    },
    async kill(s, signal = 'SIGKILL') {
      await stopProcess(s.child, signal);
    },
    logLines(s) {
      const text = [`${s.logFile}.before-restart`, s.logFile]
        .filter(existsSync)
        .map((f) => readFileSync(f, 'utf8'))
        .join('\n');
      return text
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    async stop() {
      await Promise.all(all.map((s) => stopProcess(s.child, 'SIGTERM')));
      if (process.env['VBS_KEEP_TEST_HOME']) return;
      await options.beforeRemove?.(home);
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/** Waits until a VMM Delegate has registered these instances with the frontend (its log says so). */
export async function waitForInstances(
  cluster: Cluster,
  vmm: ServiceProcess,
  instanceIds: readonly string[],
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const registered = cluster.logLines(vmm).filter((l) => l['message'] === 'registered with the frontend');
    const last = registered[registered.length - 1]?.['instances'];
    if (Array.isArray(last) && instanceIds.every((id) => last.includes(id))) return;
    if (Date.now() > deadline)
      throw new Error(`${vmm.name}: instances ${instanceIds.join(', ')} not registered within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
