/**
 * The attachment and VMM registry part of the SQLite store. The attach rules of paper 4.3 are the
 * WHERE clause of the INSERT that records an attachment, so two concurrent AttachVolume calls can
 * never both pass: SQLite runs one writer at a time and the check is part of the write.
 */
import type Database from 'better-sqlite3';
import type { AttachmentRecord, InstanceLocation, VmmHostRecord } from '../../core/records.js';
import {
  ATTACHABLE_VOLUME_STATUSES,
  ATTACHMENT_TRANSITIONS,
  LIVE_ATTACHMENT_STATUSES,
  VOLUME_TRANSITIONS,
  type AttachmentEvent,
} from '../../core/state.js';
import type { AttachAdmission, AttachRefusal, NewAttachment, Outcome, ReportedInstance } from './metadata-store.js';
import { statementCache, type PrepareCached } from './sqlite-statements.js';
import { sqlList, transitionSql } from './sqlite-state.js';
import { attachmentFromRow, instanceFromRow, vmmHostFromRow, type Row } from './sqlite-rows.js';

const LIVE = `status IN ${sqlList(LIVE_ATTACHMENT_STATUSES)}`;

export class SqliteAttachments {
  constructor(
    private readonly db: Database.Database,
    private readonly sql: PrepareCached = statementCache(db),
  ) {}

  begin(a: NewAttachment): AttachAdmission {
    const params = { ...a, now: Date.now() };
    const run = this.db.transaction((): AttachAdmission => {
      const row = this.sql(
        `INSERT INTO attachments (volume_id, instance_id, device, status, mode, vmm_host, attach_time, updated_at)
         SELECT @volumeId, @instanceId, @device, 'attaching', @mode, @vmmHost, @attachTime, @now
         WHERE EXISTS (SELECT 1 FROM volumes WHERE id = @volumeId AND status IN ${sqlList(ATTACHABLE_VOLUME_STATUSES)})
           -- modesCompatible: nothing else attached, or only read-only attachments and a read-only request
           AND NOT EXISTS (SELECT 1 FROM attachments WHERE volume_id = @volumeId AND ${LIVE} AND (mode = 'rw' OR @mode = 'rw'))
           AND NOT EXISTS (SELECT 1 FROM attachments WHERE instance_id = @instanceId AND vmm_host = @vmmHost AND ${LIVE}
                             AND (device = @device OR volume_id = @volumeId))
         RETURNING *`,
      ).get(params) as Row | undefined;
      if (!row) return { admitted: false, reason: this.whyRefused(a) };
      this.sql(transitionSql('volumes', VOLUME_TRANSITIONS.attach)).run({ id: a.volumeId, now: params.now });
      return { admitted: true, attachment: attachmentFromRow(row) };
    });
    return run.immediate();
  }

  /** Read after the INSERT decided, only to tell the client why. */
  private whyRefused(a: NewAttachment): AttachRefusal {
    const volume = this.sql(`SELECT status FROM volumes WHERE id = ?`).get(a.volumeId) as
      { status: string } | undefined;
    if (!volume || !(ATTACHABLE_VOLUME_STATUSES as readonly string[]).includes(volume.status)) return 'volume-state';
    const same = this.sql(
      `SELECT 1 FROM attachments WHERE volume_id = ? AND instance_id = ? AND vmm_host = ? AND ${LIVE}`,
    ).get(a.volumeId, a.instanceId, a.vmmHost);
    if (same) return 'already-attached';
    const device = this.sql(
      `SELECT 1 FROM attachments WHERE instance_id = ? AND vmm_host = ? AND device = ? AND ${LIVE}`,
    ).get(a.instanceId, a.vmmHost, a.device);
    if (device) return 'device-in-use';
    const rw = this.sql(`SELECT 1 FROM attachments WHERE volume_id = ? AND mode = 'rw' AND ${LIVE}`).get(a.volumeId);
    return rw ? 'held-read-write' : 'shared-read-only';
  }

  transition(id: number, event: AttachmentEvent, statusMessage?: string): Outcome<AttachmentRecord> {
    const sets = statusMessage !== undefined ? ', status_message = @msg' : '';
    const row = this.sql(transitionSql('attachments', ATTACHMENT_TRANSITIONS[event], sets)).get({
      id,
      now: Date.now(),
      msg: statusMessage ?? null,
    }) as Row | undefined;
    return row ? { changed: true, record: attachmentFromRow(row) } : { changed: false, current: this.get(id) };
  }

  end(id: number, event: 'attachFailed' | 'detached', statusMessage?: string): Outcome<AttachmentRecord> {
    const run = this.db.transaction((): Outcome<AttachmentRecord> => {
      const outcome = this.transition(id, event, statusMessage);
      if (outcome.changed) {
        // The volume is available again once its last attachment ended (the transition's guard).
        this.sql(transitionSql('volumes', VOLUME_TRANSITIONS.lastDetached)).run({
          id: outcome.record.volumeId,
          now: Date.now(),
        });
      }
      return outcome;
    });
    return run.immediate();
  }

  get(id: number): AttachmentRecord | undefined {
    const row = this.sql(`SELECT * FROM attachments WHERE id = ?`).get(id) as Row | undefined;
    return row && attachmentFromRow(row);
  }

  onHost(vmmHost: string): AttachmentRecord[] {
    return (this.sql(`SELECT * FROM attachments WHERE vmm_host = ? AND ${LIVE} ORDER BY id`).all(vmmHost) as Row[]).map(
      attachmentFromRow,
    );
  }

  endedOnHost(vmmHost: string, since: number): AttachmentRecord[] {
    return (
      this.sql(`SELECT * FROM attachments WHERE vmm_host = ? AND NOT (${LIVE}) AND updated_at >= ? ORDER BY id`).all(
        vmmHost,
        since,
      ) as Row[]
    ).map(attachmentFromRow);
  }

  register(host: VmmHostRecord, instances: readonly ReportedInstance[]): void {
    this.db
      .transaction(() => {
        this.sql(
          `INSERT INTO vmm_hosts (host, endpoint, driver, healthy, last_seen) VALUES (@host, @endpoint, @driver, @healthy, @lastSeen)
         ON CONFLICT (host) DO UPDATE SET endpoint = @endpoint, driver = @driver, healthy = @healthy, last_seen = @lastSeen`,
        ).run({ ...host, healthy: host.healthy ? 1 : 0 });
        this.sql(`DELETE FROM instances WHERE vmm_host = ?`).run(host.host);
        const insert = this.sql(
          `INSERT OR REPLACE INTO instances (instance_id, vmm_host, state, owner_id) VALUES (?, ?, ?, ?)`,
        );
        for (const i of instances) insert.run(i.instanceId, host.host, i.state, i.ownerId ?? null);
      })
      .immediate();
  }

  /** The owner is the admin's assignment when there is one, else the node's report (instanceOwner too). */
  findInstance(instanceId: string): InstanceLocation[] {
    return (
      this.sql(
        `SELECT i.instance_id, i.vmm_host, i.state, h.endpoint, COALESCE(o.owner_id, i.owner_id) AS owner_id
           FROM instances i JOIN vmm_hosts h ON h.host = i.vmm_host
           LEFT JOIN instance_owners o ON o.instance_id = i.instance_id AND o.vmm_host = i.vmm_host
          WHERE i.instance_id = ? ORDER BY i.vmm_host`,
      ).all(instanceId) as Row[]
    ).map(instanceFromRow);
  }

  instanceOwner(instanceId: string, vmmHost: string): string | null {
    const row = this.sql(
      `SELECT COALESCE(
         (SELECT owner_id FROM instance_owners WHERE instance_id = @instanceId AND vmm_host = @vmmHost),
         (SELECT owner_id FROM instances WHERE instance_id = @instanceId AND vmm_host = @vmmHost)) AS owner_id`,
    ).get({ instanceId, vmmHost }) as Row | undefined;
    const owner = row?.['owner_id'];
    return typeof owner === 'string' ? owner : null;
  }

  vmmHost(host: string): VmmHostRecord | undefined {
    const row = this.sql(`SELECT * FROM vmm_hosts WHERE host = ?`).get(host) as Row | undefined;
    return row && vmmHostFromRow(row);
  }
}
