/**
 * Why: "signed against unsigned" means nothing unless the two servers differ only in the signature
 * check. This module builds one temporary VBS home (the local CA, the frontend's service certificate,
 * user alice issued into the trust store, and a few volumes in the metadata store) and starts two
 * frontend processes on it (bench/lib/frontend-server.ts): one checking signatures, one not. They
 * share the store, the volumes, the certificate and the config; each writes its own request log.
 *
 * The volumes are written through the store's own calls, in the order CreateVolume and the Volume
 * Delegate's report make them (insert "creating", record the delegate, "provisioned"), so no delegate
 * process runs during the measurement: DescribeVolumes only reads the store.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { frontendDefaults } from '../../src/config/config.js';
import { newId } from '../../src/core/ids.js';
import { volumeFilePath } from '../../src/core/paths.js';
import { SqliteStore } from '../../src/frontend/store/sqlite-store.js';
import { ensureLocalCa, ensureServiceTls } from '../../src/security/ca/local-tls.js';
import { FRONTEND_IDENTITY } from '../../src/security/identities.js';
import { TrustStore } from '../../src/security/truststore/trust-store.js';
import type { Signer } from '../../src/security/wssec/sign.js';
import type { SignatureMode } from './frontend-server.js';

const SERVER_ENTRY = fileURLToPath(new URL('./frontend-server.js', import.meta.url));
const ZONE = 'vbs-local-1a';
const STARTUP_TIMEOUT_MS = 20_000;

export interface FrontendProcess {
  readonly mode: SignatureMode;
  readonly url: string;
  /** The frontend's process: the whole frontend, or the primary of its workers (whose CPU time counts with it). */
  readonly pid: number;
  /** The processes that serve requests: [pid], or the workers. */
  readonly servingPids: readonly number[];
  readonly logFile: string;
}

export interface FrontendPair {
  readonly home: string;
  readonly caPem: string;
  readonly alice: Signer;
  /** Volumes alice owns: what every DescribeVolumes answer must list. */
  readonly aliceVolumes: number;
  readonly signed: FrontendProcess;
  readonly unsigned: FrontendProcess;
}

export interface PairOptions {
  /** Volumes of alice, and of bob (who must never appear in alice's answers). */
  readonly aliceVolumes: number;
  readonly bobVolumes: number;
  /** Extra node options for both frontends, e.g. ['--cpu-prof', '--cpu-prof-dir=DIR']. */
  readonly nodeOptions?: readonly string[];
  /** The frontends' `workers` setting, the same for both; default: the frontend's own (one per CPU). */
  readonly workers?: number;
}

async function seedVolumes(database: string, owners: readonly string[]): Promise<void> {
  const store = new SqliteStore(database);
  try {
    for (const [i, ownerId] of owners.entries()) {
      const id = newId('vol');
      const now = new Date();
      await store.insertVolume({
        id,
        ownerId,
        sizeGiB: 1 + i,
        snapshotId: null,
        zone: ZONE,
        status: 'creating',
        volumeType: i % 2 === 0 ? 'sparse' : 'thick',
        path: volumeFilePath(id),
        delegateId: 'vd-1',
        jobId: newId('job'),
        jobState: 'accepted',
        createTime: now.toISOString(),
        updatedAt: now.getTime(),
        statusMessage: null,
      });
      const done = await store.transitionVolume(id, 'provisioned');
      if (!done.changed) throw new Error(`could not make ${id} available`);
    }
  } finally {
    await store.close();
  }
}

function startServer(
  mode: SignatureMode,
  configFile: string,
  logFile: string,
  nodeOptions: readonly string[],
): Promise<{ child: ChildProcess; url: string; servingPids: number[] }> {
  const child = spawn(process.execPath, [...nodeOptions, SERVER_ENTRY, configFile, mode], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => fail(new Error(`no answer within ${STARTUP_TIMEOUT_MS} ms`)), STARTUP_TIMEOUT_MS);
    const fail = (e: Error): void => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${mode} frontend did not start: ${e.message}\n${stderr}`));
    };
    child.once('exit', (code) => fail(new Error(`exited with ${String(code)}`)));
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const line = stdout.split('\n')[0];
      if (line === undefined || !stdout.includes('\n')) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      const { origin, servingPids } = JSON.parse(line) as { origin?: unknown; servingPids?: unknown };
      if (typeof origin !== 'string' || !Array.isArray(servingPids) || !servingPids.every(Number.isInteger)) {
        fail(new Error(`unexpected first line ${line}`));
        return;
      }
      resolve({ child, url: `${origin}/vbs`, servingPids: servingPids as number[] });
    });
  });
}

function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    // Long enough for a CPU profile of a busy run to be written.
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Builds the home, starts both frontends, runs fn, and always stops them and removes the home. */
export async function withFrontendPair<T>(options: PairOptions, fn: (pair: FrontendPair) => Promise<T>): Promise<T> {
  const home = mkdtempSync(join(tmpdir(), 'vbs-bench-signed-'));
  const children: ChildProcess[] = [];
  try {
    const certDir = join(home, 'certs');
    const ca = ensureLocalCa(certDir);
    // Made once here: two frontends starting at once would each issue their own certificates.
    ensureServiceTls(certDir, FRONTEND_IDENTITY, undefined, { forRsaPeers: true });
    const trust = new TrustStore(join(home, 'trust.sqlite'), ca.certPem);
    let alice: Signer;
    try {
      const issued = trust.issueUser('alice', ca);
      trust.issueUser('bob', ca);
      alice = { certPem: issued.certPem, keyPem: issued.keyPem };
    } finally {
      trust.close();
    }
    const defaults = frontendDefaults(home);
    await seedVolumes(defaults.database, [
      ...Array.from({ length: options.aliceVolumes }, () => 'alice'),
      ...Array.from({ length: options.bobVolumes }, () => 'bob'),
    ]);
    const start = async (mode: SignatureMode): Promise<FrontendProcess> => {
      const logFile = join(home, `frontend-${mode}.log`);
      const configFile = join(home, `frontend-${mode}.json`);
      // Port 0: the kernel picks a free port and the server says which.
      // Port 0 with workers: node:cluster gives all of them the one port the kernel picked.
      writeFileSync(
        configFile,
        JSON.stringify(
          { home, port: 0, logFile, ...(options.workers === undefined ? {} : { workers: options.workers }) },
          null,
          2,
        ),
      );
      const { child, url, servingPids } = await startServer(mode, configFile, logFile, options.nodeOptions ?? []);
      children.push(child);
      return { mode, url, pid: child.pid ?? -1, servingPids, logFile };
    };
    const signed = await start('signed');
    const unsigned = await start('unsigned');
    return await fn({
      home,
      caPem: readFileSync(join(certDir, 'ca.pem'), 'utf8'),
      alice,
      aliceVolumes: options.aliceVolumes,
      signed,
      unsigned,
    });
  } finally {
    await Promise.all(children.map(stopServer));
    rmSync(home, { recursive: true, force: true });
  }
}
