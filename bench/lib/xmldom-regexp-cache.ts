/**
 * Why: xmldom 0.9 compiles a new Unicode RegExp for every end tag it reads (lib/sax.js calls
 * grammar.reg each time; upstream: github.com/xmldom/xmldom/issues/950). To price a fix upstream
 * without patching node_modules, this runs a function with grammar.reg memoized (each distinct RegExp
 * compiled once, kept across calls) and puts the original back afterwards.
 */
import { createRequire } from 'node:module';

type RegFactory = (...parts: (RegExp | string)[]) => RegExp;
const grammar = createRequire(import.meta.url)('@xmldom/xmldom/lib/grammar.js') as { reg: RegFactory };

export function xmldomRegExpCache(): <T>(fn: () => T) => T {
  const cache = new Map<string, RegExp>();
  const original = grammar.reg;
  const memoized: RegFactory = (...parts) => {
    const key = parts.map((p) => (typeof p === 'string' ? p : p.source)).join('\u0000');
    let re = cache.get(key);
    if (!re) {
      re = original(...parts);
      cache.set(key, re);
    }
    re.lastIndex = 0;
    return re;
  };
  return (fn) => {
    grammar.reg = memoized;
    try {
      return fn();
    } finally {
      grammar.reg = original;
    }
  };
}
