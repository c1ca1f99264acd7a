/**
 * The one quoting of values into SQL text, for the SQL VBS builds from its own constants (the state
 * table's statuses), never from client input.
 */

/** A parenthesised list of string literals, for IN. */
export function sqlList(values: readonly string[]): string {
  return `(${values.map((v) => `'${v.replace(/'/g, "''")}'`).join(', ')})`;
}
