/**
 * The SQL port over better-sqlite3 (src/sql/port.ts). better-sqlite3 is synchronous, but a store's
 * transaction is an async function (so that the same function runs on PostgreSQL): the writing
 * connection is therefore held by one transaction at a time (SessionLock), or the statements of two
 * requests of this process would interleave inside one transaction. Writes are IMMEDIATE
 * transactions whose COMMIT is a statement of its own (see checked.ts for why), waiting for another
 * process's lock between attempts with the event loop free. Reads go to a second, read-only
 * connection, statement by statement: under WAL they never wait for a writer, so a write that
 * waits for another process's lock holds up no read, and a read never sees a transaction that is
 * still open.
 */
import Database from 'better-sqlite3';
import type { Row, SqlDatabase, SqlDialect, SqlParams, SqlSession } from '../sql/port.js';
import { SessionLock } from '../sql/session-lock.js';
import { LOCK_WAIT_BUDGET_MS, patiently, SQLITE_BUSY_TIMEOUT_MS } from './checked.js';

export const SQLITE_DIALECT: SqlDialect = {
  name: 'sqlite',
  inList: (column, param) => `${column} IN (SELECT value FROM json_each(@${param}))`,
  greatest: (a, b) => `MAX(${a}, ${b})`,
  nowMs: `CAST(unixepoch('subsec') * 1000 AS INTEGER)`,
};

type Bindable = Record<string, string | number | null>;

/** Lists go to SQLite as JSON text, which json_each (inList) unpacks. */
function bindable(params: SqlParams): Bindable {
  const out: Bindable = {};
  for (const [k, v] of Object.entries(params))
    out[k] = Array.isArray(v) ? JSON.stringify(v) : (v as string | number | null);
  return out;
}

/**
 * SQLite keeps the schema's version in PRAGMA user_version (one schema per file); the missing
 * migrations run in one IMMEDIATE transaction. Synchronous, so that a store can be current before
 * its constructor returns.
 */
export function applyMigrations(db: Database.Database, schema: string, migrations: readonly string[]): void {
  const version = Number(db.pragma('user_version', { simple: true }));
  if (version > migrations.length)
    throw new Error(`${schema} schema ${version} is newer than this VBS (${migrations.length})`);
  if (version === migrations.length) return;
  db.transaction(() => {
    for (let v = version; v < migrations.length; v++) db.exec(migrations[v] ?? '');
    db.pragma(`user_version = ${migrations.length}`);
  }).immediate();
}

/** Statements prepared once per connection (better-sqlite3 compiles anew on each prepare). */
function sessionOf(db: Database.Database): SqlSession {
  const statements = new Map<string, Database.Statement>();
  const prepared = (sql: string): Database.Statement => {
    let stmt = statements.get(sql);
    if (stmt === undefined) {
      stmt = db.prepare(sql);
      statements.set(sql, stmt);
    }
    return stmt;
  };
  return {
    all: async (sql, params = {}) => prepared(sql).all(bindable(params)) as Row[],
    get: async (sql, params = {}) => prepared(sql).get(bindable(params)) as Row | undefined,
    run: async (sql, params = {}) => prepared(sql).run(bindable(params)).changes,
  };
}

export class SqliteDatabase implements SqlDatabase {
  readonly dialect = SQLITE_DIALECT;
  private readonly lock = new SessionLock();
  private readonly session: SqlSession;
  private readonly reader: Database.Database;
  private readonly readSession: SqlSession;

  constructor(
    private readonly db: Database.Database,
    private readonly lockWaitMs = LOCK_WAIT_BUDGET_MS,
  ) {
    this.session = sessionOf(db);
    // An in-memory database has no second connection: reads share the writer's.
    this.reader = db.memory ? db : new Database(db.name, { readonly: true });
    if (this.reader !== db) this.reader.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    this.readSession = sessionOf(this.reader);
  }

  write<T>(what: string, fn: (s: SqlSession) => Promise<T>): Promise<T> {
    return this.lock.hold(() => patiently(what, () => this.transaction('BEGIN IMMEDIATE', fn), this.lockWaitMs));
  }

  read<T>(what: string, fn: (s: SqlSession) => Promise<T>): Promise<T> {
    if (this.reader === this.db) return this.lock.hold(() => patiently(what, () => fn(this.session), this.lockWaitMs));
    return patiently(what, () => fn(this.readSession), this.lockWaitMs);
  }

  migrate(schema: string, migrations: readonly string[]): Promise<void> {
    return this.lock.hold(() => patiently(schema, () => applyMigrations(this.db, schema, migrations), this.lockWaitMs));
  }

  async now(): Promise<number> {
    return this.read('database clock', async (s) =>
      Number((await s.get(`SELECT ${SQLITE_DIALECT.nowMs} AS now`))?.['now']),
    );
  }

  private async transaction<T>(begin: string, fn: (s: SqlSession) => Promise<T>): Promise<T> {
    this.db.exec(begin);
    try {
      const result = await fn(this.session);
      this.db.exec('COMMIT');
      return result;
    } finally {
      // A failed statement or COMMIT may leave the transaction open; nothing of it is kept.
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
    }
  }

  async close(): Promise<void> {
    await this.lock.hold(async () => {
      if (this.reader !== this.db) this.reader.close();
      this.db.close();
    });
  }
}
