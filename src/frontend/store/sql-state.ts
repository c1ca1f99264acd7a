/**
 * The state table of src/core/state.ts as SQL text (the same on SQLite and PostgreSQL): a transition is one conditional UPDATE, a
 * guard an EXISTS over the related rows, a set of statuses an IN list. Everything here is made from
 * VBS's own constants, never from client input, and every status change of the store is built here,
 * so that adding a transition, a status or a guard to the table is one edit there.
 */
import { GUARDS, type Guard, type Relation, type Transition } from '../../core/state.js';
import { sqlList } from '../../sql/sql-text.js';

export type ResourceTable = 'volumes' | 'snapshots';
export type StatefulTable = ResourceTable | 'attachments';

export { sqlList };

/** Where each relation of core lives: the related table, and its column that holds the resource's ID. */
const RELATIONS: Readonly<
  Record<Relation, { readonly owner: ResourceTable; readonly table: string; readonly column: string }>
> = {
  snapshotsOfVolume: { owner: 'volumes', table: 'snapshots', column: 'volume_id' },
  attachmentsOfVolume: { owner: 'volumes', table: 'attachments', column: 'volume_id' },
  volumesFromSnapshot: { owner: 'snapshots', table: 'volumes', column: 'snapshot_id' },
};

/** The guard as SQL over the row of `owner` being changed: true while it blocks. */
export function guardSql(guard: Guard): string {
  const { relation, statuses } = GUARDS[guard];
  const { owner, table, column } = RELATIONS[relation];
  return `EXISTS (SELECT 1 FROM ${table} g WHERE g.${column} = ${owner}.id AND g.status IN ${sqlList(statuses)})`;
}

/**
 * `t` as one statement on the row @id: the status must be one of `from` and no guard may hold, in
 * the same statement that changes it, so check and change are one atomic step (on PostgreSQL, with
 * SERIALIZABLE: see src/postgres/sql-database.ts). `now` is the database's clock; `sets` adds columns;
 * `reported` also requires the job of the report (job_id = @job, delegate_id = @reporter).
 */
export function transitionSql(
  table: StatefulTable,
  t: Transition<string>,
  now: string,
  sets = '',
  reported = false,
): string {
  const guards = (t.unless ?? []).map((g) => ` AND NOT ${guardSql(g)}`).join('');
  const reporter = reported ? ' AND job_id = @job AND delegate_id = @reporter' : '';
  return `UPDATE ${table} SET status = '${t.to}', updated_at = ${now}${sets} WHERE id = @id AND status IN ${sqlList(t.from)}${guards}${reporter} RETURNING *`;
}
