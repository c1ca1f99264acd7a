/**
 * Per-user quotas in the frontend's metadata database (vbs.sqlite), as SQL shared by its two writers:
 * the metadata store, which checks a quota inside the very statement that inserts the volume or
 * snapshot it limits (src/frontend/store/sql-store.ts, on SQLite and PostgreSQL alike), and vbs-admin, which sets a user's
 * overrides and shows them beside what the user holds (src/cli/admin/quota-*.ts). Both read "what a
 * user holds" from here, so the admin sees exactly what the frontend counts. Like the trust store's
 * schema, this is a file format shared by a service and vbs-admin; the table itself is made by the
 * store's migrations (src/frontend/store/sqlite-migrations.ts).
 *
 * What counts: every volume or snapshot of the owner that is not a deleted tombstone. Creating,
 * available, in-use, deleting and error ones all count (an error volume keeps its ID and its file
 * until it is deleted). The GiB quota is the total size of the owner's volumes; snapshots do not
 * count towards it.
 *
 * A limit is the owner's override when vbs-admin set one, else the default the frontend was
 * configured with (bound as @default_volumes, @default_gib, @default_snapshots); NULL is no limit.
 */
import type Database from 'better-sqlite3';
import { HIDDEN_SNAPSHOT_STATUSES, HIDDEN_VOLUME_STATUSES } from '../core/state.js';
import { sqlList } from '../sql/sql-text.js';

export const QUOTA_KINDS = ['volumes', 'gib', 'snapshots'] as const;
export type QuotaKind = (typeof QUOTA_KINDS)[number];
/** A limit of each kind; null: none. */
export type Limits = Readonly<Record<QuotaKind, number | null>>;
/** What an owner holds of each kind. */
export type Usage = Readonly<Record<QuotaKind, number>>;

export const NO_LIMITS: Limits = { volumes: null, gib: null, snapshots: null };

const LIVE_VOLUMES = `FROM volumes WHERE owner_id = @owner AND status NOT IN ${sqlList(HIDDEN_VOLUME_STATUSES)}`;
const LIVE_SNAPSHOTS = `FROM snapshots WHERE owner_id = @owner AND status NOT IN ${sqlList(HIDDEN_SNAPSHOT_STATUSES)}`;

/** What @owner holds now, as SQL expressions. */
const USED: Readonly<Record<QuotaKind, string>> = {
  volumes: `(SELECT COUNT(*) ${LIVE_VOLUMES})`,
  gib: `(SELECT COALESCE(SUM(size_gib), 0) ${LIVE_VOLUMES})`,
  snapshots: `(SELECT COUNT(*) ${LIVE_SNAPSHOTS})`,
};

/** @owner's limit of `kind`, as an SQL expression: its override, else the default bound for it. */
function limitSql(kind: QuotaKind): string {
  return `COALESCE((SELECT ${kind} FROM quota_overrides WHERE owner_id = @owner), @default_${kind})`;
}

/**
 * True (1) while @owner, with `adding` more of `kind` (an SQL expression: `1`, `@size`), stays within
 * its limit. Put in the WHERE of an INSERT … SELECT, the check and the insert are one statement.
 */
export function withinQuotaSql(kind: QuotaKind, adding: string): string {
  return `(${limitSql(kind)} IS NULL OR ${USED[kind]} + ${adding} <= ${limitSql(kind)})`;
}

/** The parameters withinQuotaSql needs besides @owner: the defaults. */
export function quotaDefaultParams(defaults: Limits): Record<`default_${QuotaKind}`, number | null> {
  return { default_volumes: defaults.volumes, default_gib: defaults.gib, default_snapshots: defaults.snapshots };
}

/** @owner's limits and what it holds, as one SELECT (with quotaDefaultParams bound); read by quotaFromRow. */
export const QUOTA_OF_SQL = `SELECT ${QUOTA_KINDS.map((k) => `${limitSql(k)} AS limit_${k}, ${USED[k]} AS used_${k}`).join(', ')}`;

export function quotaFromRow(row: Readonly<Record<string, unknown>>): { limits: Limits; used: Usage } {
  const limit = (k: QuotaKind): number | null => {
    const v = row[`limit_${k}`];
    return v === null || v === undefined ? null : Number(v);
  };
  const used = (k: QuotaKind): number => Number(row[`used_${k}`] ?? 0);
  return {
    limits: { volumes: limit('volumes'), gib: limit('gib'), snapshots: limit('snapshots') },
    used: { volumes: used('volumes'), gib: used('gib'), snapshots: used('snapshots') },
  };
}

/** What `owner` holds now, and its limits with `defaults` where it has no override. */
export function quotaOf(db: Database.Database, owner: string, defaults: Limits): { limits: Limits; used: Usage } {
  return quotaFromRow(
    db.prepare(QUOTA_OF_SQL).get({ owner, ...quotaDefaultParams(defaults) }) as Record<string, unknown>,
  );
}

/** The overrides vbs-admin set for `owner` (null where the default applies). */
export function overridesOf(db: Database.Database, owner: string): Limits {
  const row = db.prepare(`SELECT volumes, gib, snapshots FROM quota_overrides WHERE owner_id = ?`).get(owner) as
    Record<QuotaKind, number | null> | undefined;
  return row ? { volumes: row.volumes, gib: row.gib, snapshots: row.snapshots } : NO_LIMITS;
}

/**
 * Changes `owner`'s overrides: a number sets that limit, null returns it to the default, an absent
 * kind is left as it is. Run it inside a write transaction. A user with no override left has no row.
 */
export function setOverrides(
  db: Database.Database,
  owner: string,
  changes: Partial<Record<QuotaKind, number | null>>,
  now: string,
): Limits {
  const merged: Limits = { ...overridesOf(db, owner), ...changes };
  if (QUOTA_KINDS.every((k) => merged[k] === null)) {
    db.prepare(`DELETE FROM quota_overrides WHERE owner_id = ?`).run(owner);
    return merged;
  }
  db.prepare(
    `INSERT INTO quota_overrides (owner_id, volumes, gib, snapshots, updated_at) VALUES (@owner, @volumes, @gib, @snapshots, @now)
     ON CONFLICT (owner_id) DO UPDATE SET volumes = excluded.volumes, gib = excluded.gib, snapshots = excluded.snapshots, updated_at = excluded.updated_at`,
  ).run({ owner, ...merged, now });
  return merged;
}

/** Whether `db` has the quota table, i.e. was migrated by a frontend that knows quotas. */
export function hasQuotaTable(db: Database.Database): boolean {
  return (
    db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'quota_overrides'`).get() !== undefined
  );
}
