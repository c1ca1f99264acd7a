/** The SQLite store runs the state-table conformance suite, on a real database file. */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../../src/frontend/store/sqlite-store.js';
import { stateTableConformance } from '../../conformance/state-table.js';

stateTableConformance('SQLite store', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vbs-state-'));
  const file = join(dir, 'vbs.sqlite');
  const store = new SqliteStore(file);
  const raw = new Database(file);
  return {
    store,
    forceStatus: async (table, id, status) => {
      raw.prepare(`UPDATE ${table} SET status = ? WHERE id = ?`).run(status, id);
    },
    close: async () => {
      raw.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
