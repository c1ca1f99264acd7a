/**
 * Prepared statements, prepared once per connection: every request runs a few of the store's
 * statements, and better-sqlite3 compiles a statement anew on each prepare(). The SQL texts are a
 * small fixed set (the state table's transitions, the queries), so the cache stays small.
 */
import type Database from 'better-sqlite3';

export type PrepareCached = (sql: string) => Database.Statement;

export function statementCache(db: Database.Database): PrepareCached {
  const cache = new Map<string, Database.Statement>();
  return (sql) => {
    let stmt = cache.get(sql);
    if (stmt === undefined) {
      stmt = db.prepare(sql);
      cache.set(sql, stmt);
    }
    return stmt;
  };
}
