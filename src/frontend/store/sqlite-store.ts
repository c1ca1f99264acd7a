/**
 * The metadata store on one SQLite file (better-sqlite3, WAL): the default, for a frontend on one
 * host (its workers share the file). WAL with synchronous=FULL: a change that was acknowledged to a
 * client survives a crash of the process or the machine. The statements are SqlStore's.
 */
import Database from 'better-sqlite3';
import { preparePrivateDatabase } from '../../private-files.js';
import { LOCK_WAIT_BUDGET_MS, openPragmas } from '../../sqlite/checked.js';
import { applyMigrations, SqliteDatabase } from '../../sqlite/sql-database.js';
import { MIGRATIONS } from './sqlite-migrations.js';
import { SqlStore } from './sql-store.js';

/** Opens (and makes, or migrates) the file; the schema is current before the first request. */
function opened(file: string): Database.Database {
  // 0600 before SQLite opens it, so that its -wal and -shm are made 0600 too.
  preparePrivateDatabase(file, { create: true });
  const db = new Database(file);
  openPragmas(db);
  db.pragma('foreign_keys = ON');
  applyMigrations(db, 'database', MIGRATIONS);
  return db;
}

export class SqliteStore extends SqlStore {
  /** `lockWaitMs`: how long a call waits for a lock another connection holds before it is Unavailable. */
  constructor(file: string, lockWaitMs = LOCK_WAIT_BUDGET_MS) {
    super(new SqliteDatabase(opened(file), lockWaitMs));
  }
}
