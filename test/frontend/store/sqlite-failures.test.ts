/**
 * The SQLite store when its database cannot write or is locked: a failed commit is an error the
 * caller sees (Unavailable, nothing changed), never a changed record; a lock held by another
 * connection is waited for without freezing the event loop, and one held too long is Unavailable.
 */
import { expect } from 'chai';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { VbsError } from '../../../src/core/errors.js';
import { SqliteStore } from '../../../src/frontend/store/sqlite-store.js';
import { volumeRecord } from '../../support/records.js';
import { mountTinyFs, type TinyFs } from '../../support/tiny-fs.js';

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof VbsError) return e.code;
    throw e;
  }
  return 'no error';
}

/** How often a 5 ms timer fired while `p` ran: near zero when the event loop was blocked. */
async function ticksDuring(p: Promise<unknown>): Promise<number> {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  try {
    await p;
  } catch {
    // the outcome is checked by the caller
  } finally {
    clearInterval(timer);
  }
  return ticks;
}

describe('SQLite store: failed commits and locks', function () {
  this.timeout(30_000);

  describe('on a full disk', () => {
    let fs: TinyFs;
    let store: SqliteStore;
    beforeEach(() => {
      fs = mountTinyFs(4);
      store = new SqliteStore(join(fs.dir, 'vbs.sqlite'));
    });
    afterEach(async () => {
      await store.close();
      fs.unmount();
    });

    it('reports a transition whose commit failed as Unavailable, and the database keeps the old status', async () => {
      const v = volumeRecord({ status: 'creating', statusMessage: 'x'.repeat(100) });
      expect((await store.insertVolume(v)).admitted).to.equal(true);
      fs.fill();
      // A long message makes the change bigger than any free page the file still has.
      const big = 'm'.repeat(256 * 1024);
      expect(await codeOf(store.transitionVolume(v.id, 'provisioningFailed', { statusMessage: big }))).to.equal(
        'Unavailable',
      );
      const other = new Database(join(fs.dir, 'vbs.sqlite'), { readonly: true });
      try {
        expect(other.prepare('SELECT status FROM volumes WHERE id = ?').get(v.id)).to.deep.equal({
          status: 'creating',
        });
      } finally {
        other.close();
      }
      fs.unfill();
      const done = await store.transitionVolume(v.id, 'provisioningFailed', { statusMessage: big });
      expect(done.changed && done.record.status).to.equal('error');
    });

    it('reports a failed insert as Unavailable, and nothing was inserted', async () => {
      fs.fill();
      const v = volumeRecord({ statusMessage: 'x'.repeat(256 * 1024) });
      expect(await codeOf(store.insertVolume(v))).to.equal('Unavailable');
      fs.unfill();
      expect(await store.getVolume(v.id)).to.equal(undefined);
    });
  });

  describe('while another connection holds the write lock', () => {
    let dir: TinyFs;
    let store: SqliteStore;
    let other: Database.Database;
    beforeEach(() => {
      dir = mountTinyFs(16);
      store = new SqliteStore(join(dir.dir, 'vbs.sqlite'), 1000);
      other = new Database(join(dir.dir, 'vbs.sqlite'));
    });
    afterEach(async () => {
      if (other.inTransaction) other.exec('ROLLBACK');
      other.close();
      await store.close();
      dir.unmount();
    });

    it('waits for the lock without blocking the event loop, and then commits', async () => {
      const v = volumeRecord({ status: 'creating' });
      await store.insertVolume(v);
      other.exec('BEGIN IMMEDIATE');
      setTimeout(() => other.exec('COMMIT'), 300);
      const change = store.transitionVolume(v.id, 'provisioned');
      const ticks = await ticksDuring(change);
      expect((await change).changed).to.equal(true);
      expect(ticks, 'timers kept firing while the store waited').to.be.greaterThan(20);
    });

    it('answers Unavailable when the lock is held past its wait, and works again once it is released', async () => {
      const v = volumeRecord({ status: 'creating' });
      await store.insertVolume(v);
      other.exec('BEGIN IMMEDIATE');
      const started = Date.now();
      const refused = store.transitionVolume(v.id, 'provisioned');
      const ticks = await ticksDuring(refused);
      expect(await codeOf(refused)).to.equal('Unavailable');
      expect(Date.now() - started).to.be.within(900, 3000);
      expect(ticks, 'timers kept firing while the store waited').to.be.greaterThan(60);
      other.exec('COMMIT');
      expect((await store.transitionVolume(v.id, 'provisioned')).changed).to.equal(true);
    });

    it('reads while another connection writes (WAL): readers are not held up', async () => {
      const v = volumeRecord();
      await store.insertVolume(v);
      other.exec('BEGIN IMMEDIATE');
      const started = Date.now();
      expect((await store.getVolume(v.id))?.status).to.equal('available');
      expect(Date.now() - started).to.be.lessThan(200);
      other.exec('COMMIT');
    });
  });
});
