/**
 * The one place that turns the frontend's `database` setting into a metadata store:
 * `postgres://…` (or `postgresql://…`) for PostgreSQL, shared by several frontends; `sqlite:PATH`,
 * or a plain path, for one SQLite file (the default, HOME/vbs.sqlite).
 */
import type { MetadataStore } from './metadata-store.js';
import { openPostgresStore } from './postgres-store.js';
import { SqliteStore } from './sqlite-store.js';

export type DatabaseLocation =
  { readonly kind: 'sqlite'; readonly file: string } | { readonly kind: 'postgres'; readonly url: string };

/** Throws with a message that names the setting when it is neither form. */
export function databaseLocation(setting: string): DatabaseLocation {
  if (/^postgres(ql)?:\/\//.test(setting)) {
    try {
      new URL(setting);
    } catch {
      throw new Error(`database: not a PostgreSQL URL: ${redacted(setting)}`);
    }
    return { kind: 'postgres', url: setting };
  }
  const file = setting.startsWith('sqlite:') ? setting.slice('sqlite:'.length) : setting;
  if (file === '' || /^[a-z][a-z0-9+.-]*:\/\//i.test(file))
    throw new Error(`database: give postgres://… or sqlite:PATH, not ${redacted(setting)}`);
  return { kind: 'sqlite', file };
}

/** A URL as it may be logged: without its password. */
export function redacted(setting: string): string {
  return setting.replace(/(\/\/[^:/@]*):[^@/]*@/, '$1:***@');
}

export async function openMetadataStore(setting: string, applicationName: string): Promise<MetadataStore> {
  const where = databaseLocation(setting);
  return where.kind === 'postgres'
    ? openPostgresStore({ url: where.url, applicationName })
    : new SqliteStore(where.file);
}
