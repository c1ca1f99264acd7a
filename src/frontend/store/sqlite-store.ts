/**
 * The SQLite metadata store (better-sqlite3, WAL). SQLite runs one writer at a time, so each
 * conditional UPDATE … WHERE status IN (…) AND NOT EXISTS (…) is atomic with its check. WAL with
 * synchronous=FULL: a change that was acknowledged to a client survives a crash of the process or the
 * machine.
 */
import Database from 'better-sqlite3';
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
import { SqliteAttachments } from './sqlite-attachments.js';
import { statementCache, type PrepareCached } from './sqlite-statements.js';
import { MIGRATIONS } from './sqlite-migrations.js';
import { attachmentFromRow, snapshotFromRow, volumeFromRow, type Row } from './sqlite-rows.js';
import { guardSql, sqlList, transitionSql, type ResourceTable } from './sqlite-state.js';
import { LOCK_WAIT_BUDGET_MS, openPragmas, patiently, writing } from '../../sqlite/checked.js';
import { preparePrivateDatabase } from '../../private-files.js';
import { NO_LIMITS, QUOTA_KINDS, quotaDefaultParams, quotaOf, withinQuotaSql } from '../../sqlite/quotas.js';

/** The creation rules of state.ts as the WHERE of an INSERT … SELECT (@snap, @vol: the related row). */
const RESTORABLE_SNAPSHOT = `EXISTS (SELECT 1 FROM snapshots WHERE id = @snap AND status IN ${sqlList(RESTORABLE_SNAPSHOT_STATUSES)})`;
const SNAPSHOTTABLE_VOLUME = `EXISTS (SELECT 1 FROM volumes WHERE id = @vol AND status IN ${sqlList(SNAPSHOTTABLE_VOLUME_STATUSES)})`;
const ADMITTED: InsertAdmission = { admitted: true };

export class SqliteStore implements MetadataStore {
  private readonly db: Database.Database;
  private readonly sql: PrepareCached;
  private readonly attachments: SqliteAttachments;

  /** `lockWaitMs`: how long a call waits for a lock another connection holds before it is Unavailable. */
  constructor(
    file: string,
    private readonly lockWaitMs = LOCK_WAIT_BUDGET_MS,
  ) {
    // 0600 before SQLite opens it, so that its -wal and -shm are made 0600 too.
    preparePrivateDatabase(file, { create: true });
    this.db = new Database(file);
    openPragmas(this.db);
    this.db.pragma('foreign_keys = ON');
    this.migrate();
    this.sql = statementCache(this.db);
    this.attachments = new SqliteAttachments(this.db, this.sql);
  }

  /** A write: one transaction whose failed commit throws, waiting (not blocking) for the lock. */
  private write<T>(fn: () => T): Promise<T> {
    return patiently('metadata store', () => writing(this.db, fn), this.lockWaitMs);
  }

  private read<T>(fn: () => T): Promise<T> {
    return patiently('metadata store', fn, this.lockWaitMs);
  }

  private migrate(): void {
    const version = Number(this.db.pragma('user_version', { simple: true }));
    const apply = this.db.transaction(() => {
      for (let v = version; v < MIGRATIONS.length; v++) this.db.exec(MIGRATIONS[v] ?? '');
      this.db.pragma(`user_version = ${MIGRATIONS.length}`);
    });
    if (version > MIGRATIONS.length)
      throw new Error(`database schema ${version} is newer than this VBS (${MIGRATIONS.length})`);
    if (version < MIGRATIONS.length) apply.immediate();
  }

  async insertVolume(v: VolumeRecord, defaults: QuotaLimits = NO_LIMITS): Promise<InsertAdmission> {
    return this.write(() => {
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
      const vals = `@id, @owner, @size, @snap, @zone, @status, @type, @path, @delegate, @job, @jobState, @created, @now, @msg`;
      // The snapshot's status is checked in the same statement that inserts, so a concurrent
      // DeleteSnapshot (guarded by snapshotHasCreatingVolume) and this insert cannot both win; so are
      // the owner's quotas, so concurrent creates cannot together pass a limit.
      const checks = {
        state: v.snapshotId === null ? '1' : RESTORABLE_SNAPSHOT,
        volumes: withinQuotaSql('volumes', '1'),
        gib: withinQuotaSql('gib', '@size'),
      };
      const inserted =
        this.sql(`INSERT INTO volumes ${cols} SELECT ${vals} WHERE ${Object.values(checks).join(' AND ')}`).run(params)
          .changes === 1;
      return inserted ? ADMITTED : this.whyNotInserted(checks, params, v.ownerId, defaults);
    });
  }

  async insertSnapshot(s: SnapshotRecord, defaults: QuotaLimits = NO_LIMITS): Promise<InsertAdmission> {
    return this.write(() => {
      const params = {
        id: s.id,
        owner: s.ownerId,
        vol: s.volumeId,
        size: s.volumeSizeGiB,
        status: s.status,
        progress: s.progress,
        start: s.startTime,
        desc: s.description,
        path: s.path,
        delegate: s.delegateId,
        job: s.jobId,
        jobState: s.jobState,
        now: s.updatedAt,
        msg: s.statusMessage,
        ...quotaDefaultParams(defaults),
      };
      const checks = { state: SNAPSHOTTABLE_VOLUME, snapshots: withinQuotaSql('snapshots', '1') };
      const inserted =
        this.sql(
          `INSERT INTO snapshots (id, owner_id, volume_id, volume_size_gib, status, progress, start_time, description, path, delegate_id, job_id, job_state, updated_at, status_message)
         SELECT @id, @owner, @vol, @size, @status, @progress, @start, @desc, @path, @delegate, @job, @jobState, @now, @msg
         WHERE ${Object.values(checks).join(' AND ')}`,
        ).run(params).changes === 1;
      return inserted ? ADMITTED : this.whyNotInserted(checks, params, s.ownerId, defaults);
    });
  }

  /**
   * Which check of a refused insert held it back, evaluated again in the same transaction (so on the
   * same rows): the related resource's state first, then each quota in the order given.
   */
  private whyNotInserted(
    checks: Readonly<Partial<Record<'state' | QuotaKind, string>>>,
    params: Record<string, unknown>,
    owner: string,
    defaults: QuotaLimits,
  ): InsertAdmission {
    const entries = Object.entries(checks);
    const passed = this.sql(`SELECT ${entries.map(([name, sql]) => `${sql} AS ${name}`).join(', ')}`).get(
      params,
    ) as Record<string, number>;
    const failed = entries.map(([name]) => name).find((name) => passed[name] !== 1);
    if (failed === undefined || failed === 'state') return { admitted: false, reason: 'state' };
    const quota = QUOTA_KINDS.find((k) => k === failed) ?? 'volumes';
    const { limits, used } = quotaOf(this.db, owner, defaults);
    return { admitted: false, reason: 'quota', quota, limit: limits[quota] ?? 0, used: used[quota] };
  }

  async discardVolume(id: string): Promise<void> {
    return this.write(() => {
      this.sql(`DELETE FROM volumes WHERE id = ?`).run(id);
    });
  }

  async discardSnapshot(id: string): Promise<void> {
    return this.write(() => {
      this.sql(`DELETE FROM snapshots WHERE id = ?`).run(id);
    });
  }

  async getVolume(id: string): Promise<VolumeRecord | undefined> {
    return this.read(() => {
      const row = this.sql(`SELECT * FROM volumes WHERE id = ?`).get(id) as Row | undefined;
      return row && volumeFromRow(row);
    });
  }

  async getSnapshot(id: string): Promise<SnapshotRecord | undefined> {
    return this.read(() => {
      const row = this.sql(`SELECT * FROM snapshots WHERE id = ?`).get(id) as Row | undefined;
      return row && snapshotFromRow(row);
    });
  }

  async findVolumes(q: ResourceQuery): Promise<VolumeRecord[]> {
    return this.read(() => {
      return this.find('volumes', q, HIDDEN_VOLUME_STATUSES, 'create_time').map(volumeFromRow);
    });
  }

  async findSnapshots(q: ResourceQuery): Promise<SnapshotRecord[]> {
    return this.read(() => {
      return this.find('snapshots', q, HIDDEN_SNAPSHOT_STATUSES, 'start_time').map(snapshotFromRow);
    });
  }

  private find(table: ResourceTable, q: ResourceQuery, hidden: readonly string[], order: string): Row[] {
    const where = [`status NOT IN ${sqlList(hidden)}`];
    const params: Record<string, string> = {};
    if (q.ownerId !== undefined) {
      where.push('owner_id = @owner');
      params['owner'] = q.ownerId;
    }
    if (q.ids !== undefined) {
      if (q.ids.length === 0) return [];
      where.push(`id IN (SELECT value FROM json_each(@ids))`);
      params['ids'] = JSON.stringify(q.ids);
    }
    return this.sql(`SELECT * FROM ${table} WHERE ${where.join(' AND ')} ORDER BY ${order}, id`).all(params) as Row[];
  }

  async attachmentsOf(volumeIds: readonly string[]): Promise<AttachmentRecord[]> {
    return this.read(() => {
      if (volumeIds.length === 0) return [];
      const rows = this.sql(
        `SELECT * FROM attachments WHERE status IN ${sqlList(LIVE_ATTACHMENT_STATUSES)} AND volume_id IN (SELECT value FROM json_each(?)) ORDER BY attach_time`,
      ).all(JSON.stringify(volumeIds)) as Row[];
      return rows.map(attachmentFromRow);
    });
  }

  async transitionVolume(id: string, event: VolumeEvent, changes: VolumeChanges = {}): Promise<Outcome<VolumeRecord>> {
    return this.write(() => {
      const sets = [
        changes.statusMessage !== undefined ? ', status_message = @msg' : '',
        changes.reportedJob ? ", job_state = 'accepted'" : '',
      ].join('');
      const row = this.sql(
        transitionSql('volumes', VOLUME_TRANSITIONS[event], sets, changes.reportedJob !== undefined),
      ).get({
        id,
        now: Date.now(),
        msg: changes.statusMessage ?? null,
        job: changes.reportedJob?.jobId ?? null,
        reporter: changes.reportedJob?.delegateId ?? null,
      }) as Row | undefined;
      return row
        ? { changed: true, record: volumeFromRow(row) }
        : this.refused('volumes', id, VOLUME_TRANSITIONS[event], volumeFromRow);
    });
  }

  async transitionSnapshot(
    id: string,
    event: SnapshotEvent,
    changes: SnapshotChanges = {},
  ): Promise<Outcome<SnapshotRecord>> {
    return this.write(() => {
      const sets = [
        changes.statusMessage !== undefined ? ', status_message = @msg' : '',
        changes.reportedJob ? ", job_state = 'accepted'" : '',
        // Progress only moves forward: a late report never turns 80% back into 40%.
        changes.progress !== undefined ? ', progress = MAX(progress, @progress)' : '',
      ].join('');
      const row = this.sql(
        transitionSql('snapshots', SNAPSHOT_TRANSITIONS[event], sets, changes.reportedJob !== undefined),
      ).get({
        id,
        now: Date.now(),
        msg: changes.statusMessage ?? null,
        progress: changes.progress ?? 0,
        job: changes.reportedJob?.jobId ?? null,
        reporter: changes.reportedJob?.delegateId ?? null,
      }) as Row | undefined;
      return row
        ? { changed: true, record: snapshotFromRow(row) }
        : this.refused('snapshots', id, SNAPSHOT_TRANSITIONS[event], snapshotFromRow);
    });
  }

  private refused<T>(table: ResourceTable, id: string, t: Transition<string>, toRecord: (r: Row) => T): Outcome<T> {
    const row = this.sql(`SELECT * FROM ${table} WHERE id = ?`).get(id) as Row | undefined;
    if (!row) return { changed: false, current: undefined };
    const status = String(row['status']);
    const held = (g: Guard): boolean =>
      (this.sql(`SELECT ${guardSql(g)} AS held FROM ${table} WHERE id = ?`).get(id) as { held: number } | undefined)
        ?.held === 1;
    const blockedBy = t.from.includes(status) ? (t.unless ?? []).find(held) : undefined;
    return blockedBy
      ? { changed: false, current: toRecord(row), blockedBy }
      : { changed: false, current: toRecord(row) };
  }

  async beginAttachment(a: NewAttachment): Promise<AttachAdmission> {
    return this.write(() => {
      return this.attachments.begin(a);
    });
  }

  async transitionAttachment(
    id: number,
    event: AttachmentEvent,
    statusMessage?: string,
  ): Promise<Outcome<AttachmentRecord>> {
    return this.write(() => {
      return this.attachments.transition(id, event, statusMessage);
    });
  }

  async endAttachment(
    id: number,
    event: 'attachFailed' | 'detached',
    statusMessage?: string,
  ): Promise<Outcome<AttachmentRecord>> {
    return this.write(() => {
      return this.attachments.end(id, event, statusMessage);
    });
  }

  async getAttachment(id: number): Promise<AttachmentRecord | undefined> {
    return this.read(() => {
      return this.attachments.get(id);
    });
  }

  async attachmentsOnHost(vmmHost: string): Promise<AttachmentRecord[]> {
    return this.read(() => {
      return this.attachments.onHost(vmmHost);
    });
  }

  async attachmentsEndedOnHost(vmmHost: string, since: number): Promise<AttachmentRecord[]> {
    return this.read(() => {
      return this.attachments.endedOnHost(vmmHost, since);
    });
  }

  async registerVmm(host: VmmHostRecord, instances: readonly ReportedInstance[]): Promise<void> {
    return this.write(() => {
      this.attachments.register(host, instances);
    });
  }

  async findInstance(instanceId: string): Promise<InstanceLocation[]> {
    return this.read(() => {
      return this.attachments.findInstance(instanceId);
    });
  }

  async instanceOwner(instanceId: string, vmmHost: string): Promise<string | null> {
    return this.read(() => {
      return this.attachments.instanceOwner(instanceId, vmmHost);
    });
  }

  async getVmmHost(host: string): Promise<VmmHostRecord | undefined> {
    return this.read(() => {
      return this.attachments.vmmHost(host);
    });
  }

  async offerJob(kind: JobResource, id: string, delegateId: string): Promise<boolean> {
    const [table, waiting] =
      kind === 'volume' ? (['volumes', 'creating'] as const) : (['snapshots', 'pending'] as const);
    return this.write(
      () =>
        this.sql(
          `UPDATE ${table} SET delegate_id = ?, job_state = 'offering', job_offered_at = ? WHERE id = ? AND status = '${waiting}'`,
        ).run(delegateId, Date.now(), id).changes === 1,
    );
  }

  async acceptJob(kind: JobResource, id: string, jobId: string, delegateId: string): Promise<boolean> {
    const table = kind === 'volume' ? 'volumes' : 'snapshots';
    return this.write(
      () =>
        this.sql(`UPDATE ${table} SET job_state = 'accepted' WHERE id = ? AND job_id = ? AND delegate_id = ?`).run(
          id,
          jobId,
          delegateId,
        ).changes === 1,
    );
  }

  async volumesOfferedBefore(before: number): Promise<VolumeRecord[]> {
    return this.read(() => this.offeredBefore('volumes', 'creating', before).map(volumeFromRow));
  }

  async snapshotsOfferedBefore(before: number): Promise<SnapshotRecord[]> {
    return this.read(() => this.offeredBefore('snapshots', 'pending', before).map(snapshotFromRow));
  }

  private offeredBefore(table: ResourceTable, waiting: string, before: number): Row[] {
    return this.sql(
      `SELECT * FROM ${table} WHERE status = ? AND job_state = 'offering' AND job_offered_at < ? ORDER BY job_offered_at`,
    ).all(waiting, before) as Row[];
  }

  async volumesUnchangedSince(status: VolumeRecord['status'], before: number): Promise<VolumeRecord[]> {
    return this.read(() => {
      const rows = this.sql(`SELECT * FROM volumes WHERE status = ? AND updated_at < ?`).all(status, before) as Row[];
      return rows.map(volumeFromRow);
    });
  }

  async snapshotsUnchangedSince(status: SnapshotRecord['status'], before: number): Promise<SnapshotRecord[]> {
    return this.read(() => {
      const rows = this.sql(`SELECT * FROM snapshots WHERE status = ? AND updated_at < ?`).all(status, before) as Row[];
      return rows.map(snapshotFromRow);
    });
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
