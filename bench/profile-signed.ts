/**
 * Why: bench/signed-describe.ts says how fast the frontend answers signed and unsigned
 * DescribeVolumes; this says why, when a target is missed. It runs the same two frontends under the V8
 * profiler (node --cpu-prof) at one client count, then divides each step's CPU time (bench/lib/
 * cpu-profile.ts) by the requests that process served, to give ms per request for
 * parse, verify, handler and SQLite, encode, response signing, TLS, logging and GC. The requests
 * are counted by the load generator (every answer it got), not from the request log, which winston
 * writes behind the requests under load.
 *
 *   node dist/bench/profile-signed.js [--clients=64] [--seconds=5] [--keep-profiles]
 *
 * The profiler slows the server (by ~10-25 % here), so throughput is taken from the unprofiled
 * benchmark and only the shares from here. Not part of `npm run bench`.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readProfile, type Breakdown } from './lib/cpu-profile.js';
import { markdownTable } from './lib/table.js';
import { runSignedDescribe } from './signed-describe.js';
import type { SignatureMode } from './lib/frontend-server.js';

function numberArg(name: string, fallback: number): number {
  const raw = process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const value = raw === undefined ? fallback : Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

async function main(): Promise<void> {
  const clients = numberArg('clients', 64);
  const seconds = numberArg('seconds', 5);
  const keep = process.argv.includes('--keep-profiles');
  const dir = mkdtempSync(join(tmpdir(), 'vbs-bench-profile-'));
  const log = (line: string): void => {
    process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
  };
  const pids: Partial<Record<SignatureMode, number>> = {};
  try {
    const results = await runSignedDescribe(log, {
      concurrencies: [clients],
      rounds: 1,
      warmupMs: 1000,
      measureMs: seconds * 1000,
      // One process per frontend: its profile holds all of that frontend's work.
      serverNodeOptions: ['--cpu-prof', `--cpu-prof-dir=${dir}`],
      frontendWorkers: 1,
      beforeStop: async (pair) => {
        for (const server of [pair.signed, pair.unsigned]) pids[server.mode] = server.pid;
      },
    });
    const profiles: Partial<Record<SignatureMode, Breakdown>> = {};
    for (const mode of ['unsigned', 'signed'] as const) {
      const pid = pids[mode];
      const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile') && f.includes(`.${String(pid)}.`));
      if (!file) throw new Error(`no CPU profile of the ${mode} frontend (pid ${String(pid)}) in ${dir}`);
      profiles[mode] = readProfile(join(dir, file));
    }
    const served = results.requestsServed;
    const perRequest = (mode: SignatureMode, ms: number): string => (ms / Math.max(1, served[mode])).toFixed(3);
    const names = [
      ...new Set([...(profiles.unsigned?.buckets.keys() ?? []), ...(profiles.signed?.buckets.keys() ?? [])]),
    ].sort((a, b) => (profiles.signed?.buckets.get(b) ?? 0) - (profiles.signed?.buckets.get(a) ?? 0));
    const rows = names.map((n) => [
      n,
      perRequest('unsigned', profiles.unsigned?.buckets.get(n) ?? 0),
      perRequest('signed', profiles.signed?.buckets.get(n) ?? 0),
    ]);
    rows.push([
      '**total busy**',
      perRequest('unsigned', profiles.unsigned?.busyMs ?? 0),
      perRequest('signed', profiles.signed?.busyMs ?? 0),
    ]);
    // The same, summed by step ("response signing: RSA-2048 sign" counts under "response signing").
    const stepOf = (bucket: string): string => bucket.split(':')[0] ?? bucket;
    const stepTotal = (mode: SignatureMode, step: string): number =>
      [...(profiles[mode]?.buckets ?? new Map<string, number>())]
        .filter(([b]) => stepOf(b) === step)
        .reduce((a, [, ms]) => a + ms, 0);
    const steps = [...new Set(names.map(stepOf))].sort((a, b) => stepTotal('signed', b) - stepTotal('signed', a));
    const stepRows = steps.map((st) => [
      st,
      perRequest('unsigned', stepTotal('unsigned', st)),
      perRequest('signed', stepTotal('signed', st)),
    ]);
    const row = results.rows[0];
    process.stdout.write(
      [
        `## Frontend CPU per DescribeVolumes request, ${clients} clients, under the profiler`,
        '',
        `Requests served (whole process life): unsigned ${served.unsigned}, signed ${served.signed}.` +
          ` Throughput while profiled: unsigned ${row?.unsigned.requestsPerSecond ?? '—'} req/s, signed ${row?.signed.requestsPerSecond ?? '—'} req/s.`,
        `Start-up excluded: unsigned ${profiles.unsigned?.startupMs.toFixed(0) ?? '—'} ms, signed ${profiles.signed?.startupMs.toFixed(0) ?? '—'} ms.`,
        '',
        markdownTable(['Step', 'Unsigned, ms/request', 'Signed, ms/request'], stepRows),
        '',
        markdownTable(['Step: detail', 'Unsigned, ms/request', 'Signed, ms/request'], rows),
        '',
        keep ? `Profiles kept in ${dir} (open them in Chrome DevTools, Performance tab).` : '',
        '',
      ].join('\n'),
    );
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`profile failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
