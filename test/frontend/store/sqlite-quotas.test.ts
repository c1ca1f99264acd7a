/**
 * The SQLite store runs the quota conformance suite on a real database file, with overrides written
 * as vbs-admin writes them (src/sqlite/quotas.ts, on a connection of its own); and the helpers
 * vbs-admin shows a quota with agree with what the store counts.
 */
import Database from 'better-sqlite3';
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../../src/frontend/store/sqlite-store.js';
import { writing } from '../../../src/sqlite/checked.js';
import { NO_LIMITS, overridesOf, quotaOf, setOverrides } from '../../../src/sqlite/quotas.js';
import { quotaConformance } from '../../conformance/quotas.js';
import { snapshotRecord, volumeRecord } from '../../support/records.js';

function openFixture(): { dir: string; store: SqliteStore; raw: Database.Database } {
  const dir = mkdtempSync(join(tmpdir(), 'vbs-quota-'));
  const file = join(dir, 'vbs.sqlite');
  const store = new SqliteStore(file);
  return { dir, store, raw: new Database(file) };
}

quotaConformance('SQLite store', async () => {
  const { dir, store, raw } = openFixture();
  return {
    store,
    forceStatus: async (table, id, status) => {
      raw.prepare(`UPDATE ${table} SET status = ? WHERE id = ?`).run(status, id);
    },
    setQuota: async (ownerId, changes) => {
      writing(raw, () => setOverrides(raw, ownerId, changes, new Date().toISOString()));
    },
    close: async () => {
      raw.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('SQLite quota helpers (what vbs-admin reads and writes)', () => {
  let f: ReturnType<typeof openFixture>;
  beforeEach(() => {
    f = openFixture();
  });
  afterEach(async () => {
    f.raw.close();
    await f.store.close();
    rmSync(f.dir, { recursive: true, force: true });
  });

  it('shows what the store counts: live volumes, their GiB, live snapshots', async () => {
    const a = volumeRecord({ sizeGiB: 3 });
    const b = volumeRecord({ sizeGiB: 5, status: 'error' });
    const gone = volumeRecord({ sizeGiB: 100, status: 'deleted' });
    for (const v of [a, b, gone]) await f.store.insertVolume(v);
    await f.store.insertSnapshot(snapshotRecord(a.id));
    await f.store.insertVolume(volumeRecord({ ownerId: 'bob', sizeGiB: 7 }));
    expect(quotaOf(f.raw, 'alice', { volumes: 10, gib: null, snapshots: 2 })).to.deep.equal({
      limits: { volumes: 10, gib: null, snapshots: 2 },
      used: { volumes: 2, gib: 8, snapshots: 1 },
    });
  });

  it('sets, changes and clears overrides field by field; a user with none left has no row', () => {
    const set = (changes: Parameters<typeof setOverrides>[2]): void => {
      writing(f.raw, () => setOverrides(f.raw, 'alice', changes, '2025-01-01T00:00:00.000Z'));
    };
    set({ volumes: 4, gib: 0 });
    expect(overridesOf(f.raw, 'alice')).to.deep.equal({ volumes: 4, gib: 0, snapshots: null });
    set({ snapshots: 9 });
    expect(overridesOf(f.raw, 'alice')).to.deep.equal({ volumes: 4, gib: 0, snapshots: 9 });
    expect(quotaOf(f.raw, 'alice', { volumes: 1, gib: 1, snapshots: 1 }).limits).to.deep.equal({
      volumes: 4,
      gib: 0,
      snapshots: 9,
    });
    set({ volumes: null, gib: null, snapshots: null });
    expect(overridesOf(f.raw, 'alice')).to.deep.equal(NO_LIMITS);
    expect(f.raw.prepare('SELECT COUNT(*) AS n FROM quota_overrides').get()).to.deep.equal({ n: 0 });
  });

  it('refuses a negative limit (the table checks it)', () => {
    expect(() => writing(f.raw, () => setOverrides(f.raw, 'alice', { volumes: -1 }, 'now'))).to.throw(/CHECK/);
  });
});
