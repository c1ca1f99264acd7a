/**
 * Describe* filters: EC2's wildcards and escapes, matched the same as a plain (backtracking)
 * reference on many small cases, the request's caps refused with InvalidParameterValue, and the
 * patterns that froze a worker with a RegExp matched in a bounded number of steps.
 */
import { expect } from 'chai';
import { VbsError } from '../../src/core/errors.js';
import {
  compileFilters,
  compileGlob,
  globMatches,
  MAX_FILTER_VALUE_LENGTH,
  MAX_FILTERS,
  MAX_VALUES_PER_FILTER,
  MAX_WILDCARD_VALUES,
  MAX_WILDCARDS_PER_VALUE,
  type Filter,
} from '../../src/frontend/usecases/filters.js';

const matches = (pattern: string, value: string): boolean => globMatches(compileGlob(pattern), Array.from(value, cp));
const cp = (ch: string): number => ch.codePointAt(0) ?? 0;

/** The definition, by recursion (exponential, so only for short inputs): * any run, ? one character. */
function reference(p: readonly string[], t: readonly string[]): boolean {
  if (p.length === 0) return t.length === 0;
  const [head, ...rest] = p;
  if (head === '*') return reference(rest, t) || (t.length > 0 && reference(p, t.slice(1)));
  if (t.length === 0) return false;
  return (head === '?' || head === t[0]) && reference(rest, t.slice(1));
}

const FIELDS = { name: (r: { name: string }) => [r.name] };
const filter = (values: readonly string[], name = 'name'): Filter => ({ name, values });
const refusal = (filters: readonly Filter[]): string => {
  try {
    compileFilters(FIELDS, filters);
  } catch (e) {
    if (e instanceof VbsError) return `${e.code}: ${e.message}`;
    throw e;
  }
  return 'accepted';
};

describe('Describe* filters', () => {
  it('matches * as any run, ? as one character, and \\ before *, ? or \\ as that character', () => {
    const cases: readonly [string, string, boolean][] = [
      ['vol-*', 'vol-0123abcd', true],
      ['vol-*', 'snap-0123abcd', false],
      ['*', '', true],
      ['', '', true],
      ['', 'x', false],
      ['?', '', false],
      ['?', 'é', true],
      ['??', '😀', false],
      ['?', '😀', true],
      ['a*b*c', 'abc', true],
      ['a*b*c', 'aXbYc', true],
      ['a*b*c', 'acb', false],
      ['*ab?d*', 'xxabcabzdyy', true],
      ['*ab?d*', 'xxabcabzyy', false],
      ['\\*', '*', true],
      ['\\*', 'x', false],
      ['\\?', '?', true],
      ['\\?', 'x', false],
      ['a\\\\b', 'a\\b', true],
      ['a\\b', 'a\\b', true],
      ['end\\', 'end\\', true],
      ['\\**', '*star', true],
      ['\\**', 'star', false],
      ['2026-??-??T*', '2026-11-03T10:00:00.000Z', true],
    ];
    for (const [pattern, value, expected] of cases)
      expect(matches(pattern, value), `${pattern} ~ ${value}`).to.equal(expected);
  });

  it('agrees with the recursive definition on every pattern and value over a small alphabet', () => {
    const words = (alphabet: readonly string[], max: number): string[] => {
      const out = [''];
      for (let n = 1; n <= max; n++)
        for (const w of out.filter((x) => x.length === n - 1)) for (const a of alphabet) out.push(w + a);
      return out;
    };
    const patterns = words(['a', 'b', '*', '?'], 4);
    const values = words(['a', 'b'], 6);
    let checked = 0;
    for (const p of patterns) {
      const glob = compileGlob(p);
      for (const v of values) {
        expect(globMatches(glob, Array.from(v, cp)), `${p} ~ ${v}`).to.equal(reference(Array.from(p), Array.from(v)));
        checked++;
      }
    }
    expect(checked).to.be.greaterThan(40_000);
  });

  it('takes plain values as they are, escapes resolved, and counts only unescaped wildcards', () => {
    const match = compileFilters(FIELDS, [filter(['a\\*b', 'c'])]);
    expect(match({ name: 'a*b' })).to.equal(true);
    expect(match({ name: 'axb' })).to.equal(false);
    expect(match({ name: 'c' })).to.equal(true);
    expect(compileGlob('\\*\\?\\\\').wildcards).to.equal(0);
    expect(refusal([filter(['\\*'.repeat(MAX_WILDCARDS_PER_VALUE + 1)])])).to.equal('accepted');
  });

  it('refuses filters past each cap with InvalidParameterValue, and accepts them at the cap', () => {
    const at = <T>(n: number, make: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => make(i));
    const wild = (n: number): string => '*'.repeat(n);
    expect(refusal(at(MAX_FILTERS, () => filter(['x'])))).to.equal('accepted');
    expect(refusal(at(MAX_FILTERS + 1, () => filter(['x'])))).to.match(/^InvalidParameterValue: At most 20 filters/);
    expect(refusal([filter(at(MAX_VALUES_PER_FILTER, String))])).to.equal('accepted');
    expect(refusal([filter(at(MAX_VALUES_PER_FILTER + 1, String))])).to.match(
      /^InvalidParameterValue: .*more than 200 values/,
    );
    expect(refusal([filter(['x'.repeat(MAX_FILTER_VALUE_LENGTH)])])).to.equal('accepted');
    expect(refusal([filter(['x'.repeat(MAX_FILTER_VALUE_LENGTH + 1)])])).to.match(
      /^InvalidParameterValue: .*longer than 255/,
    );
    expect(refusal([filter([wild(MAX_WILDCARDS_PER_VALUE)])])).to.equal('accepted');
    expect(refusal([filter([`${wild(MAX_WILDCARDS_PER_VALUE)}?`])])).to.match(
      /^InvalidParameterValue: .*more than 16 wildcards/,
    );
    expect(refusal([filter(at(MAX_WILDCARD_VALUES, (i) => `${i}*`))])).to.equal('accepted');
    expect(refusal([filter(at(MAX_WILDCARD_VALUES + 1, (i) => `${i}*`))])).to.match(
      /^InvalidParameterValue: At most 20 filter values with wildcards/,
    );
    expect(refusal([filter(['x'], 'colour')])).to.match(/^InvalidParameterValue: The filter 'colour' is invalid/);
  });

  it('matches the patterns that froze a worker, at every cap, in milliseconds', () => {
    const value = 'a'.repeat(MAX_FILTER_VALUE_LENGTH);
    const worst = [
      `${'*'.repeat(16)}Z`,
      `${'*a'.repeat(8)}${'*'.repeat(7)}Z`,
      `*${'a'.repeat(200)}b*`,
      `*${'a'.repeat(100)}?${'a'.repeat(100)}b*`,
      `*${'a?'.repeat(8)}${'a'.repeat(200)}b*`,
      `${'a*'.repeat(8)}${'a?'.repeat(4)}b*x`,
    ];
    const started = Date.now();
    const match = compileFilters(FIELDS, [filter(worst.concat(worst, worst).slice(0, MAX_WILDCARD_VALUES))]);
    for (let i = 0; i < 100; i++) expect(match({ name: value })).to.equal(false);
    // 100 resources, each against 20 worst patterns: a RegExp took seconds for the first one alone.
    expect(Date.now() - started).to.be.below(500);
  });
});
