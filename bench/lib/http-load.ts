/**
 * Why: a throughput figure is only the server's if the load generator is cheap and honest. This one
 * keeps exactly N requests in flight over N kept-alive HTTPS connections (a closed loop, as N real
 * clients would), takes every request body ready-made from the caller (signing happens before the
 * clock starts), warms the connections up before the window (TLS handshakes and the first requests'
 * JIT belong to no figure), and counts every answer that is not the expected one as an error.
 *
 * Throughput is the answers completed inside the window divided by its length; latencies are those of
 * the requests started inside it. If the caller runs out of bodies, the window ends there and the
 * result says so, rather than measuring a server that was left idle.
 */
import { Agent, request } from 'node:https';
import { readdirSync, readFileSync } from 'node:fs';
import { round1 } from './stats.js';

export interface LoadOptions {
  readonly url: string;
  readonly caPem: string;
  readonly soapAction: string;
  readonly concurrency: number;
  readonly warmupMs: number;
  readonly measureMs: number;
  /** The next request body, or undefined when there are no more. */
  readonly nextBody: () => string | undefined;
  /** Why an answer is wrong, or undefined when it is the expected one. */
  readonly check: (status: number, text: string) => string | undefined;
  /** The server's PID, to read its CPU time over the window (Linux /proc), its children's (a clustered frontend's workers) included. */
  readonly serverPid?: number;
}

/** One phase's raw figures; several phases (rounds) of one case are summarized together. */
export interface LoadPhase {
  readonly concurrency: number;
  /** Answers completed in the window (errors included). */
  readonly completed: number;
  /** Every answer of the phase, warm-up and after the window included. */
  readonly answered: number;
  readonly errors: number;
  readonly errorSamples: readonly string[];
  readonly windowMs: number;
  /** Latency of every request started in the window, in ms. */
  readonly latenciesMs: readonly number[];
  /** True when the bodies ran out and the window was cut short. */
  readonly bodiesRanOut: boolean;
  /** CPU time over the window, in ms: of the server (its workers included; null if unreadable) and of this process. */
  readonly serverCpuMs: number | null;
  readonly clientCpuMs: number;
  /** Wall time between the two CPU readings, in ms. */
  readonly cpuWindowMs: number;
  /** Whole-machine CPU busy over the window, in % of all cores (includes everyone else's work). */
  readonly machineBusyPercent: number | null;
}

export interface LoadResult {
  readonly concurrency: number;
  readonly phases: number;
  readonly completed: number;
  readonly errors: number;
  /** The first few error descriptions, to tell what went wrong. */
  readonly errorSamples: readonly string[];
  readonly windowMs: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Requests/s of each phase, in the order run: how much they moved. */
  readonly perPhaseRequestsPerSecond: readonly number[];
  readonly bodiesRanOut: boolean;
  /** The server's CPU time (user + system, its workers included) per completed request. */
  readonly serverCpuMsPerRequest: number | null;
  /** Share of one core the server used, in % (above 100 with several workers). */
  readonly serverCpuPercent: number | null;
  /** Share of one core this (load-generating) process used, in %. */
  readonly clientCpuPercent: number;
  /** Whole-machine CPU busy, in % of all cores (everyone's work: server, client and others). */
  readonly machineBusyPercent: number | null;
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux: /proc times are in 1/100 s

/** Fields after the "(comm)" part of /proc/PID/stat: state is field 3, ppid 4, utime 14, stime 15. */
function statFields(pid: string | number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** CPU time of `pid` and of its live children: a clustered frontend's work is done in its workers. */
function processCpuMs(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const fields = statFields(pid);
    let ticks = Number(fields[11]) + Number(fields[12]);
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const child = statFields(entry);
        if (Number(child[1]) === pid) ticks += Number(child[11]) + Number(child[12]);
      } catch {
        // It ended meanwhile.
      }
    }
    return Number.isFinite(ticks) ? (ticks * 1000) / TICKS_PER_SECOND : null;
  } catch {
    return null;
  }
}

function machineTicks(): { busy: number; total: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

interface Snapshot {
  readonly at: number;
  readonly server: number | null;
  readonly client: number;
  readonly machine: { busy: number; total: number } | null;
}

function snapshot(pid: number | undefined): Snapshot {
  const cpu = process.cpuUsage();
  return {
    at: performance.now(),
    server: processCpuMs(pid),
    client: (cpu.user + cpu.system) / 1000,
    machine: machineTicks(),
  };
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

function post(agent: Agent, url: URL, soapAction: string, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        timeout: 30_000,
        headers: {
          'content-type': 'text/xml; charset=utf-8',
          soapaction: `"${soapAction}"`,
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 30 s')));
    req.on('error', reject);
    req.end(body);
  });
}

/** Runs one closed-loop phase: warm-up, then the measured window. */
export async function runLoad(options: LoadOptions): Promise<LoadPhase> {
  const url = new URL(options.url);
  const agent = new Agent({
    keepAlive: true,
    maxSockets: options.concurrency,
    maxFreeSockets: options.concurrency,
    ca: options.caPem,
  });
  const latencies: number[] = [];
  const errorSamples: string[] = [];
  let completed = 0;
  let answered = 0;
  let errors = 0;
  let ranOutAt: number | undefined;
  const phaseStart = performance.now();
  const windowStart = phaseStart + options.warmupMs;
  let windowEnd = windowStart + options.measureMs;
  let atStart: Snapshot | undefined;
  let atEnd: Snapshot | undefined;
  const startTimer = setTimeout(() => {
    atStart = snapshot(options.serverPid);
  }, options.warmupMs);
  const endTimer = setTimeout(() => {
    atEnd ??= snapshot(options.serverPid);
  }, options.warmupMs + options.measureMs);

  const worker = async (): Promise<void> => {
    for (;;) {
      const now = performance.now();
      if (now >= windowEnd) return;
      const body = options.nextBody();
      if (body === undefined) {
        if (ranOutAt === undefined) {
          ranOutAt = now;
          windowEnd = Math.min(windowEnd, now);
          atEnd ??= snapshot(options.serverPid);
        }
        return;
      }
      let problem: string | undefined;
      try {
        const { status, text } = await post(agent, url, options.soapAction, body);
        problem = options.check(status, text);
      } catch (e) {
        problem = e instanceof Error ? e.message : String(e);
      }
      const end = performance.now();
      answered++;
      if (now >= windowStart && now < windowEnd) latencies.push(end - now);
      if (end >= windowStart && end <= windowEnd) {
        completed++;
        if (problem !== undefined) errors++;
      }
      if (problem !== undefined && errorSamples.length < 3) errorSamples.push(problem.slice(0, 300));
    }
  };
  try {
    await Promise.all(Array.from({ length: options.concurrency }, worker));
  } finally {
    clearTimeout(startTimer);
    clearTimeout(endTimer);
    agent.destroy();
  }
  if (ranOutAt !== undefined && ranOutAt <= windowStart)
    throw new Error('the request bodies ran out during the warm-up');
  const first = atStart ?? snapshot(options.serverPid);
  const last = atEnd ?? snapshot(options.serverPid);
  const machine =
    first.machine && last.machine && last.machine.total > first.machine.total
      ? (100 * (last.machine.busy - first.machine.busy)) / (last.machine.total - first.machine.total)
      : null;
  return {
    concurrency: options.concurrency,
    completed,
    answered,
    errors,
    errorSamples,
    windowMs: Math.max(1, windowEnd - windowStart),
    latenciesMs: latencies,
    bodiesRanOut: ranOutAt !== undefined,
    serverCpuMs: first.server !== null && last.server !== null ? last.server - first.server : null,
    clientCpuMs: last.client - first.client,
    cpuWindowMs: Math.max(1, last.at - first.at),
    machineBusyPercent: machine,
  };
}

/** The phases of one case taken together: rates over their summed windows, percentiles over all latencies. */
export function summarizeLoad(phases: readonly LoadPhase[]): LoadResult {
  const [head] = phases;
  if (!head) throw new Error('no phases to summarize');
  const sum = (f: (p: LoadPhase) => number): number => phases.reduce((a, p) => a + f(p), 0);
  const completed = sum((p) => p.completed);
  const windowMs = sum((p) => p.windowMs);
  const cpuWindowMs = sum((p) => p.cpuWindowMs);
  const serverKnown = phases.every((p) => p.serverCpuMs !== null);
  const serverCpu = sum((p) => p.serverCpuMs ?? 0);
  const machine = phases.map((p) => p.machineBusyPercent).filter((m): m is number => m !== null);
  const sorted = Float64Array.from(phases.flatMap((p) => p.latenciesMs)).sort();
  return {
    concurrency: head.concurrency,
    phases: phases.length,
    completed,
    errors: sum((p) => p.errors),
    errorSamples: phases.flatMap((p) => p.errorSamples).slice(0, 3),
    windowMs: Math.round(windowMs),
    requestsPerSecond: Math.round((completed * 1000) / windowMs),
    p50Ms: round1(percentile(sorted, 50)),
    p99Ms: round1(percentile(sorted, 99)),
    maxMs: round1(sorted[sorted.length - 1] ?? 0),
    perPhaseRequestsPerSecond: phases.map((p) => Math.round((p.completed * 1000) / p.windowMs)),
    bodiesRanOut: phases.some((p) => p.bodiesRanOut),
    serverCpuMsPerRequest: serverKnown && completed > 0 ? Math.round((serverCpu / completed) * 1000) / 1000 : null,
    serverCpuPercent: serverKnown ? Math.round((100 * serverCpu) / cpuWindowMs) : null,
    clientCpuPercent: Math.round((100 * sum((p) => p.clientCpuMs)) / cpuWindowMs),
    machineBusyPercent: machine.length ? Math.round(machine.reduce((a, b) => a + b, 0) / machine.length) : null,
  };
}
