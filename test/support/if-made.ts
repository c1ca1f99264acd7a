/**
 * What a before() hook makes, as its after() hook must see it: unset when before() failed part way,
 * whatever the variable's type says, so that after() stops only what was started.
 */
export function ifMade<T>(value: T): T | undefined {
  return value;
}
