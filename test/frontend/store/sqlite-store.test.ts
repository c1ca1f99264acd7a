/** The SQLite store: the metadata-store and state-table conformance suites on a real file, and its own migrations. */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../../src/frontend/store/sqlite-store.js';
import { MIGRATIONS } from '../../../src/frontend/store/sqlite-migrations.js';
import { metadataStoreConformance } from '../../conformance/metadata-store.js';
import { stateTableConformance } from '../../conformance/state-table.js';

function tempFile(): { file: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'vbs-store-'));
  return { file: join(dir, 'vbs.sqlite'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

metadataStoreConformance('SQLite store', async () => {
  const { file, remove } = tempFile();
  const store = new SqliteStore(file);
  return {
    store,
    another: async () => new SqliteStore(file),
    close: async () => {
      await store.close();
      remove();
    },
  };
});

stateTableConformance('SQLite store', async () => {
  const { file, remove } = tempFile();
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
      remove();
    },
  };
});

describe('SQLite store: its file', () => {
  it('applies its migrations once and records the version in the file, in WAL mode', async () => {
    const { file, remove } = tempFile();
    try {
      await new SqliteStore(file).close();
      const again = new SqliteStore(file);
      await again.close();
      const db = new Database(file, { readonly: true });
      expect(db.pragma('user_version', { simple: true })).to.equal(MIGRATIONS.length);
      expect(db.pragma('journal_mode', { simple: true })).to.equal('wal');
      db.close();
    } finally {
      remove();
    }
  });
});
