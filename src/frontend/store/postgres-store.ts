/**
 * The metadata store on PostgreSQL, for several frontends on several hosts sharing one database.
 * The statements are SqlStore's; the schema is made or brought up to date before the store is
 * handed out, once even when frontends start together (src/postgres/sql-database.ts).
 */
import { PostgresDatabase, type PostgresOptions } from '../../postgres/sql-database.js';
import { POSTGRES_MIGRATIONS } from './postgres-migrations.js';
import { SqlStore } from './sql-store.js';

export async function openPostgresStore(options: PostgresOptions): Promise<SqlStore> {
  const db = new PostgresDatabase(options);
  try {
    await db.migrate('metadata', POSTGRES_MIGRATIONS);
  } catch (e) {
    await db.close();
    throw e;
  }
  return new SqlStore(db);
}
