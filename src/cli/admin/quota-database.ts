/**
 * The frontend's metadata database as the quota commands reach it, with the frontend's default
 * quotas: both come from the frontend's config (--config FILE, else HOME/frontend.json when it
 * exists, else the defaults under HOME), so that what vbs-admin shows is what that frontend applies.
 * The file is opened only if it exists and has the quota table: the frontend makes and migrates it
 * when it starts, and vbs-admin never makes a database where a frontend would not look. What
 * vbs-admin writes takes effect at once: the frontend reads the overrides in each create's INSERT.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadFrontendConfig } from '../../config/config.js';
import { preparePrivateDatabase } from '../../private-files.js';
import { openPragmas } from '../../sqlite/checked.js';
import { hasQuotaTable, QUOTA_KINDS, quotaOf, type Limits, type QuotaKind } from '../../sqlite/quotas.js';
import type { OptionSpec } from '../args.js';
import { CliError } from '../command.js';
import { renderTable, type Column } from '../table.js';

export const CONFIG_OPTION: OptionSpec = {
  type: 'string',
  value: 'FILE',
  help: "the frontend's config, for its database and default quotas (default $VBS_HOME/frontend.json, if any)",
};

export interface QuotaDatabase {
  readonly db: Database.Database;
  readonly file: string;
  /** The frontend's default quotas (quotaVolumes, quotaGiB, quotaSnapshots). */
  readonly defaults: Limits;
  close(): void;
}

export function openQuotaDatabase(home: string, configArg: string | undefined): QuotaDatabase {
  const homeConfig = join(home, 'frontend.json');
  const configFile = configArg !== undefined ? resolve(configArg) : existsSync(homeConfig) ? homeConfig : undefined;
  let config: ReturnType<typeof loadFrontendConfig>;
  try {
    config = loadFrontendConfig(configFile, home);
  } catch (err) {
    throw new CliError(`cannot read the frontend's config: ${err instanceof Error ? err.message : String(err)}`);
  }
  const file = config.database;
  if (!existsSync(file)) {
    throw new CliError(
      `no metadata store at ${file}: start the frontend once (it makes it), or give the frontend's --config`,
    );
  }
  // Tightened as the frontend does, so that a -wal or -shm this open makes is 0600 too.
  preparePrivateDatabase(file, { create: false });
  const db = new Database(file, { fileMustExist: true });
  try {
    openPragmas(db);
    if (!hasQuotaTable(db)) {
      throw new CliError(`${file} was made by an older VBS: start this version's frontend once, which migrates it`);
    }
  } catch (err) {
    db.close();
    throw err;
  }
  return {
    db,
    file,
    defaults: { volumes: config.quotaVolumes, gib: config.quotaGiB, snapshots: config.quotaSnapshots },
    close: () => {
      db.close();
    },
  };
}

/** One line of `quota show`: a kind, its limit (null: none), whether an override or the default set it, what is held. */
export interface QuotaLine {
  readonly kind: QuotaKind;
  readonly limit: number | null;
  readonly setBy: 'override' | 'default';
  readonly held: number;
}

export interface QuotaReport {
  readonly userId: string;
  readonly database: string;
  readonly quotas: readonly QuotaLine[];
}

export function quotaReport(q: QuotaDatabase, userId: string, overrides: Limits): QuotaReport {
  const { limits, used } = quotaOf(q.db, userId, q.defaults);
  return {
    userId,
    database: q.file,
    quotas: QUOTA_KINDS.map((kind) => ({
      kind,
      limit: limits[kind],
      setBy: overrides[kind] === null ? 'default' : 'override',
      held: used[kind],
    })),
  };
}

const UNIT: Readonly<Record<QuotaKind, string>> = { volumes: 'volumes', gib: 'GiB of volumes', snapshots: 'snapshots' };

const COLUMNS: readonly Column<QuotaLine>[] = [
  { header: 'QUOTA', cell: (q) => q.kind },
  { header: 'LIMIT', cell: (q) => (q.limit === null ? 'none' : String(q.limit)) },
  { header: 'SET BY', cell: (q) => q.setBy },
  { header: 'HELD', cell: (q) => String(q.held) },
];

export function renderQuotaReport(r: QuotaReport): string {
  const over = r.quotas.filter((q) => q.limit !== null && q.held > q.limit);
  const notes = over.map((q) => `${r.userId} holds more ${UNIT[q.kind]} than its limit: new ones are refused.\n`);
  return `Quota of ${r.userId}:\n${renderTable(COLUMNS, r.quotas)}${notes.join('')}`;
}
