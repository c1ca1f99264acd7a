/**
 * --wait: follow a resource by polling its Describe* operation until it reaches an end state, with
 * progress on stderr (one redrawn line with a bar on a terminal, a plain line per change otherwise).
 * Polling starts quick and slows down, since most jobs finish in seconds but some take minutes.
 */
import type { Output } from './output.js';

export type Phase = 'pending' | 'done' | 'failed';

export interface Observation<T> {
  readonly phase: Phase;
  /** The resource's status as the frontend gives it, e.g. creating, or 'gone' after a delete. */
  readonly status: string;
  /** 0..100, when the resource reports progress. */
  readonly percent?: number;
  readonly value: T;
}

/** The wait ran out of time; the resource may still get there. */
export class WaitTimeoutError extends Error {
  override readonly name = 'WaitTimeoutError';
}

export interface WaitOptions {
  readonly timeoutSeconds: number;
  readonly out: Output;
  readonly firstIntervalMs?: number;
  readonly maxIntervalMs?: number;
}

const BAR_WIDTH = 30;

export async function waitFor<T>(
  label: string,
  poll: () => Promise<Observation<T>>,
  options: WaitOptions,
): Promise<Observation<T>> {
  const started = Date.now();
  const deadline = started + options.timeoutSeconds * 1000;
  const progress = progressLine(label, options.out, started);
  let interval = options.firstIntervalMs ?? 250;
  try {
    for (;;) {
      const seen = await poll();
      progress.show(seen.status, seen.percent);
      if (seen.phase !== 'pending') return seen;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new WaitTimeoutError(
          `gave up waiting for ${label} after ${options.timeoutSeconds} s (still ${seen.status})`,
        );
      }
      await new Promise((r) => setTimeout(r, Math.min(interval, left)));
      interval = Math.min(Math.round(interval * 1.5), options.maxIntervalMs ?? 2000);
    }
  } finally {
    progress.end();
  }
}

export function percentOf(progress: string | undefined): number | undefined {
  const m = /^\s*(\d{1,3})(?:\.\d+)?\s*%?\s*$/.exec(progress ?? '');
  return m?.[1] === undefined ? undefined : Math.min(100, Number(m[1]));
}

interface ProgressLine {
  show(status: string, percent: number | undefined): void;
  end(): void;
}

function progressLine(label: string, out: Output, started: number): ProgressLine {
  let last = '';
  let drawn = false;
  return {
    show(status, percent) {
      const pct = percent === undefined ? '' : ` ${percent}%`;
      if (out.stderrIsTTY) {
        const secs = Math.floor((Date.now() - started) / 1000);
        const bar =
          percent === undefined
            ? ''
            : ` [${'#'.repeat(Math.round((percent / 100) * BAR_WIDTH)).padEnd(BAR_WIDTH, '.')}]`;
        out.stderr(`\r\x1b[K${label}: ${status}${bar}${pct} ${secs}s`);
        drawn = true;
      } else if (`${status}${pct}` !== last) {
        out.stderr(`${label}: ${status}${pct}\n`);
      }
      last = `${status}${pct}`;
    },
    end() {
      if (drawn) out.stderr('\n');
    },
  };
}
