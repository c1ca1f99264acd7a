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
 * in flight within STOP_GRACE_MS (10 s), and exits 0 (see docs/operations.md).
 */
import cluster from 'node:cluster';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadFrontendConfig, loadVmmDelegateConfig, loadVolumeDelegateConfig, defaultHome } from '../config/config.js';
import { startVmmDelegate } from '../delegates/vmm/vmm-delegate-app.js';
import { runFrontend } from '../frontend/cluster/run-frontend.js';
import { startVolumeDelegate } from '../delegates/volume/volume-delegate-app.js';
import { ensureLocalCa } from '../security/ca/local-tls.js';
import { join } from 'node:path';
import { existsSync } from 'node:fs';

const USAGE = 'usage: vbs-server frontend|volume-delegate|vmm-delegate [--config FILE] | vbs-server all';
const SERVICES = ['volume-delegate', 'frontend', 'vmm-delegate'] as const;
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
  process.on('SIGINT', stop);
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
  const children: ChildProcess[] = SERVICES.map((service) => {
    const file = configOf(service);
    return spawn(process.execPath, file ? [self, service, '--config', file] : [self, service], {
      stdio: 'inherit',
      env: { ...process.env, VBS_HOME: home },
    });
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
  const exited = (c: ChildProcess): Promise<void> =>
    new Promise((resolve) =>
      c.exitCode !== null || c.signalCode !== null ? resolve() : c.once('exit', () => resolve()),
    );
  const stop = (code: number): void => {
    if (stopping) return;
    stopping = true;
    process.exitCode = code;
    for (const c of children) c.kill('SIGTERM');
    // A service that does not stop in time is killed; the exit code stays what it was.
    const timer = setTimeout(() => {
      for (const c of children) c.kill('SIGKILL');
    }, 5000);
    void Promise.all(children.map(exited)).then(() => {
      clearTimeout(timer);
      process.exit(code);
    });
  };
  for (const c of children) {
    c.once('exit', (code, signal) => {
      if (!stopping) {
        console.error(`a VBS service exited (${code ?? signal ?? 'unknown'}); stopping the others`);
        stop(1);
      }
    });
  }
  process.once('SIGINT', () => stop(0));
  process.once('SIGTERM', () => stop(0));
}

const [service, ...rest] = process.argv.slice(2);
try {
  if (service === 'all') runAll();
  else await runOne(service ?? '', configArg(rest));
} catch (error) {
  console.error(`vbs-server: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
