#!/usr/bin/env node
/**
 * vbs-server: runs one VBS service from a config file, as on a cluster node
 *   vbs-server frontend --config FILE
 *   vbs-server volume-delegate --config FILE
 *   vbs-server vmm-delegate --config FILE
 * or, with `all` (what `npm start` runs), every service of a one-machine VBS as child processes with
 * the embedded defaults under $VBS_HOME (SQLite, var/volumes, a local CA in var/certs); a file
 * $VBS_HOME/<service>.json, when present, is that service's config.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadFrontendConfig, loadVmmDelegateConfig, loadVolumeDelegateConfig, defaultHome } from '../config/config.js';
import { startVmmDelegate } from '../delegates/vmm/vmm-delegate-app.js';
import { startFrontend } from '../frontend/frontend-app.js';
import { startVolumeDelegate } from '../delegates/volume/volume-delegate-app.js';
import { ensureLocalCa } from '../security/ca/local-tls.js';
import { join } from 'node:path';
import { existsSync } from 'node:fs';

const USAGE = 'usage: vbs-server frontend|volume-delegate|vmm-delegate [--config FILE] | vbs-server all';
const SERVICES = ['volume-delegate', 'frontend', 'vmm-delegate'] as const;

function configArg(argv: readonly string[]): string | undefined {
  const i = argv.indexOf('--config');
  if (i < 0) return undefined;
  const file = argv[i + 1];
  if (file === undefined) throw new Error(USAGE);
  return file;
}

async function runOne(service: string, configFile: string | undefined): Promise<void> {
  const starters: Record<string, () => Promise<{ close(): Promise<void> }>> = {
    frontend: () => startFrontend(loadFrontendConfig(configFile)),
    'volume-delegate': () => startVolumeDelegate(loadVolumeDelegateConfig(configFile)),
    'vmm-delegate': () => startVmmDelegate(loadVmmDelegateConfig(configFile)),
  };
  const start = Object.hasOwn(starters, service) ? starters[service] : undefined;
  const running = start ? await start() : undefined;
  if (!running) throw new Error(USAGE);
  const stop = (): void => {
    void running.close().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

/** One machine: every service in its own process, so that one crashing does not take the rest. */
function runAll(): void {
  const home = defaultHome();
  ensureLocalCa(join(home, 'certs'));
  const self = fileURLToPath(import.meta.url);
  const children: ChildProcess[] = SERVICES.map((service) => {
    const file = join(home, `${service}.json`);
    const args = existsSync(file) ? [self, service, '--config', file] : [self, service];
    return spawn(process.execPath, args, { stdio: 'inherit', env: { ...process.env, VBS_HOME: home } });
  });
  console.log(`VBS is starting on 127.0.0.1 (state in ${home}):
  frontend          https://127.0.0.1:8443/vbs   (WSDL: https://127.0.0.1:8443/vbs?wsdl)
  volume delegate   https://127.0.0.1:8444/volume-delegate   (volumes in ${join(home, 'volumes')})
  VMM delegate      https://127.0.0.1:8445/vmm-delegate      (QEMU instances: QMP sockets in ${join(home, 'qemu')})
  clients trust     ${join(home, 'certs', 'ca.pem')}
  try:              npx vbs create-volume --size 1 --wait
Ctrl-C stops everything.`);
  let stopping = false;
  const stop = (code: number): void => {
    if (stopping) return;
    stopping = true;
    for (const c of children) c.kill('SIGTERM');
    setTimeout(() => process.exit(code), 3000).unref();
    Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r))))).then(() => process.exit(code));
  };
  for (const c of children) c.once('exit', (code) => { if (!stopping) { console.error(`a VBS service exited (${code ?? 'signal'}); stopping`); stop(1); } });
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
