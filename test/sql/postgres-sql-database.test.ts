/**
 * The PostgreSQL port runs the SQL port's conformance suite on a throwaway server, and then what is
 * PostgreSQL's own: a server that goes away is Unavailable (never a stack or a hang), and the port
 * recovers by itself when it is back.
 */
import { expect } from 'chai';
import { isVbsError } from '../../src/core/errors.js';
import { PostgresDatabase } from '../../src/postgres/sql-database.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { sqlDatabaseConformance } from '../conformance/sql-database.js';

let server: PostgresServer | undefined;
let databases = 0;
before(async function () {
  this.timeout(60_000);
  server = await startPostgres();
});
after(() => server?.stop());

sqlDatabaseConformance('PostgreSQL', async () => {
  if (!server) throw new Error('no server');
  const name = `port_${++databases}`;
  server.createDatabase(name);
  const url = server.url(name);
  return { connect: () => new PostgresDatabase({ url }), close: async () => undefined };
});

describe('PostgreSQL port: the server goes away and comes back', function () {
  this.timeout(60_000);
  it('answers Unavailable while the server is down, with nothing changed, and recovers', async () => {
    if (!server) throw new Error('no server');
    server.createDatabase('outage');
    const db = new PostgresDatabase({ url: server.url('outage'), waitBudgetMs: 1000 });
    try {
      await db.write('test', (s) => s.run(`CREATE TABLE t (id TEXT PRIMARY KEY)`));
      server.kill();
      const started = Date.now();
      const refused = await db.write('test', (s) => s.run(`INSERT INTO t VALUES ('a')`)).catch((e: unknown) => e);
      expect(isVbsError(refused) && refused.code, String(refused)).to.equal('Unavailable');
      expect(Date.now() - started).to.be.below(8000);
      server.restart();
      await db.write('test', (s) => s.run(`INSERT INTO t VALUES ('b')`));
      const rows = await db.read('test', (s) => s.all(`SELECT id FROM t ORDER BY id`));
      expect(rows.map((r) => r['id'])).to.deep.equal(['b']);
    } finally {
      await db.close();
    }
  });
});
