/**
 * The SQL port (src/sql/port.ts) as every database behind it must keep it: a write commits all of
 * its statements or none, its answer comes after the commit, parameters and lists bind the same way,
 * the dialect's pieces mean the same thing, and a guarded INSERT … WHERE NOT EXISTS raced from many
 * connections at once admits exactly one. Each implementation runs this suite (SQLite on a real file,
 * PostgreSQL on a throwaway server).
 */
import { expect } from 'chai';
import { isVbsError } from '../../src/core/errors.js';
import type { SqlDatabase } from '../../src/sql/port.js';

export interface SqlFixture {
  /** A new connection (or pool) to the same database: what another frontend would have. */
  connect(): SqlDatabase;
  close(): Promise<void>;
}

export function sqlDatabaseConformance(name: string, open: () => Promise<SqlFixture>): void {
  describe(`${name}: the SQL port`, function () {
    this.timeout(60_000);
    let fixture: SqlFixture;
    let db: SqlDatabase;
    beforeEach(async () => {
      fixture = await open();
      db = fixture.connect();
      await db.write('test', async (s) => {
        await s.run(`CREATE TABLE things (id TEXT PRIMARY KEY, n INTEGER NOT NULL, at BIGINT)`);
        await s.run(`CREATE TABLE holds (thing TEXT NOT NULL, holder TEXT NOT NULL)`);
      });
    });
    afterEach(async () => {
      await db.close();
      await fixture.close();
    });

    it('commits a write whole, and keeps nothing of one that throws', async () => {
      await db.write('test', async (s) => {
        await s.run(`INSERT INTO things (id, n) VALUES (@id, @n)`, { id: 'a', n: 1 });
        await s.run(`INSERT INTO things (id, n) VALUES (@id, @n)`, { id: 'b', n: 2 });
      });
      const failed = db.write('test', async (s) => {
        await s.run(`INSERT INTO things (id, n) VALUES (@id, @n)`, { id: 'c', n: 3 });
        throw new Error('changed my mind');
      });
      expect(((await failed.catch((e: unknown) => e)) as Error).message).to.equal('changed my mind');
      // A statement that fails in the middle also undoes the ones before it.
      const duplicate = db.write('test', async (s) => {
        await s.run(`INSERT INTO things (id, n) VALUES (@id, @n)`, { id: 'd', n: 4 });
        await s.run(`INSERT INTO things (id, n) VALUES (@id, @n)`, { id: 'a', n: 5 });
      });
      expect(
        await duplicate.then(
          () => 'committed',
          () => 'refused',
        ),
      ).to.equal('refused');
      const other = fixture.connect();
      try {
        const rows = await other.read('test', (s) => s.all(`SELECT id, n FROM things ORDER BY id`));
        expect(rows).to.deep.equal([
          { id: 'a', n: 1 },
          { id: 'b', n: 2 },
        ]);
      } finally {
        await other.close();
      }
    });

    it('binds a parameter used twice, lists, quotes in literals, and counts changed rows', async () => {
      await db.write('test', async (s) => {
        for (const [id, n] of [
          ['x', 1],
          ['y', 2],
          ["it's", 3],
        ] as const)
          await s.run(`INSERT INTO things (id, n) VALUES (@id, @n)`, { id, n });
      });
      const rows = await db.read('test', (s) =>
        s.all(`SELECT id FROM things WHERE ${db.dialect.inList('id', 'ids')} AND id <> '@notaparam' ORDER BY id`, {
          ids: ['x', "it's", 'nope'],
        }),
      );
      expect(rows.map((r) => r['id'])).to.deep.equal(["it's", 'x']);
      const changed = await db.write('test', (s) =>
        s.run(`UPDATE things SET n = ${db.dialect.greatest('n', '@floor')} WHERE n < @floor OR n = @floor`, {
          floor: 2,
        }),
      );
      expect(changed).to.equal(2);
      const ns = await db.read('test', (s) => s.all(`SELECT n FROM things ORDER BY n`));
      expect(ns.map((r) => r['n'])).to.deep.equal([2, 2, 3]);
      const none = await db.read('test', (s) =>
        s.all(`SELECT id FROM things WHERE ${db.dialect.inList('id', 'ids')}`, { ids: [] }),
      );
      expect(none).to.deep.equal([]);
    });

    it("keeps milliseconds as numbers, and has a clock within a second of this host's", async () => {
      const ms = 1_780_000_000_123;
      await db.write('test', (s) => s.run(`INSERT INTO things (id, n, at) VALUES ('t', 0, @at)`, { at: ms }));
      const row = await db.read('test', (s) => s.get(`SELECT at, ${db.dialect.nowMs} AS now FROM things`));
      expect(row?.['at']).to.equal(ms);
      expect(typeof row?.['now']).to.equal('number');
      expect(Math.abs(Number(row?.['now']) - Date.now())).to.be.below(1000);
      expect(Math.abs((await db.now()) - Date.now())).to.be.below(1000);
    });

    it('refuses a statement with a parameter it was not given, changing nothing', async () => {
      const bad = db.write('test', (s) => s.run(`INSERT INTO things (id, n) VALUES (@id, @n)`, { id: 'q' }));
      expect(
        await bad.then(
          () => 'committed',
          () => 'refused',
        ),
      ).to.equal('refused');
      expect(await db.read('test', (s) => s.all(`SELECT * FROM things`))).to.deep.equal([]);
    });

    it('admits exactly one of 100 guarded inserts raced from 4 connections', async () => {
      await db.write('test', (s) => s.run(`INSERT INTO things (id, n) VALUES ('v', 0)`));
      const others = [fixture.connect(), fixture.connect(), fixture.connect(), fixture.connect()];
      try {
        const results = await Promise.allSettled(
          Array.from({ length: 100 }, (_, i) =>
            (others[i % others.length] as SqlDatabase).write('test', async (s) => {
              // The check reads one table and the insert writes another: the case READ COMMITTED gets wrong.
              const free = await s.get(
                `SELECT 1 AS x FROM things WHERE id = 'v' AND NOT EXISTS (SELECT 1 FROM holds WHERE thing = 'v')`,
              );
              if (!free) return false;
              await s.run(`INSERT INTO holds (thing, holder) VALUES ('v', @who)`, { who: `h${i}` });
              return true;
            }),
          ),
        );
        const refusedForLoad = results.filter((r) => r.status === 'rejected');
        for (const r of refusedForLoad) expect(isVbsError(r.reason) && r.reason.code).to.equal('Unavailable');
        const winners = results.filter((r) => r.status === 'fulfilled' && r.value);
        expect(winners).to.have.length(1);
        const holds = await db.read('test', (s) => s.all(`SELECT holder FROM holds`));
        expect(holds).to.have.length(1);
      } finally {
        await Promise.all(others.map((o) => o.close()));
      }
    });
    it('migrates once when several processes start together, and refuses a newer schema', async () => {
      const v1 = [`CREATE TABLE m1 (id TEXT PRIMARY KEY); INSERT INTO m1 VALUES ('one')`];
      const v2 = [...v1, `CREATE TABLE m2 (id TEXT PRIMARY KEY); INSERT INTO m2 SELECT id FROM m1`];
      const others = [fixture.connect(), fixture.connect(), fixture.connect()];
      try {
        await Promise.all(others.map((o) => o.migrate('test', v1)));
        await Promise.all(others.map((o) => o.migrate('test', v2)));
        await db.migrate('test', v2);
        const rows = await db.read('test', (s) => s.all(`SELECT id FROM m2`));
        expect(rows).to.deep.equal([{ id: 'one' }]);
        const older = await db.migrate('test', v1).then(
          () => 'accepted',
          (e: unknown) => String(e),
        );
        expect(older).to.match(/schema 2 is newer than this VBS \(1\)/);
      } finally {
        await Promise.all(others.map((o) => o.close()));
      }
    });
  });
}
