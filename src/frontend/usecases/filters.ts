/**
 * EC2 filters for Describe*: a resource matches when, for every filter, one of the filter's values
 * matches one of the resource's values for that name (AND across filters, OR within one), with EC2's
 * wildcards: * for any run of characters, ? for exactly one, and \ to take the next *, ? or \
 * literally (a backslash before anything else is itself). An unknown filter name is refused, as EC2
 * does.
 *
 * The values are the caller's, so matching must cost what their size says, whatever they hold: a
 * wildcard value is matched by a glob matcher that never backtracks (no RegExp), in time linear in
 * the pattern and the resource's value for a bounded number of wildcards (globMatches below), and the
 * request's filters are capped (number, values, length, wildcards) before anything is matched.
 */
import { VbsError } from '../../core/errors.js';
import { clip } from '../../core/ids.js';

export interface Filter {
  readonly name: string;
  readonly values: readonly string[];
}

/** For one kind of resource: filter name -> the values a resource has under that name. */
export type FilterFields<R> = Readonly<Record<string, (resource: R) => readonly string[]>>;

/** Filters in one request: more than there are filter names (13 for volumes), so that a name may repeat. */
export const MAX_FILTERS = 20;
/**
 * Values of one filter: room for a long list of IDs or instances. A value without wildcards is looked
 * up in a set, not matched, so many of them cost next to nothing per resource.
 */
export const MAX_VALUES_PER_FILTER = 200;
/** The longest value a resource has under any filter name is a snapshot's description: 255 characters. */
export const MAX_FILTER_VALUE_LENGTH = 255;
/**
 * Wildcards (* and ?) in one value. A match costs O(pattern + value × (wildcards + 1)) steps, so this
 * bounds each match to a few thousand steps; no honest pattern needs as many (`????-??-??T*` has 9).
 */
export const MAX_WILDCARDS_PER_VALUE = 16;
/**
 * Values with wildcards in one request, over all its filters: each may be matched against every
 * resource's value, so they, not the plain values, make a request's cost grow with the resources.
 */
export const MAX_WILDCARD_VALUES = 20;

function invalid(message: string): VbsError {
  return new VbsError('InvalidParameterValue', message);
}

export function compileFilters<R>(fields: FilterFields<R>, filters: readonly Filter[]): (resource: R) => boolean {
  if (filters.length > MAX_FILTERS) throw invalid(`At most ${MAX_FILTERS} filters are accepted in one request.`);
  let wildcardValues = 0;
  const compiled = filters.map((f) => {
    const field = fields[f.name];
    if (!field || !Object.hasOwn(fields, f.name)) throw invalid(`The filter '${clip(f.name)}' is invalid.`);
    if (f.values.length === 0) throw invalid(`The filter '${f.name}' needs at least one value.`);
    if (f.values.length > MAX_VALUES_PER_FILTER)
      throw invalid(`The filter '${f.name}' has more than ${MAX_VALUES_PER_FILTER} values.`);
    const literals = new Set<string>();
    const globs: Glob[] = [];
    for (const value of f.values) {
      if (value.length > MAX_FILTER_VALUE_LENGTH)
        throw invalid(`A value of the filter '${f.name}' is longer than ${MAX_FILTER_VALUE_LENGTH} characters.`);
      const glob = compileGlob(value);
      if (glob.wildcards > MAX_WILDCARDS_PER_VALUE)
        throw invalid(`A value of the filter '${f.name}' has more than ${MAX_WILDCARDS_PER_VALUE} wildcards.`);
      if (glob.wildcards === 0) {
        literals.add(glob.literal);
        continue;
      }
      if (++wildcardValues > MAX_WILDCARD_VALUES)
        throw invalid(`At most ${MAX_WILDCARD_VALUES} filter values with wildcards are accepted in one request.`);
      globs.push(glob);
    }
    return { field, literals, globs };
  });
  return (resource) =>
    compiled.every(({ field, literals, globs }) =>
      field(resource).some((value) => {
        if (literals.has(value)) return true;
        if (globs.length === 0) return false;
        const text = codePoints(value);
        return globs.some((g) => globMatches(g, text));
      }),
    );
}

/** ? in a compiled pattern: any one character (code points are never negative). */
const ANY = -1;

/**
 * A run of characters and ?s between two *s, as the literal pieces it holds, each at its offset from
 * the run's start: `ab?c` is `ab` at 0 and `c` at 3, in a run of length 4.
 */
interface Run {
  readonly length: number;
  readonly pieces: readonly Piece[];
}

interface Piece {
  readonly offset: number;
  readonly codes: readonly number[];
  /** KMP's failure function of codes: the longest proper border of each prefix. */
  readonly border: readonly number[];
}

export interface Glob {
  /** Number of unescaped * and ? in the value. */
  readonly wildcards: number;
  /** The value with its escapes resolved: what it matches exactly when it has no wildcard. */
  readonly literal: string;
  /** Without any *: the one run that must be the whole value. */
  readonly star: boolean;
  /** The runs between the *s: the first is anchored at the start, the last at the end (when star). */
  readonly runs: readonly Run[];
  readonly minLength: number;
}

function codePoints(text: string): number[] {
  const out: number[] = [];
  for (const ch of text) out.push(ch.codePointAt(0) ?? 0);
  return out;
}

/** Reads EC2's pattern syntax: *, ?, and \ before *, ? or \ for the character itself. */
export function compileGlob(pattern: string): Glob {
  const chars = Array.from(pattern);
  const runs: number[][] = [[]];
  let wildcards = 0;
  let literal = '';
  for (let i = 0; i < chars.length; i++) {
    let ch = chars[i] ?? '';
    const next = chars[i + 1];
    const run = runs[runs.length - 1] ?? [];
    if (ch === '\\' && (next === '*' || next === '?' || next === '\\')) {
      ch = next;
      i++;
    } else if (ch === '*') {
      wildcards++;
      runs.push([]);
      continue;
    } else if (ch === '?') {
      wildcards++;
      run.push(ANY);
      continue;
    }
    literal += ch;
    run.push(ch.codePointAt(0) ?? 0);
  }
  const compiled = runs.map(toRun);
  return {
    wildcards,
    literal,
    star: runs.length > 1,
    runs: compiled,
    minLength: compiled.reduce((n, r) => n + r.length, 0),
  };
}

function toRun(codes: readonly number[]): Run {
  const pieces: Piece[] = [];
  let start = -1;
  for (let i = 0; i <= codes.length; i++) {
    const literal = i < codes.length && codes[i] !== ANY;
    if (literal && start < 0) start = i;
    if (!literal && start >= 0) {
      const piece = codes.slice(start, i);
      pieces.push({ offset: start, codes: piece, border: borders(piece) });
      start = -1;
    }
  }
  return { length: codes.length, pieces };
}

function borders(codes: readonly number[]): number[] {
  const border = new Array<number>(codes.length).fill(0);
  for (let i = 1, k = 0; i < codes.length; i++) {
    while (k > 0 && codes[i] !== codes[k]) k = border[k - 1] ?? 0;
    if (codes[i] === codes[k]) k++;
    border[i] = k;
  }
  return border;
}

/** True when the run matches `text` exactly at `at` (the caller has checked that it fits). */
function runAt(run: Run, text: readonly number[], at: number): boolean {
  for (const piece of run.pieces) {
    for (let i = 0; i < piece.codes.length; i++) if (text[at + piece.offset + i] !== piece.codes[i]) return false;
  }
  return true;
}

/**
 * Where the run first occurs wholly inside text[from, to), or -1. Each literal piece's occurrences
 * are found by KMP in one pass (linear), and a start counts once every piece occurs at its offset
 * from it: O((to - from) × pieces + run length), with no step ever taken back.
 */
function firstRun(run: Run, text: readonly number[], from: number, to: number): number {
  const last = to - run.length;
  if (last < from) return -1;
  if (run.pieces.length === 0) return from;
  const hits = new Uint8Array(last - from + 1);
  for (const piece of run.pieces) {
    const { codes, border, offset } = piece;
    for (let i = from + offset, k = 0; i < to; i++) {
      while (k > 0 && text[i] !== codes[k]) k = border[k - 1] ?? 0;
      if (text[i] === codes[k]) k++;
      if (k === codes.length) {
        const start = i + 1 - codes.length - offset;
        if (start >= from && start <= last) hits[start - from] = (hits[start - from] ?? 0) + 1;
        k = border[k - 1] ?? 0;
      }
    }
  }
  const found = hits.indexOf(run.pieces.length);
  return found < 0 ? -1 : from + found;
}

/**
 * The glob against one value (as code points). Without a *, the value is the one run. With *s, the
 * first run must match at the start and the last at the end; each run between them is taken where it
 * first occurs after the one before: a *'s run of characters absorbs whatever lies between, so the
 * earliest place always leaves the most room for what follows, and no choice is ever revisited.
 */
export function globMatches(glob: Glob, text: readonly number[]): boolean {
  const { runs } = glob;
  const first = runs[0];
  if (!first) return text.length === 0;
  if (!glob.star) return text.length === first.length && runAt(first, text, 0);
  if (text.length < glob.minLength) return false;
  const lastRun = runs[runs.length - 1] ?? first;
  const end = text.length - lastRun.length;
  if (!runAt(first, text, 0) || !runAt(lastRun, text, end)) return false;
  let at = first.length;
  for (let r = 1; r < runs.length - 1; r++) {
    const run = runs[r];
    if (!run) continue;
    const found = firstRun(run, text, at, end);
    if (found < 0) return false;
    at = found + run.length;
  }
  return true;
}
