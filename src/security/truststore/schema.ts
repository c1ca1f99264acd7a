/**
 * The trust store's SQLite file: versioned schema (PRAGMA user_version counts the migrations applied;
 * a migration is never edited once released, add a new one) and the connection settings of the
 * project's stores: WAL, so that services read while vbs-admin writes, and synchronous=FULL, so that
 * an acknowledged revocation survives a crash. The file is 0600 (src/private-files.ts): whoever can
 * write it decides who is trusted.
 */
import Database from 'better-sqlite3';
import { preparePrivateDatabase } from '../../private-files.js';

export const TRUST_MIGRATIONS: readonly string[] = [
  // 1: one row per certificate ever added; revocation sets revoked_at and never deletes the row, so
  // that a revoked certificate cannot be added again. Times are ISO 8601 UTC.
  `CREATE TABLE certificates (
     fingerprint TEXT PRIMARY KEY CHECK (length(fingerprint) = 64),
     user_id TEXT NOT NULL,
     pem TEXT NOT NULL,
     source TEXT NOT NULL CHECK (source IN ('ca', 'manual')),
     serial TEXT NOT NULL,
     key_fingerprint TEXT NOT NULL,
     not_before TEXT NOT NULL,
     not_after TEXT NOT NULL,
     added_at TEXT NOT NULL,
     revoked_at TEXT
   );
   CREATE INDEX certificates_user ON certificates (user_id COLLATE NOCASE, revoked_at);`,
];

export function openTrustDatabase(file: string): Database.Database {
  // 0600 before SQLite opens it, so that its -wal and -shm are made 0600 too.
  preparePrivateDatabase(file, { create: true });
  const db = new Database(file);
  try {
    // busy_timeout first: a service and vbs-admin may open (and migrate) the file at the same moment.
    db.pragma('busy_timeout = 5000');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    migrate(db);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function migrate(db: Database.Database): void {
  const current = (): number => Number(db.pragma('user_version', { simple: true }));
  const check = (version: number): void => {
    if (version > TRUST_MIGRATIONS.length) {
      throw new Error(`trust store schema ${version} is newer than this VBS (${TRUST_MIGRATIONS.length})`);
    }
  };
  check(current());
  if (current() === TRUST_MIGRATIONS.length) return; // the usual case: no write lock taken
  // Read again inside the write transaction, so two processes never apply the same step.
  db.transaction(() => {
    const version = current();
    check(version);
    for (let v = version; v < TRUST_MIGRATIONS.length; v++) db.exec(TRUST_MIGRATIONS[v] ?? '');
    db.pragma(`user_version = ${TRUST_MIGRATIONS.length}`);
  }).immediate();
}
