/**
 * Why: every benchmark in this directory reports its repeated timings the same way (raw samples, their
 * median and range), so that the table, the JSON file and the documentation all mean the same thing
 * by "median" and no benchmark invents its own rounding.
 */

export interface Sample {
  /** Every timed run, in the order run, in milliseconds (0.1 ms resolution). */
  readonly runsMs: readonly number[];
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
}

export function round1(ms: number): number {
  return Math.round(ms * 10) / 10;
}

export function summarize(runsMs: readonly number[]): Sample {
  if (runsMs.length === 0) throw new Error('no runs to summarize');
  const sorted = [...runsMs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
  return {
    runsMs: runsMs.map(round1),
    medianMs: round1(median),
    minMs: round1(sorted[0] ?? 0),
    maxMs: round1(sorted[sorted.length - 1] ?? 0),
  };
}

/** Milliseconds since `start`, a value of performance.now(). */
export function since(start: number): number {
  return performance.now() - start;
}

/** A ratio rounded for reading; null when either side is missing. */
export function ratio(numerator: number | null, denominator: number | null): number | null {
  if (numerator === null || denominator === null || denominator <= 0) return null;
  const r = numerator / denominator;
  if (r >= 100) return Math.round(r);
  return r >= 10 ? Math.round(r * 10) / 10 : Math.round(r * 100) / 100;
}

export const GiB = 1024 ** 3;
export const MiB = 1024 ** 2;
