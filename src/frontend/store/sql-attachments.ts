/**
 * The attachment and VMM registry part of the metadata store. The attach rules of paper 4.3 are the
 * WHERE clause of the INSERT that records an attachment, so two concurrent AttachVolume calls can
 * never both pass: SQLite runs one writer at a time, and PostgreSQL's SERIALIZABLE aborts one of two
 * transactions that each read what the other wrote. Every function runs inside the caller's
 * transaction (a SqlSession).
 */
import type { AttachmentRecord, InstanceLocation, VmmHostRecord } from '../../core/records.js';
import {
  ATTACHABLE_VOLUME_STATUSES,
  ATTACHMENT_TRANSITIONS,
  LIVE_ATTACHMENT_STATUSES,
  VOLUME_TRANSITIONS,
  type AttachmentEvent,
} from '../../core/state.js';
import type { SqlDialect, SqlSession } from '../../sql/port.js';
import { sqlList } from '../../sql/sql-text.js';
import type { AttachAdmission, AttachRefusal, NewAttachment, Outcome, ReportedInstance } from './metadata-store.js';
import { transitionSql } from './sql-state.js';
import { attachmentFromRow, instanceFromRow, vmmHostFromRow } from './rows.js';

const LIVE = `status IN ${sqlList(LIVE_ATTACHMENT_STATUSES)}`;

export class SqlAttachments {
  constructor(private readonly dialect: SqlDialect) {}

  async begin(s: SqlSession, a: NewAttachment): Promise<AttachAdmission> {
    const now = this.dialect.nowMs;
    const row = await s.get(
      `INSERT INTO attachments (volume_id, instance_id, device, status, mode, vmm_host, attach_time, updated_at)
       SELECT @volumeId, @instanceId, @device, 'attaching', @mode, @vmmHost, @attachTime, ${now}
       WHERE EXISTS (SELECT 1 FROM volumes WHERE id = @volumeId AND status IN ${sqlList(ATTACHABLE_VOLUME_STATUSES)})
         -- modesCompatible: nothing else attached, or only read-only attachments and a read-only request
         AND NOT EXISTS (SELECT 1 FROM attachments WHERE volume_id = @volumeId AND ${LIVE} AND (mode = 'rw' OR @mode = 'rw'))
         AND NOT EXISTS (SELECT 1 FROM attachments WHERE instance_id = @instanceId AND vmm_host = @vmmHost AND ${LIVE}
                           AND (device = @device OR volume_id = @volumeId))
       RETURNING *`,
      { ...a },
    );
    if (!row) return { admitted: false, reason: await this.whyRefused(s, a) };
    await s.run(transitionSql('volumes', VOLUME_TRANSITIONS.attach, now), { id: a.volumeId });
    return { admitted: true, attachment: attachmentFromRow(row) };
  }

  /** Read after the INSERT decided, only to tell the client why. */
  private async whyRefused(s: SqlSession, a: NewAttachment): Promise<AttachRefusal> {
    const p = { volumeId: a.volumeId, instanceId: a.instanceId, vmmHost: a.vmmHost, device: a.device };
    const volume = await s.get(`SELECT status FROM volumes WHERE id = @volumeId`, p);
    if (!volume || !(ATTACHABLE_VOLUME_STATUSES as readonly unknown[]).includes(volume['status']))
      return 'volume-state';
    const same = await s.get(
      `SELECT 1 AS x FROM attachments WHERE volume_id = @volumeId AND instance_id = @instanceId AND vmm_host = @vmmHost AND ${LIVE}`,
      p,
    );
    if (same) return 'already-attached';
    const device = await s.get(
      `SELECT 1 AS x FROM attachments WHERE instance_id = @instanceId AND vmm_host = @vmmHost AND device = @device AND ${LIVE}`,
      p,
    );
    if (device) return 'device-in-use';
    const rw = await s.get(`SELECT 1 AS x FROM attachments WHERE volume_id = @volumeId AND mode = 'rw' AND ${LIVE}`, p);
    return rw ? 'held-read-write' : 'shared-read-only';
  }

  async transition(
    s: SqlSession,
    id: number,
    event: AttachmentEvent,
    statusMessage?: string,
  ): Promise<Outcome<AttachmentRecord>> {
    const sets = statusMessage !== undefined ? ', status_message = @msg' : '';
    const row = await s.get(transitionSql('attachments', ATTACHMENT_TRANSITIONS[event], this.dialect.nowMs, sets), {
      id,
      ...(statusMessage !== undefined ? { msg: statusMessage } : {}),
    });
    return row ? { changed: true, record: attachmentFromRow(row) } : { changed: false, current: await this.get(s, id) };
  }

  async end(
    s: SqlSession,
    id: number,
    event: 'attachFailed' | 'detached',
    statusMessage?: string,
  ): Promise<Outcome<AttachmentRecord>> {
    const outcome = await this.transition(s, id, event, statusMessage);
    if (outcome.changed) {
      // The volume is available again once its last attachment ended (the transition's guard).
      await s.run(transitionSql('volumes', VOLUME_TRANSITIONS.lastDetached, this.dialect.nowMs), {
        id: outcome.record.volumeId,
      });
    }
    return outcome;
  }

  async get(s: SqlSession, id: number): Promise<AttachmentRecord | undefined> {
    const row = await s.get(`SELECT * FROM attachments WHERE id = @id`, { id });
    return row && attachmentFromRow(row);
  }

  async onHost(s: SqlSession, vmmHost: string): Promise<AttachmentRecord[]> {
    const rows = await s.all(`SELECT * FROM attachments WHERE vmm_host = @vmmHost AND ${LIVE} ORDER BY id`, {
      vmmHost,
    });
    return rows.map(attachmentFromRow);
  }

  async endedOnHost(s: SqlSession, vmmHost: string, since: number): Promise<AttachmentRecord[]> {
    const rows = await s.all(
      `SELECT * FROM attachments WHERE vmm_host = @vmmHost AND NOT (${LIVE}) AND updated_at >= @since ORDER BY id`,
      { vmmHost, since },
    );
    return rows.map(attachmentFromRow);
  }

  async register(s: SqlSession, host: VmmHostRecord, instances: readonly ReportedInstance[]): Promise<void> {
    await s.run(
      `INSERT INTO vmm_hosts (host, endpoint, driver, healthy, last_seen) VALUES (@host, @endpoint, @driver, @healthy, @lastSeen)
       ON CONFLICT (host) DO UPDATE SET endpoint = EXCLUDED.endpoint, driver = EXCLUDED.driver,
         healthy = EXCLUDED.healthy, last_seen = EXCLUDED.last_seen`,
      {
        host: host.host,
        endpoint: host.endpoint,
        driver: host.driver,
        healthy: host.healthy ? 1 : 0,
        lastSeen: host.lastSeen,
      },
    );
    await s.run(`DELETE FROM instances WHERE vmm_host = @host`, { host: host.host });
    for (const i of instances)
      await s.run(
        `INSERT INTO instances (instance_id, vmm_host, state, owner_id) VALUES (@instanceId, @host, @state, @owner)
         ON CONFLICT (instance_id, vmm_host) DO UPDATE SET state = EXCLUDED.state, owner_id = EXCLUDED.owner_id`,
        { instanceId: i.instanceId, host: host.host, state: i.state, owner: i.ownerId ?? null },
      );
  }

  /** The owner is the admin's assignment when there is one, else the node's report (instanceOwner too). */
  async findInstance(s: SqlSession, instanceId: string): Promise<InstanceLocation[]> {
    const rows = await s.all(
      `SELECT i.instance_id, i.vmm_host, i.state, h.endpoint, COALESCE(o.owner_id, i.owner_id) AS owner_id
         FROM instances i JOIN vmm_hosts h ON h.host = i.vmm_host
         LEFT JOIN instance_owners o ON o.instance_id = i.instance_id AND o.vmm_host = i.vmm_host
        WHERE i.instance_id = @instanceId ORDER BY i.vmm_host`,
      { instanceId },
    );
    return rows.map(instanceFromRow);
  }

  async instanceOwner(s: SqlSession, instanceId: string, vmmHost: string): Promise<string | null> {
    const row = await s.get(
      `SELECT COALESCE(
         (SELECT owner_id FROM instance_owners WHERE instance_id = @instanceId AND vmm_host = @vmmHost),
         (SELECT owner_id FROM instances WHERE instance_id = @instanceId AND vmm_host = @vmmHost)) AS owner_id`,
      { instanceId, vmmHost },
    );
    const owner = row?.['owner_id'];
    return typeof owner === 'string' ? owner : null;
  }

  async vmmHost(s: SqlSession, host: string): Promise<VmmHostRecord | undefined> {
    const row = await s.get(`SELECT * FROM vmm_hosts WHERE host = @host`, { host });
    return row && vmmHostFromRow(row);
  }
}
