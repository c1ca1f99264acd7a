/** The SQLite port runs the SQL port's conformance suite, on a real database file in WAL mode. */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openPragmas } from '../../src/sqlite/checked.js';
import { SqliteDatabase } from '../../src/sqlite/sql-database.js';
import { sqlDatabaseConformance } from '../conformance/sql-database.js';

sqlDatabaseConformance('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vbs-sqlport-'));
  const file = join(dir, 'db.sqlite');
  return {
    connect: () => {
      const db = new Database(file);
      openPragmas(db);
      return new SqliteDatabase(db);
    },
    close: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
