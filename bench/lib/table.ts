/**
 * Why: the run must end with a table a person can read in a terminal and paste into
 * docs/benchmarks.md unchanged, so the table is printed as Markdown with aligned columns.
 */
import type { Sample } from './stats.js';

export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

/** "12.3 (10.1–15.0)" in ms; "—" when not measured. */
export function fmtSample(s: Sample | null): string {
  if (!s) return '—';
  return s.runsMs.length > 1 ? `${fmtMs(s.medianMs)} (${fmtMs(s.minMs)}–${fmtMs(s.maxMs)})` : fmtMs(s.medianMs);
}

export function fmtMs(ms: number | null): string {
  if (ms === null) return '—';
  return ms >= 100 ? ms.toFixed(0) : ms.toFixed(1);
}

export function fmtRatio(r: number | null): string {
  return r === null ? '—' : `${r}×`;
}

export function fmtGiB(sizeGiB: number): string {
  return sizeGiB >= 1024 && sizeGiB % 1024 === 0 ? `${sizeGiB / 1024} TiB` : `${sizeGiB} GiB`;
}

/** Microseconds with three significant digits at most: "0.412", "41.2", "4120". */
export function fmtUs(us: number): string {
  if (us >= 100) return us.toFixed(0);
  return us >= 10 ? us.toFixed(1) : us >= 1 ? us.toFixed(2) : us.toFixed(3);
}
