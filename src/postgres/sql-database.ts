/**
 * The SQL port over a pool of PostgreSQL connections (npm `pg`), for several frontends on one
 * database.
 *
 * Every write is a SERIALIZABLE transaction, retried when PostgreSQL refuses it for a conflict with a
 * concurrent one (40001) or a deadlock (40P01). Why SERIALIZABLE and not row locks: the store's
 * guards are `UPDATE … WHERE status IN (…) AND NOT EXISTS (SELECT … FROM other_table …)` and
 * `INSERT … SELECT … WHERE NOT EXISTS (…)`, written once from src/core/state.ts for both databases.
 * Under READ COMMITTED such a statement is not atomic with a concurrent INSERT into the other table
 * (it does not see the new row and nothing locks a row that does not exist yet); under SERIALIZABLE
 * PostgreSQL detects exactly that read-write dependency and aborts one of the two, which is then run
 * again and sees the winner. So the rules stay in one place and hold on both databases.
 *
 * Failures a retry may cure (the server unreachable, shutting down, out of connections or disk, a
 * statement past its timeout) are VbsError Unavailable; a COMMIT whose answer was lost is
 * Unavailable with effect 'unknown' (it may have happened); anything else is a bug and is thrown
 * as it is.
 */
import pg from 'pg';
import { VbsError } from '../core/errors.js';
import type { Row, SqlDatabase, SqlDialect, SqlParams, SqlSession } from '../sql/port.js';
import { positional } from '../sql/named-params.js';

export const POSTGRES_DIALECT: SqlDialect = {
  name: 'postgres',
  inList: (column, param) => `${column} = ANY(@${param}::text[])`,
  greatest: (a, b) => `GREATEST(${a}, ${b})`,
  nowMs: `(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::bigint`,
};

export interface PostgresOptions {
  /** postgres://user@host:port/database (a password, if any, in the URL or PGPASSWORD). */
  readonly url: string;
  /** Connections this process keeps open at most. */
  readonly maxConnections?: number;
  /** How long a write may be retried for conflicts, and a caller waits for a free connection. */
  readonly waitBudgetMs?: number;
  /** A statement running longer than this is cancelled by the server. */
  readonly statementTimeoutMs?: number;
  /** Who this process is, in pg_stat_activity. */
  readonly applicationName?: string;
}

export const POSTGRES_DEFAULTS = {
  maxConnections: 16,
  waitBudgetMs: 5000,
  statementTimeoutMs: 10_000,
  connectTimeoutMs: 5000,
} as const;

// int8 (BIGINT: the stores' times in ms) as a number: safe to 2^53 ms, far past any clock.
const types = new pg.TypeOverrides();
types.setTypeParser(pg.types.builtins.INT8, (v: string) => Number(v));

const RETRY_CODES = new Set(['40001', '40P01']);
/** Connection, shutdown, resources, system, read-only (a standby), statement timeout. */
const UNAVAILABLE_CLASSES = ['08', '53', '57', '58'];
const UNAVAILABLE_CODES = new Set(['25006', '55P03']);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH']);

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

/** The database or the way to it failed, not the statement: worth trying again later. */
export function isUnavailable(error: unknown): boolean {
  const code = codeOf(error);
  if (NETWORK_CODES.has(code) || UNAVAILABLE_CODES.has(code)) return true;
  if (code.length === 5 && UNAVAILABLE_CLASSES.includes(code.slice(0, 2))) return true;
  const message = error instanceof Error ? error.message : '';
  // node-pg's own words when the socket ends or the pool cannot connect in time.
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|not queryable/i.test(
    message,
  );
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function sessionOf(client: pg.PoolClient): PostgresSession {
  const query = async (sql: string, params?: SqlParams): Promise<pg.QueryResult<Row>> => {
    const { text, values } = positional(sql, params);
    return client.query<Row>(text, values);
  };
  return {
    all: async (sql, params) => (await query(sql, params)).rows,
    get: async (sql, params) => (await query(sql, params)).rows[0],
    run: async (sql, params) => (await query(sql, params)).rowCount ?? 0,
    script: async (sql) => {
      await client.query(sql);
    },
  };
}

interface PostgresSession extends SqlSession {
  /** Several statements without parameters (PostgreSQL's simple query protocol): a migration. */
  script(sql: string): Promise<void>;
}

export class PostgresDatabase implements SqlDatabase {
  readonly dialect = POSTGRES_DIALECT;
  private readonly pool: pg.Pool;
  private readonly waitBudgetMs: number;

  constructor(options: PostgresOptions) {
    this.waitBudgetMs = options.waitBudgetMs ?? POSTGRES_DEFAULTS.waitBudgetMs;
    const statementTimeout = options.statementTimeoutMs ?? POSTGRES_DEFAULTS.statementTimeoutMs;
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.maxConnections ?? POSTGRES_DEFAULTS.maxConnections,
      connectionTimeoutMillis: POSTGRES_DEFAULTS.connectTimeoutMs,
      statement_timeout: statementTimeout,
      // A frontend frozen inside a transaction does not hold its locks for ever.
      idle_in_transaction_session_timeout: statementTimeout,
      // The client's own bound, for a server that stops answering altogether.
      query_timeout: statementTimeout + 2000,
      keepAlive: true,
      application_name: options.applicationName ?? 'vbs',
      types,
    });
    // A pooled idle connection that breaks (the server restarted) is dropped, not a crash.
    this.pool.on('error', () => undefined);
    // So does one that breaks while in use: its query fails and says so; the event is not a crash.
    this.pool.on('connect', (client) => client.on('error', () => undefined));
  }

  write<T>(what: string, fn: (s: SqlSession) => Promise<T>): Promise<T> {
    return this.retried(what, fn);
  }

  private async retried<T>(what: string, fn: (s: PostgresSession) => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.waitBudgetMs;
    for (let delay = 2; ; delay = Math.min(delay * 2, 100)) {
      try {
        return await this.transaction(what, 'BEGIN ISOLATION LEVEL SERIALIZABLE', fn);
      } catch (error) {
        if (!RETRY_CODES.has(codeOf(error))) throw error;
        if (Date.now() + delay >= deadline)
          throw new VbsError('Unavailable', `The ${what} is busy now; nothing was changed. Try again.`, {
            cause: error,
          });
        // Jittered, so that the transactions that collided do not collide again.
        await sleep(delay / 2 + Math.random() * delay);
      }
    }
  }

  read<T>(what: string, fn: (s: SqlSession) => Promise<T>): Promise<T> {
    // READ COMMITTED, as the port promises: each statement sees what was committed when it runs.
    return this.transaction(what, 'BEGIN READ ONLY', fn);
  }

  /**
   * Versions per schema in vbs_schema_versions; a transaction-scoped advisory lock keyed by the
   * schema's name makes frontends that start together apply each migration once. Migrations are
   * sent as simple queries (several statements, no parameters).
   */
  async migrate(schema: string, migrations: readonly string[]): Promise<void> {
    // READ COMMITTED, not SERIALIZABLE: the version must be read after the lock is granted, in a
    // snapshot newer than the first statement's (which is the wait for the lock).
    await this.transaction(schema, 'BEGIN ISOLATION LEVEL READ COMMITTED', async (s) => {
      await s.get(`SELECT pg_advisory_xact_lock(hashtext(@schema))`, { schema });
      await s.run(`CREATE TABLE IF NOT EXISTS vbs_schema_versions (schema TEXT PRIMARY KEY, version INTEGER NOT NULL)`);
      const row = await s.get(`SELECT version FROM vbs_schema_versions WHERE schema = @schema`, { schema });
      const version = row === undefined ? 0 : Number(row['version']);
      if (version > migrations.length)
        throw new Error(`${schema} schema ${version} is newer than this VBS (${migrations.length})`);
      for (let v = version; v < migrations.length; v++) await s.script(migrations[v] ?? '');
      await s.run(
        `INSERT INTO vbs_schema_versions (schema, version) VALUES (@schema, @version)
         ON CONFLICT (schema) DO UPDATE SET version = EXCLUDED.version`,
        { schema, version: migrations.length },
      );
    });
  }

  async now(): Promise<number> {
    return this.read('database clock', async (s) =>
      Number((await s.get(`SELECT ${POSTGRES_DIALECT.nowMs} AS now`))?.['now']),
    );
  }

  private async transaction<T>(what: string, begin: string, fn: (s: PostgresSession) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw this.unavailable(what, error, 'none');
    }
    let broken: unknown;
    let committing = false;
    try {
      await client.query(begin);
      const result = await fn(sessionOf(client));
      committing = true;
      await client.query('COMMIT');
      return result;
    } catch (error) {
      if (isUnavailable(error)) {
        broken = error;
        // Before COMMIT was sent the server rolls the transaction back when the session ends.
        throw this.unavailable(what, error, committing ? 'unknown' : 'none');
      }
      await client.query('ROLLBACK').catch((e: unknown) => (broken = e));
      throw error;
    } finally {
      // A connection that failed is closed, never handed to the next request.
      client.release(broken instanceof Error ? broken : broken === undefined ? undefined : true);
    }
  }

  private unavailable(what: string, error: unknown, effect: 'none' | 'unknown'): VbsError {
    const message =
      effect === 'unknown'
        ? `The ${what} did not confirm the change; it may have been made. Try again.`
        : `The ${what} cannot be reached now; nothing was changed. Try again.`;
    return new VbsError('Unavailable', message, { cause: error, effect });
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
