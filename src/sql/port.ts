/**
 * What a VBS store needs of a SQL database, the same for SQLite (one host) and PostgreSQL (several
 * frontends on several hosts), so that one store implementation serves both and the SQL that decides
 * a state change is written once.
 *
 * SQL text uses named parameters, `@name`, bound from an object; both ports translate them. What
 * differs between the two dialects and appears inside a statement is in `SqlDialect`.
 *
 * Why transactions take an async function: PostgreSQL's driver is asynchronous, and a check and the
 * write it allows must be one transaction there too. A port runs a function's statements on one
 * connection in one transaction; the function may be run more than once (a serialization conflict
 * under PostgreSQL, a busy lock under SQLite), so it must do nothing but SQL.
 */

export type SqlValue = string | number | null | readonly string[];
export type SqlParams = Readonly<Record<string, SqlValue>>;
export type Row = Record<string, unknown>;

export interface SqlSession {
  all(sql: string, params?: SqlParams): Promise<Row[]>;
  get(sql: string, params?: SqlParams): Promise<Row | undefined>;
  /** Rows changed. */
  run(sql: string, params?: SqlParams): Promise<number>;
}

export interface SqlDialect {
  readonly name: 'sqlite' | 'postgres';
  /** `column` is one of the strings of the list parameter `param` (bound as a string array). */
  inList(column: string, param: string): string;
  /** The larger of two numbers. */
  greatest(a: string, b: string): string;
  /**
   * Milliseconds since the epoch by the database's clock: where two hosts compare times (deadlines,
   * leases) they use this one clock, never their own.
   */
  readonly nowMs: string;
}

export interface SqlDatabase {
  readonly dialect: SqlDialect;
  /**
   * `fn` in one read-write transaction that either commits or changes nothing: its answer is
   * returned only after the commit is known to have happened. Retried while another transaction's
   * conflict or lock refuses it, up to a budget; past it, or when the database cannot be reached or
   * written, a retryable VbsError Unavailable names `what` (effect 'unknown' when the commit was sent
   * and its outcome not heard).
   */
  write<T>(what: string, fn: (s: SqlSession) => Promise<T>): Promise<T>;
  /**
   * `fn`'s reads, each of which sees what was committed when it runs (never an open transaction's
   * changes); several statements are not one snapshot. A read never waits for a writer.
   */
  read<T>(what: string, fn: (s: SqlSession) => Promise<T>): Promise<T>;
  /**
   * Brings the schema up to `migrations` (a list never edited once released: each entry is one
   * version), in one transaction, once even when several processes start at the same time. A
   * database newer than the list is refused: this VBS is older than the one that wrote it.
   */
  migrate(schema: string, migrations: readonly string[]): Promise<void>;
  /** The database's clock (nowMs), for a caller that must compare with times it wrote. */
  now(): Promise<number>;
  close(): Promise<void>;
}
