/**
 * Why: every figure of the request-step part is read against another one timed in the same rounds
 * (a naive implementation, the previous choice, or the whole a step is part of), so a section is a
 * list of steps each naming its baseline by id, timed together, and returned as rows that carry the
 * ratio. The ratio is always this step's time over its baseline's: below 1 means faster than the
 * baseline, or the share of it that this step takes.
 */
import { timeRatio, timeRoundRobin, type MicroOptions, type MicroStep, type MicroTiming } from '../lib/micro-timing.js';

export interface SectionStep extends MicroStep {
  /** The id of the step this one is compared with; it must be in the same section. */
  readonly baseline?: string;
}

export interface StepRow {
  readonly id: string;
  readonly step: string;
  readonly timing: MicroTiming;
  readonly baseline: string | null;
  /** This step's median CPU time over its baseline's. */
  readonly ratio: number | null;
}

export interface StepSection {
  readonly title: string;
  readonly rows: readonly StepRow[];
  /** What a reader needs to read the rows right (sizes, what a baseline does and does not do). */
  readonly notes: readonly string[];
}

export function measureSection(
  title: string,
  steps: readonly SectionStep[],
  notes: readonly string[],
  options: MicroOptions,
  log: (line: string) => void,
): StepSection {
  const ids = new Set(steps.map((s) => s.id));
  for (const s of steps) {
    if (s.baseline !== undefined && !ids.has(s.baseline))
      throw new Error(`step ${s.id}: its baseline ${s.baseline} is not in section "${title}"`);
  }
  log(`request steps: ${title}: ${steps.length} steps, ${options.rounds} rounds`);
  const started = performance.now();
  const timings = timeRoundRobin(steps, options, (round, rounds) => {
    log(`request steps: ${title}: round ${round}/${rounds} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  });
  const timingOf = (id: string): MicroTiming => {
    const t = timings.get(id);
    if (!t) throw new Error(`step ${id} was not timed`);
    return t;
  };
  const rows = steps.map((s): StepRow => {
    const timing = timingOf(s.id);
    const ratio = s.baseline === undefined ? null : timeRatio(timing.cpuUsPerCall, timingOf(s.baseline).cpuUsPerCall);
    return { id: s.id, step: s.label, timing, baseline: s.baseline ?? null, ratio };
  });
  return { title, rows, notes };
}
