/**
 * Why: the steps of one request cost from a fraction of a microsecond to a few milliseconds, on a
 * shared 2-CPU machine whose load moves by the second. A single mean per step, taken minutes apart from
 * its baseline's, would compare two different machines. So the steps of one group are timed in
 * rounds, round-robin (each step one batch per round, the starting step rotating), and every step is
 * reported as the median of its per-round means, next to the baseline timed in the very same rounds.
 * The main figure is this process's CPU time: wall time also counts the time spent waiting for a CPU
 * that other work holds, which on a busy machine can double it; wall time is kept beside it.
 * Batches are sized by time, not by count, so that a 0.3 µs step and a 5 ms one both get enough calls
 * per round. Nothing here judges a figure: it measures and returns.
 */

export interface MicroStep {
  readonly id: string;
  readonly label: string;
  /** The call timed; what it returns is ignored. */
  readonly call: () => unknown;
  /**
   * Untimed work before every call (e.g. another connection's commit), for a step that exists only
   * after it. Such calls are timed one by one, `callsPerRound` of them per round.
   */
  readonly before?: () => void;
  readonly callsPerRound?: number;
}

export interface MicroTiming {
  /** Median over the rounds of the round's mean CPU time (user + system of this process) per call, in µs. */
  readonly cpuUsPerCall: number;
  /** The fastest and slowest round's mean. */
  readonly cpuMinUs: number;
  readonly cpuMaxUs: number;
  /** The same median from wall time. */
  readonly wallUsPerCall: number;
  readonly callsPerRound: number;
  readonly rounds: number;
}

export interface MicroOptions {
  readonly rounds: number;
  /** Wall time each batch aims at. */
  readonly batchMs: number;
  /** Untimed calls before the rounds (JIT, caches), and the estimate that sizes the batch. */
  readonly warmupMs: number;
}

export const MICRO_DEFAULTS: MicroOptions = { rounds: 11, batchMs: 50, warmupMs: 200 };

interface Batch {
  readonly wallUs: number;
  readonly cpuUs: number;
}

function cpuNowUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

function timeBatch(step: MicroStep, calls: number): Batch {
  if (step.before) {
    let wallNs = 0n;
    let cpuUs = 0;
    for (let i = 0; i < calls; i++) {
      step.before();
      const cpu = cpuNowUs();
      const start = process.hrtime.bigint();
      step.call();
      wallNs += process.hrtime.bigint() - start;
      cpuUs += cpuNowUs() - cpu;
    }
    return { wallUs: Number(wallNs) / 1000 / calls, cpuUs: cpuUs / calls };
  }
  const cpu = cpuNowUs();
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) step.call();
  const wallUs = Number(process.hrtime.bigint() - start) / 1000 / calls;
  return { wallUs, cpuUs: (cpuNowUs() - cpu) / calls };
}

/** Warms the step up and returns how many calls fill one batch. */
function calibrate(step: MicroStep, options: MicroOptions): number {
  if (step.before) {
    const calls = step.callsPerRound ?? 10;
    timeBatch(step, calls);
    return calls;
  }
  let calls = 0;
  const start = performance.now();
  while (calls < 20 || performance.now() - start < options.warmupMs) {
    step.call();
    calls++;
  }
  const msPerCall = (performance.now() - start) / calls;
  return Math.max(1, Math.ceil(options.batchMs / msPerCall));
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** Three significant digits: enough to read, and no fake precision in the JSON. */
function sig3(us: number): number {
  return Number(us.toPrecision(3));
}

/**
 * Times every step in `rounds` round-robin rounds; `progress` is told after each round.
 * Returns the timings by step id.
 */
export function timeRoundRobin(
  steps: readonly MicroStep[],
  options: MicroOptions,
  progress: (round: number, rounds: number) => void,
): Map<string, MicroTiming> {
  const calls = steps.map((s) => calibrate(s, options));
  const batches: Batch[][] = steps.map(() => []);
  for (let round = 0; round < options.rounds; round++) {
    for (let k = 0; k < steps.length; k++) {
      const i = (round + k) % steps.length;
      const step = steps[i];
      const n = calls[i];
      if (step === undefined || n === undefined) continue;
      batches[i]?.push(timeBatch(step, n));
    }
    progress(round + 1, options.rounds);
  }
  const out = new Map<string, MicroTiming>();
  steps.forEach((step, i) => {
    const cpu = (batches[i] ?? []).map((b) => b.cpuUs);
    out.set(step.id, {
      cpuUsPerCall: sig3(median(cpu)),
      cpuMinUs: sig3(Math.min(...cpu)),
      cpuMaxUs: sig3(Math.max(...cpu)),
      wallUsPerCall: sig3(median((batches[i] ?? []).map((b) => b.wallUs))),
      callsPerRound: calls[i] ?? 0,
      rounds: options.rounds,
    });
  });
  return out;
}

/** A time ratio to two significant digits (0.0043, 0.77, 12): shares of a step can be tiny. */
export function timeRatio(us: number, baselineUs: number): number | null {
  return baselineUs > 0 ? Number((us / baselineUs).toPrecision(2)) : null;
}
