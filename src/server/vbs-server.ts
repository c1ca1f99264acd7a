#!/usr/bin/env node
/**
 * vbs-server: runs one VBS service from a config file, as on a cluster node
 *   vbs-server frontend --config FILE      (its `workers` processes: node:cluster, see src/frontend/cluster/)
 *   vbs-server volume-delegate --config FILE
 *   vbs-server vmm-delegate --config FILE
 * or, with `all` (what `npm start` runs), every service of a one-machine VBS as child processes with
 * the embedded defaults under $VBS_HOME (SQLite, var/volumes, a local CA in var/certs); a file
 * $VBS_HOME/<service>.json, when present, is that service's config.
 *
 * SIGTERM or SIGINT stops a service gracefully: it stops accepting connections, answers what it has
 * in flight within STOP_GRACE_MS (10 s), and exits 0 (see docs/operations.md). `all` stops the
 * frontend first, so that the requests it finishes still reach the delegates, then the delegates.
 */
import cluster from 'node:cluster';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadFrontendConfig, loadVmmDelegateConfig, loadVolumeDelegateConfig, defaultHome } from '../config/config.js';
import { startVmmDelegate } from '../delegates/vmm/vmm-delegate-app.js';
import { runFrontend } from '../frontend/cluster/run-frontend.js';
import { startVolumeDelegate } from '../delegates/volume/volume-delegate-app.js';
import { ensureLocalCa } from '../security/ca/local-tls.js';
import { STOP_GRACE_MS } from '../soap/https-host.js';
import { join } from 'node:path';
import { existsSync } from 'node:fs';

const USAGE = 'usage: vbs-server frontend|volume-delegate|vmm-delegate [--config FILE] | vbs-server all';
const SERVICES = ['volume-delegate', 'frontend', 'vmm-delegate'] as const;
/** How `all` stops its services: the frontend first (its requests in flight still need the delegates), then the rest. */
const STOP_ORDER: readonly (readonly string[])[] = [['frontend'], ['volume-delegate', 'vmm-delegate']];
/** A service drains for STOP_GRACE_MS at most (a clustered frontend's workers too); `all` kills one still running after this. */
const KILL_AFTER_MS = STOP_GRACE_MS + 10_000;
/**
 * The PID of `vbs-server all`, in its services' environment. Such a service leaves SIGINT to it:
 * Ctrl-C signals the whole process group, and `all` stops the services in order with SIGTERM.
 */
const SUPERVISOR_ENV = 'VBS_SERVER_ALL_PID';
/** Once stopped, how long a service may take to end by itself (its last log lines written) before it is ended. */
const EXIT_AFTER_MS = 2000;

function configArg(argv: readonly string[]): string | undefined {
  const i = argv.indexOf('--config');
  if (i < 0) return undefined;
  const file = argv[i + 1];
  if (file === undefined) throw new Error(USAGE);
  return file;
}

async function runOne(service: string, configFile: string | undefined): Promise<void> {
  const starters: Record<string, () => Promise<{ close(): Promise<void> } | undefined>> = {
    // A frontend worker returns nothing to stop: its primary starts and stops it.
    frontend: async () => {
      const frontend = await runFrontend(loadFrontendConfig(configFile));
      return frontend.role === 'worker' ? undefined : frontend;
    },
    'volume-delegate': () => startVolumeDelegate(loadVolumeDelegateConfig(configFile)),
    'vmm-delegate': () => startVmmDelegate(loadVmmDelegateConfig(configFile)),
  };
  const start = Object.hasOwn(starters, service) ? starters[service] : undefined;
  if (!start) throw new Error(USAGE);
  // A frontend worker handles its signals itself (src/frontend/cluster/worker.ts).
  if (service === 'frontend' && cluster.isWorker) {
    await start();
    return;
  }
  // Handled from the start: a signal while the service starts stops it as soon as it runs. A repeated
  // signal changes nothing: the stop is bounded already.
  const state: { running: { close(): Promise<void> } | undefined; stopAsked: boolean; stopping: boolean } = {
    running: undefined,
    stopAsked: false,
    stopping: false,
  };
  const stop = (): void => {
    if (!state.running) {
      state.stopAsked = true;
      return;
    }
    if (state.stopping) return;
    state.stopping = true;
    state.running.close().then(
      () => exitOnceIdle(0),
      (error: unknown) => {
        console.error(`vbs-server: the ${service} did not stop cleanly: ${String(error)}`);
        exitOnceIdle(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  // Asked at each signal: a service whose `all` has died (it has another parent now) stops on Ctrl-C again.
  process.on('SIGINT', () => {
    if (process.env[SUPERVISOR_ENV] !== String(process.ppid)) stop();
  });
  state.running = await start();
  if (state.stopAsked) stop();
}

/**
 * Ends a stopped service: it exits when its event loop is empty, so that its last log lines are
 * written; after EXIT_AFTER_MS at the latest, should anything still hold it.
 */
function exitOnceIdle(code: number): void {
  process.exitCode = code;
  setTimeout(() => process.exit(code), EXIT_AFTER_MS).unref();
}

/**
 * The first start of a one-machine VBS makes an admin user, so that the quick start needs nothing
 * else: exactly what `vbs-admin user add admin` does, run as that command.
 */
function ensureAdminCredentials(home: string): string {
  const base = join(home, 'users', 'admin', 'admin');
  if (!existsSync(`${base}.pem`)) {
    const admin = fileURLToPath(new URL('../cli/vbs-admin.js', import.meta.url));
    const r = spawnSync(process.execPath, [admin, 'user', 'add', 'admin', '--home', home], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    if (r.status !== 0) throw new Error('could not make the admin credentials (vbs-admin user add admin failed)');
  }
  return base;
}

/** One machine: every service in its own process, so that one crashing does not take the rest. */
function runAll(): void {
  const home = defaultHome();
  ensureLocalCa(join(home, 'certs'));
  const admin = ensureAdminCredentials(home);
  const self = fileURLToPath(import.meta.url);
  const configOf = (name: string): string | undefined =>
    existsSync(join(home, `${name}.json`)) ? join(home, `${name}.json`) : undefined;
  // Read here too, to say where each service really is (and to refuse a bad file before starting).
  const frontend = loadFrontendConfig(configOf('frontend'));
  const volume = loadVolumeDelegateConfig(configOf('volume-delegate'));
  const vmm = loadVmmDelegateConfig(configOf('vmm-delegate'));
  const children: { readonly name: string; readonly process: ChildProcess }[] = SERVICES.map((service) => {
    const file = configOf(service);
    const child = spawn(process.execPath, file ? [self, service, '--config', file] : [self, service], {
      stdio: 'inherit',
      env: { ...process.env, VBS_HOME: home, [SUPERVISOR_ENV]: String(process.pid) },
    });
    return { name: service, process: child };
  });
  const api = `https://${frontend.host}:${frontend.port}/vbs`;
  const endpointHint = api === 'https://127.0.0.1:8443/vbs' ? '' : ` --endpoint ${api}`;
  console.log(`VBS is starting (state in ${home}):
  frontend          ${api}   (WSDL: ${api}?wsdl; strict EC2 shapes at /ec2)
  volume delegate   https://${volume.host}:${volume.port}/volume-delegate   (volumes in ${volume.storageRoot})
  VMM delegate      https://${vmm.host}:${vmm.port}/vmm-delegate   (${vmm.driver}${vmm.driver === 'qemu' ? `: QMP sockets in ${vmm.qemuSocketDir}` : ''})
  clients trust     ${join(home, 'certs', 'ca.pem')}
  admin identity    ${admin}.pem and .key (vbs signs with them by default; enroll users with vbs-admin)
  try:              npx vbs${endpointHint} create-volume --size 1 --wait
Ctrl-C stops everything.`);
  let stopping = false;
  /** SIGTERM, and SIGKILL after KILL_AFTER_MS; true when the service exited 0. */
  const stopChild = (c: (typeof children)[number]): Promise<boolean> =>
    new Promise((resolve) => {
      const done = (): void => {
        const { exitCode, signalCode } = c.process;
        if (exitCode !== 0) console.error(`vbs-server: the ${c.name} exited (${exitCode ?? signalCode ?? 'unknown'})`);
        resolve(exitCode === 0);
      };
      if (c.process.exitCode !== null || c.process.signalCode !== null) {
        done();
        return;
      }
      const timer = setTimeout(() => {
        console.error(`vbs-server: the ${c.name} did not stop within ${KILL_AFTER_MS / 1000} s; killing it`);
        c.process.kill('SIGKILL');
      }, KILL_AFTER_MS);
      c.process.once('exit', () => {
        clearTimeout(timer);
        done();
      });
      c.process.kill('SIGTERM');
    });
  /** Stops the services in STOP_ORDER; exits with `code`, or 1 when a service did not stop cleanly. */
  const stop = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    let clean = true;
    for (const names of STOP_ORDER) {
      const stopped = await Promise.all(children.filter((c) => names.includes(c.name)).map(stopChild));
      clean &&= stopped.every(Boolean);
    }
    process.exit(code !== 0 ? code : clean ? 0 : 1);
  };
  for (const c of children) {
    c.process.once('exit', (code, signal) => {
      if (!stopping) {
        console.error(`a VBS service exited (${code ?? signal ?? 'unknown'}); stopping the others`);
        void stop(1);
      }
    });
  }
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
}

const [service, ...rest] = process.argv.slice(2);
try {
  if (service === 'all') runAll();
  else await runOne(service ?? '', configArg(rest));
} catch (error) {
  console.error(`vbs-server: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
