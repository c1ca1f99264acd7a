import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../../src/frontend/store/sqlite-store.js';
import { MIGRATIONS } from '../../../src/frontend/store/sqlite-migrations.js';
import { snapshotRecord, volumeRecord } from '../../support/records.js';

describe('SQLite metadata store', () => {
  let dir: string;
  let store: SqliteStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vbs-store-'));
    store = new SqliteStore(join(dir, 'vbs.sqlite'));
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('applies its migrations once and records the version in the file', async () => {
    await store.close();
    store = new SqliteStore(join(dir, 'vbs.sqlite'));
    const db = new Database(join(dir, 'vbs.sqlite'), { readonly: true });
    expect(db.pragma('user_version', { simple: true })).to.equal(MIGRATIONS.length);
    expect(db.pragma('journal_mode', { simple: true })).to.equal('wal');
    db.close();
  });

  it('changes status only along the state table, atomically with the check', async () => {
    const v = volumeRecord({ status: 'creating' });
    await store.insertVolume(v);
    const refused = await store.transitionVolume(v.id, 'attach');
    expect(refused.changed).to.equal(false);
    expect(!refused.changed && refused.current?.status).to.equal('creating');
    const done = await store.transitionVolume(v.id, 'provisioned');
    expect(done.changed && done.record.status).to.equal('available');
    const again = await store.transitionVolume(v.id, 'provisioned');
    expect(again.changed).to.equal(false);
    expect((await store.getVolume(v.id))?.status).to.equal('available');
  });

  it('lets exactly one of many concurrent deletes win', async () => {
    const v = volumeRecord();
    await store.insertVolume(v);
    const outcomes = await Promise.all(Array.from({ length: 50 }, () => store.transitionVolume(v.id, 'delete')));
    expect(outcomes.filter((o) => o.changed)).to.have.length(1);
  });

  it('refuses to delete a volume while a snapshot of it is pending, naming the guard', async () => {
    const v = volumeRecord();
    await store.insertVolume(v);
    expect((await store.insertSnapshot(snapshotRecord(v.id))).admitted).to.equal(true);
    const o = await store.transitionVolume(v.id, 'delete');
    expect(o.changed).to.equal(false);
    expect(!o.changed && o.blockedBy).to.equal('volumeHasPendingSnapshot');
  });

  it('refuses a snapshot of a volume that is not available or in-use', async () => {
    const v = volumeRecord({ status: 'creating' });
    await store.insertVolume(v);
    expect((await store.insertSnapshot(snapshotRecord(v.id))).admitted).to.equal(false);
    expect(await store.findSnapshots({})).to.have.length(0);
  });

  it('makes a volume from a snapshot only while it is completed, and then guards the snapshot', async () => {
    const v = volumeRecord();
    await store.insertVolume(v);
    const s = snapshotRecord(v.id);
    await store.insertSnapshot(s);
    expect((await store.insertVolume(volumeRecord({ snapshotId: s.id, status: 'creating' }))).admitted).to.equal(false);
    await store.transitionSnapshot(s.id, 'copied', { progress: 100 });
    const restored = volumeRecord({ snapshotId: s.id, status: 'creating' });
    expect((await store.insertVolume(restored)).admitted).to.equal(true);
    const o = await store.transitionSnapshot(s.id, 'delete');
    expect(!o.changed && o.blockedBy).to.equal('snapshotHasCreatingVolume');
    await store.transitionVolume(restored.id, 'provisioned');
    expect((await store.transitionSnapshot(s.id, 'delete')).changed).to.equal(true);
    expect((await store.insertVolume(volumeRecord({ snapshotId: s.id, status: 'creating' }))).admitted).to.equal(false);
  });

  it('never moves snapshot progress backwards', async () => {
    const v = volumeRecord();
    await store.insertVolume(v);
    const s = snapshotRecord(v.id);
    await store.insertSnapshot(s);
    await store.transitionSnapshot(s.id, 'progressed', { progress: 80 });
    await store.transitionSnapshot(s.id, 'progressed', { progress: 40 });
    expect((await store.getSnapshot(s.id))?.progress).to.equal(80);
  });

  it('scopes lists by owner and hides deleted rows', async () => {
    const mine = volumeRecord();
    const theirs = volumeRecord({ ownerId: 'bob' });
    const gone = volumeRecord();
    for (const v of [mine, theirs, gone]) await store.insertVolume(v);
    await store.transitionVolume(gone.id, 'delete');
    await store.transitionVolume(gone.id, 'deleted');
    expect((await store.findVolumes({ ownerId: 'alice' })).map((v) => v.id)).to.deep.equal([mine.id]);
    expect((await store.findVolumes({})).map((v) => v.id)).to.have.members([mine.id, theirs.id]);
    expect(await store.findVolumes({ ids: [theirs.id], ownerId: 'alice' })).to.have.length(0);
  });

  it('keeps what it acknowledged after the process is gone (a second connection sees it)', async () => {
    const v = volumeRecord();
    await store.insertVolume(v);
    const other = new SqliteStore(join(dir, 'vbs.sqlite'));
    expect((await other.getVolume(v.id))?.id).to.equal(v.id);
    await other.close();
  });

  it('finds jobs with no word since a time, for the deadline', async () => {
    const old = volumeRecord({ status: 'creating', updatedAt: Date.now() - 60_000 });
    const fresh = volumeRecord({ status: 'creating' });
    await store.insertVolume(old);
    await store.insertVolume(fresh);
    expect((await store.volumesUnchangedSince('creating', Date.now() - 30_000)).map((v) => v.id)).to.deep.equal([
      old.id,
    ]);
    await store.transitionVolume(old.id, 'progressed');
    expect(await store.volumesUnchangedSince('creating', Date.now() - 30_000)).to.have.length(0);
  });
});
