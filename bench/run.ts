/**
 * Why: `npm run bench` must measure VBS and its baselines in one run on one machine, so that every
 * ratio compares figures taken minutes apart under the same conditions, print them readably, and keep
 * the raw figures (bench/results/latest.json) for docs/benchmarks.md and for later comparison.
 * `node dist/bench/run.js --only=provisioning|snapshot` runs one part and writes no file;
 * `--only=signed` runs the signed-request part and `--only=steps` the request-step part, and each
 * merges its figures into that file under its own key ("signedRequests", "requestSteps"), keeping the
 * other parts' figures (a full run rewrites the whole file).
 */
import { cpus, freemem, loadavg, release, tmpdir, totalmem } from 'node:os';
import { mkdirSync, readFileSync, statfsSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname } from 'node:path';
import { fsTypeOf, isRoot, run } from './lib/commands.js';
import { GiB, round1 } from './lib/stats.js';
import { fmtGiB, fmtMs, fmtRatio, fmtSample, markdownTable } from './lib/table.js';
import { runProvisioning, type ProvisioningResults } from './provisioning.js';
import { runSnapshot, type CopyComparison, type SnapshotResults } from './snapshot.js';
import { runSignedDescribe, type SignedResults } from './signed-describe.js';
import { requestStepsTables, runRequestSteps } from './request-steps.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RESULTS_FILE = fileURLToPath(new URL('../../bench/results/latest.json', import.meta.url));

/** Which product was measured: the commit and how many files differ from it. */
async function sourceRevision(): Promise<string> {
  try {
    const head = (await run(['git', '-C', REPO_ROOT, 'rev-parse', '--short', 'HEAD'])).trim();
    const changed = (await run(['git', '-C', REPO_ROOT, 'status', '--porcelain', '--', 'src']))
      .split('\n')
      .filter((l) => l.trim()).length;
    return changed === 0 ? head : `${head} + ${changed} uncommitted change(s) under src/`;
  } catch {
    return 'unknown';
  }
}

/** How busy the (shared) machine was: load average and the kernel's pressure-stall figures, in %. */
function load(): Record<string, number | null> {
  const psi = (kind: string): number | null => {
    try {
      const m = /^some avg10=[\d.]+ avg60=([\d.]+)/m.exec(readFileSync(`/proc/pressure/${kind}`, 'utf8'));
      return m?.[1] !== undefined ? Number(m[1]) : null;
    } catch {
      return null;
    }
  };
  return { loadAverage1m: round1(loadavg()[0] ?? 0), cpuPressureSome60s: psi('cpu'), ioPressureSome60s: psi('io') };
}

async function machine(): Promise<Record<string, unknown>> {
  const st = statfsSync(tmpdir());
  return {
    date: new Date().toISOString(),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: round1(totalmem() / GiB),
    freeMemoryGiB: round1(freemem() / GiB),
    kernel: release(),
    node: process.version,
    workDir: tmpdir(),
    fileSystem: await fsTypeOf(tmpdir()),
    diskFreeGiB: round1((st.bavail * st.bsize) / GiB),
    root: isRoot(),
    source: await sourceRevision(),
    loadAtStart: load(),
  };
}

function provisioningTable(p: ProvisioningResults): string {
  return markdownTable(
    [
      'Volume',
      'File system',
      'VBS to available, ms: median (min–max)',
      'Delegate job, ms',
      'Baseline',
      'Baseline, ms',
      'Speed-up (baseline / VBS)',
    ],
    p.rows.map((r) => [
      `${r.type} ${fmtGiB(r.sizeGiB)}`,
      r.fileSystem,
      r.skipped ? `not run: ${r.skipped.replace(/^not run: /, '')}` : fmtSample(r.vbs),
      r.delegateJob ? fmtMs(r.delegateJob.medianMs) : '—',
      r.baseline.name,
      fmtMs(r.baseline.ms),
      fmtRatio(r.speedup),
    ]),
  );
}

function snapshotRows(c: CopyComparison): string[] {
  return [
    `${fmtGiB(c.volumeGiB)} thick, ${c.dataMiB} MiB written`,
    c.fileSystem,
    fmtSample(c.vbs),
    fmtSample(c.cp),
    fmtSample(c.cpSparse),
    fmtMs(c.cpSparseSync.medianMs),
    fmtRatio(c.ratioToCp),
    fmtRatio(c.ratioToCpSparse),
  ];
}

function snapshotTable(s: SnapshotResults): string {
  const rows = [snapshotRows(s.ext4)];
  if (!('skipped' in s.xfs)) rows.push(snapshotRows(s.xfs.gib1), snapshotRows(s.xfs.gib10));
  return markdownTable(
    [
      'Snapshot of',
      'File system',
      'VBS to completed, ms',
      'cp, ms',
      'cp --sparse=always, ms',
      'then fsync, ms',
      'VBS / cp',
      'VBS / cp-sparse',
    ],
    rows,
  );
}

function signedTable(s: SignedResults): string {
  const ms = (r: { p50Ms: number; p99Ms: number }): string => `${fmtMs(r.p50Ms)} / ${fmtMs(r.p99Ms)}`;
  const cpu = (v: number | null): string => (v === null ? '—' : v.toFixed(2));
  return markdownTable(
    [
      'Clients',
      'Unsigned req/s',
      'Signed req/s',
      'Signed / unsigned',
      'Unsigned p50 / p99, ms',
      'Signed p50 / p99, ms',
      'Errors (unsigned, signed)',
      'Server CPU ms/request (unsigned, signed)',
      'Machine busy % (unsigned, signed)',
    ],
    s.rows.map((r) => [
      String(r.concurrency),
      String(r.unsigned.requestsPerSecond),
      String(r.signed.requestsPerSecond),
      fmtRatio(r.ratio),
      ms(r.unsigned),
      ms(r.signed),
      `${r.unsigned.errors}, ${r.signed.errors}`,
      `${cpu(r.unsigned.serverCpuMsPerRequest)}, ${cpu(r.signed.serverCpuMsPerRequest)}`,
      `${r.unsigned.machineBusyPercent ?? '—'}, ${r.signed.machineBusyPercent ?? '—'}`,
    ]),
  );
}

function targets(p: ProvisioningResults | undefined, s: SnapshotResults | undefined, g?: SignedResults): string[] {
  const out: string[] = [];
  if (p) {
    const t = p.target;
    out.push(
      `1 TiB sparse available within ${t.targetMs} ms: ${t.sparse1TiBMet ? 'MET' : 'NOT MET'} (median ${fmtMs(t.sparse1TiB.medianMs)} ms, max ${fmtMs(t.sparse1TiB.maxMs)} ms; sparseOvercommit ${t.sparseOvercommit})`,
    );
    out.push(
      `Sparse runs of every size (1 GiB to 1 TiB) within ${t.targetMs} ms: ${t.sparseAllSizes.within} of ${t.sparseAllSizes.runs} (slowest ${fmtMs(t.sparseAllSizes.slowestMs)} ms)`,
    );
    if (t.thick1TiBXfs)
      out.push(
        `1 TiB thick on XFS: median ${fmtMs(t.thick1TiBXfs.medianMs)} ms, max ${fmtMs(t.thick1TiBXfs.maxMs)} ms`,
      );
    if (t.thick1TiBExt4Extrapolated !== null)
      out.push(
        `1 TiB thick on ext4 (extrapolated from 1 and ${t.thick1TiBExt4ExtrapolatedFromGiB ?? '?'} GiB): ~${fmtMs(t.thick1TiBExt4Extrapolated)} ms`,
      );
  }
  if (s) {
    out.push(
      `Snapshot no slower than cp --sparse=always (VBS/cp-sparse <= ${s.targetRatio}): ${s.targetMet ? 'MET' : 'NOT MET'} (${fmtRatio(s.ext4.ratioToCpSparse)})`,
    );
    if ('skipped' in s.xfs) out.push(`Reflink snapshot: skipped (${s.xfs.skipped})`);
    else
      out.push(
        `Reflink snapshot near-constant (10 GiB / 1 GiB <= 1.5): ${s.xfs.nearConstant ? 'MET' : 'NOT MET'} (${fmtRatio(s.xfs.growth)})`,
      );
    if (!s.cachesDropped)
      out.push('Page cache could NOT be dropped between copies (not root): copies may read from cache.');
  }
  if (g) {
    const t = g.target;
    const ratios = g.rows.map((r) => `${r.concurrency}: ${fmtRatio(r.ratio)}`).join(', ');
    out.push(
      `Signed throughput >= 1/3 of unsigned at every client count: ${t.ratioMet ? 'MET' : 'NOT MET'} (${ratios})`,
    );
    out.push(
      `Signed >= ${t.minRequestsPerSecond} req/s at ${t.concurrency} clients: ${t.throughputMet ? 'MET' : 'NOT MET'} (${t.requestsPerSecond ?? '—'} req/s)`,
    );
    out.push(
      `Signed p99 < ${t.maxP99Ms} ms at ${t.concurrency} clients: ${t.p99Met ? 'MET' : 'NOT MET'} (${fmtMs(t.p99Ms)} ms)`,
    );
    if (!t.noErrors) out.push('Signed requests: some answers were errors (see errorSamples in the JSON)');
  }
  return out;
}

/** Replaces one part's key in the results file and keeps every other key as it was. */
function mergeResults(key: string, value: unknown): void {
  let existing: Record<string, unknown> = { schema: 1 };
  try {
    const parsed: unknown = JSON.parse(readFileSync(RESULTS_FILE, 'utf8'));
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
      existing = parsed as Record<string, unknown>;
  } catch (e) {
    if (!(e instanceof Error && 'code' in e && e.code === 'ENOENT')) throw e;
  }
  mkdirSync(dirname(RESULTS_FILE), { recursive: true });
  writeFileSync(RESULTS_FILE, `${JSON.stringify({ ...existing, [key]: value }, null, 1)}\n`);
}

async function main(): Promise<void> {
  const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
  const log = (line: string): void => {
    process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
  };
  const started = performance.now();
  const info = await machine();
  log(`machine: ${JSON.stringify(info)}`);
  const provisioning = only === undefined || only === 'provisioning' ? await runProvisioning(log) : undefined;
  const snapshot = only === undefined || only === 'snapshot' ? await runSnapshot(log) : undefined;
  // The machine and its load around each of these parts alone: run with --only, a part's figures are
  // merged into a file whose "machine" is another run's, perhaps on another machine.
  const measuredFrom = (): (() => Record<string, unknown>) => {
    const start = { date: new Date().toISOString(), loadAtStart: load() };
    const { cpus: n, cpuModel, kernel, node, source } = info;
    return () => ({ ...start, loadAtEnd: load(), cpus: n, cpuModel, kernel, node, source });
  };
  const signedMeasured = measuredFrom();
  const signedRun = only === undefined || only === 'signed' ? await runSignedDescribe(log) : undefined;
  const signed = signedRun && { measured: signedMeasured(), ...signedRun };
  const stepsMeasured = measuredFrom();
  const stepsRun = only === undefined || only === 'steps' ? await runRequestSteps(log) : undefined;
  const steps = stepsRun && { measured: stepsMeasured(), ...stepsRun };
  const totalSeconds = Math.round((performance.now() - started) / 1000);
  const out: string[] = [];
  if (provisioning) out.push('## Provisioning: CreateVolume to "available"', '', provisioningTable(provisioning), '');
  if (snapshot)
    out.push(
      '## Snapshot: CreateSnapshot to "completed" (page cache dropped before each copy)',
      '',
      snapshotTable(snapshot),
      '',
    );
  if (signed)
    out.push('## Signed requests: DescribeVolumes, signed against unsigned (same server)', '', signedTable(signed), '');
  if (steps)
    out.push(
      '## Request steps: each timed alone, against a baseline in the same rounds',
      '',
      requestStepsTables(steps),
    );
  const loadAtEnd = load();
  const verdicts = targets(provisioning, snapshot, signed);
  // The request-step part has no targets: alone, it prints none.
  if (verdicts.length > 0) out.push('## Targets', '', ...verdicts.map((t) => `- ${t}`), '');
  out.push(
    `Total bench time: ${totalSeconds} s`,
    `Machine load at start: ${JSON.stringify(info['loadAtStart'])}; at end: ${JSON.stringify(loadAtEnd)}`,
  );
  process.stdout.write(`${out.join('\n')}\n`);
  const results = {
    schema: 1,
    machine: { ...info, loadAtEnd },
    totalSeconds,
    provisioning,
    snapshot,
    signedRequests: signed,
    requestSteps: steps,
  };
  if (only === undefined) {
    mkdirSync(dirname(RESULTS_FILE), { recursive: true });
    writeFileSync(RESULTS_FILE, `${JSON.stringify(results, null, 1)}\n`);
    log(`raw figures written to ${RESULTS_FILE}`);
  } else if (only === 'signed') {
    mergeResults('signedRequests', signed);
    log(`signed-request figures merged into ${RESULTS_FILE} (key signedRequests)`);
  } else if (only === 'steps') {
    mergeResults('requestSteps', steps);
    log(`request-step figures merged into ${RESULTS_FILE} (key requestSteps)`);
  } else {
    process.stdout.write(`${JSON.stringify(results, null, 1)}\n`);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
