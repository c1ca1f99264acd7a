/**
 * The metadata store over the SQL port: the same statements on SQLite (one host) and PostgreSQL
 * (several frontends), each state change one conditional statement made from src/core/state.ts, in
 * a transaction whose answer is returned only after its commit. What makes a check and its write
 * atomic is the database's: SQLite's single writer, PostgreSQL's SERIALIZABLE (see
 * src/postgres/sql-database.ts). Times of change are the database's clock (dialect.nowMs), so that
 * frontends on several hosts compare like with like.
 */
import type {
  AttachmentRecord,
  InstanceLocation,
  SnapshotRecord,
  VmmHostRecord,
  VolumeRecord,
} from '../../core/records.js';
import {
  RESTORABLE_SNAPSHOT_STATUSES,
  SNAPSHOT_TRANSITIONS,
  SNAPSHOTTABLE_VOLUME_STATUSES,
  VOLUME_TRANSITIONS,
  HIDDEN_SNAPSHOT_STATUSES,
  HIDDEN_VOLUME_STATUSES,
  LIVE_ATTACHMENT_STATUSES,
  type AttachmentEvent,
  type Guard,
  type SnapshotEvent,
  type Transition,
  type VolumeEvent,
} from '../../core/state.js';
import type { Row, SqlDatabase, SqlParams, SqlSession } from '../../sql/port.js';
import type {
  AttachAdmission,
  InsertAdmission,
  JobResource,
  MetadataStore,
  NewAttachment,
  Outcome,
  QuotaKind,
  QuotaLimits,
  ReportedInstance,
  ResourceQuery,
  SnapshotChanges,
  VolumeChanges,
} from './metadata-store.js';
import { SqlAttachments } from './sql-attachments.js';
import { attachmentFromRow, snapshotFromRow, volumeFromRow } from './rows.js';
import { guardSql, sqlList, transitionSql, type ResourceTable } from './sql-state.js';
import {
  NO_LIMITS,
  QUOTA_KINDS,
  QUOTA_OF_SQL,
  quotaDefaultParams,
  quotaFromRow,
  withinQuotaSql,
} from '../../sqlite/quotas.js';

const WHAT = 'metadata store';

/** The creation rules of state.ts as the WHERE of an INSERT … SELECT (@snap, @vol: the related row). */
const RESTORABLE_SNAPSHOT = `EXISTS (SELECT 1 FROM snapshots WHERE id = @snap AND status IN ${sqlList(RESTORABLE_SNAPSHOT_STATUSES)})`;
const SNAPSHOTTABLE_VOLUME = `EXISTS (SELECT 1 FROM volumes WHERE id = @vol AND status IN ${sqlList(SNAPSHOTTABLE_VOLUME_STATUSES)})`;
/** A condition that holds, in both dialects (PostgreSQL has no integer truth). */
const TRUE = '1 = 1';
const ADMITTED: InsertAdmission = { admitted: true };

export class SqlStore implements MetadataStore {
  private readonly attachments: SqlAttachments;
  private readonly now: string;

  constructor(protected readonly db: SqlDatabase) {
    this.attachments = new SqlAttachments(db.dialect);
    this.now = db.dialect.nowMs;
  }

  private write<T>(fn: (s: SqlSession) => Promise<T>): Promise<T> {
    return this.db.write(WHAT, fn);
  }

  private read<T>(fn: (s: SqlSession) => Promise<T>): Promise<T> {
    return this.db.read(WHAT, fn);
  }

  async insertVolume(v: VolumeRecord, defaults: QuotaLimits = NO_LIMITS): Promise<InsertAdmission> {
    const params = {
      id: v.id,
      owner: v.ownerId,
      size: v.sizeGiB,
      snap: v.snapshotId,
      zone: v.zone,
      status: v.status,
      type: v.volumeType,
      path: v.path,
      delegate: v.delegateId,
      job: v.jobId,
      jobState: v.jobState,
      created: v.createTime,
      now: v.updatedAt,
      msg: v.statusMessage,
      ...quotaDefaultParams(defaults),
    };
    const cols = `(id, owner_id, size_gib, snapshot_id, zone, status, volume_type, path, delegate_id, job_id, job_state, create_time, updated_at, status_message)`;
    // CAST: in INSERT … SELECT, PostgreSQL types a bare parameter of the select list as text.
    const vals = `@id, @owner, CAST(@size AS INTEGER), @snap, @zone, @status, @type, @path, @delegate, @job, @jobState, @created, CAST(@now AS BIGINT), @msg`;
    // The snapshot's status is checked in the same statement that inserts, so a concurrent
    // DeleteSnapshot (guarded by snapshotHasCreatingVolume) and this insert cannot both win; so are
    // the owner's quotas, so concurrent creates cannot together pass a limit.
    const checks = {
      state: v.snapshotId === null ? TRUE : RESTORABLE_SNAPSHOT,
      volumes: withinQuotaSql('volumes', '1'),
      gib: withinQuotaSql('gib', 'CAST(@size AS INTEGER)'),
    };
    const sql = `INSERT INTO volumes ${cols} SELECT ${vals} WHERE ${Object.values(checks).join(' AND ')}`;
    return this.write(async (s) =>
      (await s.run(sql, params)) === 1 ? ADMITTED : this.whyNotInserted(s, checks, params, v.ownerId, defaults),
    );
  }

  async insertSnapshot(snap: SnapshotRecord, defaults: QuotaLimits = NO_LIMITS): Promise<InsertAdmission> {
    const checks = { state: SNAPSHOTTABLE_VOLUME, snapshots: withinQuotaSql('snapshots', '1') };
    const sql = `INSERT INTO snapshots (id, owner_id, volume_id, volume_size_gib, status, progress, start_time, description, path, delegate_id, job_id, job_state, updated_at, status_message)
       SELECT @id, @owner, @vol, CAST(@size AS INTEGER), @status, CAST(@progress AS INTEGER), @start, @desc, @path, @delegate, @job, @jobState, CAST(@now AS BIGINT), @msg
       WHERE ${Object.values(checks).join(' AND ')}`;
    const params = {
      id: snap.id,
      owner: snap.ownerId,
      vol: snap.volumeId,
      size: snap.volumeSizeGiB,
      status: snap.status,
      progress: snap.progress,
      start: snap.startTime,
      desc: snap.description,
      path: snap.path,
      delegate: snap.delegateId,
      job: snap.jobId,
      jobState: snap.jobState,
      now: snap.updatedAt,
      msg: snap.statusMessage,
      ...quotaDefaultParams(defaults),
    };
    return this.write(async (s) =>
      (await s.run(sql, params)) === 1 ? ADMITTED : this.whyNotInserted(s, checks, params, snap.ownerId, defaults),
    );
  }

  /**
   * Which check of a refused insert held it back, evaluated again in the same transaction (so on the
   * same rows): the related resource's state first, then each quota in the order given.
   */
  private async whyNotInserted(
    s: SqlSession,
    checks: Readonly<Partial<Record<'state' | QuotaKind, string>>>,
    params: SqlParams,
    owner: string,
    defaults: QuotaLimits,
  ): Promise<InsertAdmission> {
    const entries = Object.entries(checks);
    // CASE: a condition is an integer on SQLite and a boolean on PostgreSQL.
    const passed = await s.get(
      `SELECT ${entries.map(([name, sql]) => `CASE WHEN ${sql} THEN 1 ELSE 0 END AS ${name}`).join(', ')}`,
      params,
    );
    const failed = entries.map(([name]) => name).find((name) => Number(passed?.[name]) !== 1);
    if (failed === undefined || failed === 'state') return { admitted: false, reason: 'state' };
    const quota = QUOTA_KINDS.find((k) => k === failed) ?? 'volumes';
    const row = await s.get(QUOTA_OF_SQL, { owner, ...quotaDefaultParams(defaults) });
    const { limits, used } = quotaFromRow(row ?? {});
    return { admitted: false, reason: 'quota', quota, limit: limits[quota] ?? 0, used: used[quota] };
  }

  async discardVolume(id: string): Promise<void> {
    await this.write((s) => s.run(`DELETE FROM volumes WHERE id = @id`, { id }));
  }

  async discardSnapshot(id: string): Promise<void> {
    await this.write((s) => s.run(`DELETE FROM snapshots WHERE id = @id`, { id }));
  }

  async getVolume(id: string): Promise<VolumeRecord | undefined> {
    const row = await this.read((s) => s.get(`SELECT * FROM volumes WHERE id = @id`, { id }));
    return row && volumeFromRow(row);
  }

  async getSnapshot(id: string): Promise<SnapshotRecord | undefined> {
    const row = await this.read((s) => s.get(`SELECT * FROM snapshots WHERE id = @id`, { id }));
    return row && snapshotFromRow(row);
  }

  async findVolumes(q: ResourceQuery): Promise<VolumeRecord[]> {
    return (await this.find('volumes', q, HIDDEN_VOLUME_STATUSES, 'create_time')).map(volumeFromRow);
  }

  async findSnapshots(q: ResourceQuery): Promise<SnapshotRecord[]> {
    return (await this.find('snapshots', q, HIDDEN_SNAPSHOT_STATUSES, 'start_time')).map(snapshotFromRow);
  }

  private async find(table: ResourceTable, q: ResourceQuery, hidden: readonly string[], order: string): Promise<Row[]> {
    const where = [`status NOT IN ${sqlList(hidden)}`];
    const params: Record<string, string | readonly string[]> = {};
    if (q.ownerId !== undefined) {
      where.push('owner_id = @owner');
      params['owner'] = q.ownerId;
    }
    if (q.ids !== undefined) {
      if (q.ids.length === 0) return [];
      where.push(this.db.dialect.inList('id', 'ids'));
      params['ids'] = q.ids;
    }
    const sql = `SELECT * FROM ${table} WHERE ${where.join(' AND ')} ORDER BY ${order}, id`;
    return this.read((s) => s.all(sql, params));
  }

  async attachmentsOf(volumeIds: readonly string[]): Promise<AttachmentRecord[]> {
    if (volumeIds.length === 0) return [];
    const sql = `SELECT * FROM attachments WHERE status IN ${sqlList(LIVE_ATTACHMENT_STATUSES)} AND ${this.db.dialect.inList('volume_id', 'ids')} ORDER BY attach_time, id`;
    return (await this.read((s) => s.all(sql, { ids: volumeIds }))).map(attachmentFromRow);
  }

  async transitionVolume(id: string, event: VolumeEvent, changes: VolumeChanges = {}): Promise<Outcome<VolumeRecord>> {
    const sets = [
      changes.statusMessage !== undefined ? ', status_message = @msg' : '',
      changes.reportedJob ? ", job_state = 'accepted'" : '',
    ].join('');
    const t = VOLUME_TRANSITIONS[event];
    const sql = transitionSql('volumes', t, this.now, sets, changes.reportedJob !== undefined);
    return this.write(async (s) => {
      const row = await s.get(sql, { id, ...reportParams(changes) });
      return row ? { changed: true, record: volumeFromRow(row) } : this.refused(s, 'volumes', id, t, volumeFromRow);
    });
  }

  async transitionSnapshot(
    id: string,
    event: SnapshotEvent,
    changes: SnapshotChanges = {},
  ): Promise<Outcome<SnapshotRecord>> {
    const sets = [
      changes.statusMessage !== undefined ? ', status_message = @msg' : '',
      changes.reportedJob ? ", job_state = 'accepted'" : '',
      // Progress only moves forward: a late report never turns 80% back into 40%.
      changes.progress !== undefined
        ? `, progress = ${this.db.dialect.greatest('progress', 'CAST(@progress AS INTEGER)')}`
        : '',
    ].join('');
    const t = SNAPSHOT_TRANSITIONS[event];
    const sql = transitionSql('snapshots', t, this.now, sets, changes.reportedJob !== undefined);
    const params = {
      id,
      ...reportParams(changes),
      ...(changes.progress !== undefined ? { progress: changes.progress } : {}),
    };
    return this.write(async (s) => {
      const row = await s.get(sql, params);
      return row
        ? { changed: true, record: snapshotFromRow(row) }
        : this.refused(s, 'snapshots', id, t, snapshotFromRow);
    });
  }

  private async refused<T>(
    s: SqlSession,
    table: ResourceTable,
    id: string,
    t: Transition<string>,
    toRecord: (r: Row) => T,
  ): Promise<Outcome<T>> {
    const row = await s.get(`SELECT * FROM ${table} WHERE id = @id`, { id });
    if (!row) return { changed: false, current: undefined };
    const status = String(row['status']);
    let blockedBy: Guard | undefined;
    if (t.from.includes(status)) {
      for (const g of t.unless ?? []) {
        // CASE: EXISTS is an integer on SQLite and a boolean on PostgreSQL.
        const held = await s.get(
          `SELECT CASE WHEN ${guardSql(g)} THEN 1 ELSE 0 END AS held FROM ${table} WHERE id = @id`,
          {
            id,
          },
        );
        if (Number(held?.['held']) === 1) {
          blockedBy = g;
          break;
        }
      }
    }
    return blockedBy
      ? { changed: false, current: toRecord(row), blockedBy }
      : { changed: false, current: toRecord(row) };
  }

  beginAttachment(a: NewAttachment): Promise<AttachAdmission> {
    return this.write((s) => this.attachments.begin(s, a));
  }

  transitionAttachment(id: number, event: AttachmentEvent, statusMessage?: string): Promise<Outcome<AttachmentRecord>> {
    return this.write((s) => this.attachments.transition(s, id, event, statusMessage));
  }

  endAttachment(
    id: number,
    event: 'attachFailed' | 'detached',
    statusMessage?: string,
  ): Promise<Outcome<AttachmentRecord>> {
    return this.write((s) => this.attachments.end(s, id, event, statusMessage));
  }

  getAttachment(id: number): Promise<AttachmentRecord | undefined> {
    return this.read((s) => this.attachments.get(s, id));
  }

  attachmentsOnHost(vmmHost: string): Promise<AttachmentRecord[]> {
    return this.read((s) => this.attachments.onHost(s, vmmHost));
  }

  attachmentsEndedOnHost(vmmHost: string, since: number): Promise<AttachmentRecord[]> {
    return this.read((s) => this.attachments.endedOnHost(s, vmmHost, since));
  }

  registerVmm(host: VmmHostRecord, instances: readonly ReportedInstance[]): Promise<void> {
    return this.write((s) => this.attachments.register(s, host, instances));
  }

  findInstance(instanceId: string): Promise<InstanceLocation[]> {
    return this.read((s) => this.attachments.findInstance(s, instanceId));
  }

  instanceOwner(instanceId: string, vmmHost: string): Promise<string | null> {
    return this.read((s) => this.attachments.instanceOwner(s, instanceId, vmmHost));
  }

  getVmmHost(host: string): Promise<VmmHostRecord | undefined> {
    return this.read((s) => this.attachments.vmmHost(s, host));
  }

  async offerJob(kind: JobResource, id: string, delegateId: string): Promise<boolean> {
    const [table, waiting] =
      kind === 'volume' ? (['volumes', 'creating'] as const) : (['snapshots', 'pending'] as const);
    const sql = `UPDATE ${table} SET delegate_id = @delegateId, job_state = 'offering', job_offered_at = ${this.now} WHERE id = @id AND status = '${waiting}'`;
    return (await this.write((s) => s.run(sql, { delegateId, id }))) === 1;
  }

  async acceptJob(kind: JobResource, id: string, jobId: string, delegateId: string): Promise<boolean> {
    const table = kind === 'volume' ? 'volumes' : 'snapshots';
    const sql = `UPDATE ${table} SET job_state = 'accepted' WHERE id = @id AND job_id = @jobId AND delegate_id = @delegateId`;
    return (await this.write((s) => s.run(sql, { id, jobId, delegateId }))) === 1;
  }

  async volumesOfferedBefore(before: number): Promise<VolumeRecord[]> {
    return (await this.offeredBefore('volumes', 'creating', before)).map(volumeFromRow);
  }

  async snapshotsOfferedBefore(before: number): Promise<SnapshotRecord[]> {
    return (await this.offeredBefore('snapshots', 'pending', before)).map(snapshotFromRow);
  }

  private offeredBefore(table: ResourceTable, waiting: string, before: number): Promise<Row[]> {
    const sql = `SELECT * FROM ${table} WHERE status = @waiting AND job_state = 'offering' AND job_offered_at < @before ORDER BY job_offered_at`;
    return this.read((s) => s.all(sql, { waiting, before }));
  }

  async volumesUnchangedSince(status: VolumeRecord['status'], before: number): Promise<VolumeRecord[]> {
    const rows = await this.unchangedSince('volumes', status, before);
    return rows.map(volumeFromRow);
  }

  async snapshotsUnchangedSince(status: SnapshotRecord['status'], before: number): Promise<SnapshotRecord[]> {
    const rows = await this.unchangedSince('snapshots', status, before);
    return rows.map(snapshotFromRow);
  }

  private unchangedSince(table: ResourceTable, status: string, before: number): Promise<Row[]> {
    const sql = `SELECT * FROM ${table} WHERE status = @status AND updated_at < @before`;
    return this.read((s) => s.all(sql, { status, before }));
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

/** The parameters of a change's message and reported job, for transitionSql. */
function reportParams(changes: VolumeChanges | SnapshotChanges): SqlParams {
  return {
    ...(changes.statusMessage !== undefined ? { msg: changes.statusMessage } : {}),
    ...(changes.reportedJob ? { job: changes.reportedJob.jobId, reporter: changes.reportedJob.delegateId } : {}),
  };
}
