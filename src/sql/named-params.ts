/**
 * `@name` parameters turned into PostgreSQL's positional `$1, $2, …`, outside string literals and
 * quoted identifiers. The translation of a SQL text is the same every time, so it is kept per text
 * (the store's texts are a small fixed set made from VBS's own constants).
 */
import type { SqlParams, SqlValue } from './port.js';

interface Translated {
  readonly text: string;
  readonly names: readonly string[];
}

const cache = new Map<string, Translated>();
const MAX_CACHED = 1000;

function translate(sql: string): Translated {
  const names: string[] = [];
  let text = '';
  let i = 0;
  while (i < sql.length) {
    const c = sql.charAt(i);
    if (c === "'" || c === '"') {
      const end = sql.indexOf(c, i + 1);
      if (end < 0) throw new Error('unterminated quote in SQL text');
      text += sql.slice(i, end + 1);
      i = end + 1;
      continue;
    }
    const m = c === '@' ? /^@([A-Za-z_][A-Za-z0-9_]*)/.exec(sql.slice(i)) : null;
    if (m?.[1] !== undefined) {
      let n = names.indexOf(m[1]);
      if (n < 0) n = names.push(m[1]) - 1;
      text += `$${n + 1}`;
      i += m[0].length;
      continue;
    }
    text += c;
    i++;
  }
  return { text, names };
}

export function positional(sql: string, params: SqlParams = {}): { text: string; values: SqlValue[] } {
  let t = cache.get(sql);
  if (t === undefined) {
    t = translate(sql);
    if (cache.size < MAX_CACHED) cache.set(sql, t);
  }
  const values = t.names.map((name) => {
    const v = params[name];
    if (v === undefined) throw new Error(`SQL parameter @${name} has no value`);
    return v;
  });
  return { text: t.text, values };
}
