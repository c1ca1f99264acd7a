/**
 * The PostgreSQL store runs the metadata-store and state-table conformance suites on a throwaway
 * server (a database per test), and shows its own: the schema made once by frontends that start
 * together.
 */
import { expect } from 'chai';
import { openPostgresStore } from '../../../src/frontend/store/postgres-store.js';
import { POSTGRES_MIGRATIONS } from '../../../src/frontend/store/postgres-migrations.js';
import { metadataStoreConformance } from '../../conformance/metadata-store.js';
import { quotaConformance } from '../../conformance/quotas.js';
import { stateTableConformance } from '../../conformance/state-table.js';
import { startPostgres, type PostgresServer } from '../../support/postgres.js';

let server: PostgresServer | undefined;
let databases = 0;
before(async function () {
  this.timeout(60_000);
  server = await startPostgres();
});
after(() => server?.stop());

function freshDatabase(): string {
  if (!server) throw new Error('no server');
  const name = `store_${++databases}`;
  server.createDatabase(name);
  return server.url(name);
}

metadataStoreConformance('PostgreSQL store', async () => {
  const url = freshDatabase();
  const store = await openPostgresStore({ url });
  return { store, another: () => openPostgresStore({ url }), close: () => store.close() };
});

stateTableConformance('PostgreSQL store', async () => {
  const url = freshDatabase();
  const store = await openPostgresStore({ url });
  const name = new URL(url).pathname.slice(1);
  return {
    store,
    forceStatus: async (table, id, status) => {
      server?.psql(name, `UPDATE ${table} SET status = ${quoted(status)} WHERE id = ${quoted(id)}`);
    },
    close: () => store.close(),
  };
});

const quoted = (v: string | number | null): string =>
  v === null ? 'NULL' : typeof v === 'number' ? String(v) : `'${v.replace(/'/g, "''")}'`;

quotaConformance('PostgreSQL store', async () => {
  const url = freshDatabase();
  const store = await openPostgresStore({ url });
  const name = new URL(url).pathname.slice(1);
  return {
    store,
    forceStatus: async (table, id, status) => {
      server?.psql(name, `UPDATE ${table} SET status = ${quoted(status)} WHERE id = ${quoted(id)}`);
    },
    // What vbs-admin quota set writes: a number sets a limit, null returns it to the default.
    setQuota: async (ownerId, changes) => {
      const cols = Object.keys(changes);
      const vals = Object.values(changes).map((v) => quoted(v ?? null));
      const sets = cols.map((c) => `${c} = EXCLUDED.${c}`).join(', ');
      server?.psql(
        name,
        `INSERT INTO quota_overrides (owner_id, ${cols.join(', ')}, updated_at) VALUES (${quoted(ownerId)}, ${vals.join(', ')}, 'now')
         ON CONFLICT (owner_id) DO UPDATE SET ${sets}`,
      );
    },
    close: () => store.close(),
  };
});

describe('PostgreSQL store: its schema', function () {
  this.timeout(60_000);
  it('is made once by frontends that open it together', async () => {
    const url = freshDatabase();
    const stores = await Promise.all(Array.from({ length: 4 }, () => openPostgresStore({ url })));
    await Promise.all(stores.map((s) => s.close()));
    const name = new URL(url).pathname.slice(1);
    expect(server?.psql(name, `SELECT version FROM vbs_schema_versions WHERE schema = 'metadata'`).trim()).to.equal(
      String(POSTGRES_MIGRATIONS.length),
    );
  });
});
