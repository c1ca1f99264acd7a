/**
 * The frontend's instance registry as vbs-admin sees and changes it: the metadata store's SQLite file
 * (the frontend's `database`, by default $VBS_HOME/vbs.sqlite), opened directly, as vbs-admin opens the
 * trust store, so that an owner an admin assigns is what every frontend process reads on its next
 * request, with no restart and no service running meanwhile.
 *
 * The tables are the frontend store's (src/frontend/store/sqlite-migrations.ts): `instances` (what
 * each node reported at its last registration, with the owner it reports), `instance_owners` (the
 * admins' assignments, which outlive registrations and win over the node's word). vbs-admin never
 * creates or migrates them: a store the frontend has not made, or made before instances had owners,
 * is refused with what to do.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { openPragmas, patiently, writing } from '../../sqlite/checked.js';
import { CliError } from '../command.js';

export type OwnerSource = 'admin' | 'node';

export interface RegisteredInstance {
  readonly instanceId: string;
  readonly vmmHost: string;
  /** What the node last reported; null when it does not report the instance now (only an assignment is left). */
  readonly state: string | null;
  /** The owner the frontend applies: the admin's if any, else the node's; null when neither says. */
  readonly ownerId: string | null;
  readonly source: OwnerSource | null;
  readonly reportedOwnerId: string | null;
  readonly assignedOwnerId: string | null;
}

type Row = Record<string, unknown>;

function textOrNull(row: Row, col: string): string | null {
  const v = row[col];
  return typeof v === 'string' ? v : null;
}

function fromRow(row: Row): RegisteredInstance {
  const reported = textOrNull(row, 'reported');
  const assigned = textOrNull(row, 'assigned');
  return {
    instanceId: String(row['instance_id']),
    vmmHost: String(row['vmm_host']),
    state: textOrNull(row, 'state'),
    ownerId: assigned ?? reported,
    source: assigned !== null ? 'admin' : reported !== null ? 'node' : null,
    reportedOwnerId: reported,
    assignedOwnerId: assigned,
  };
}

const ALL = `
  SELECT i.instance_id, i.vmm_host, i.state, i.owner_id AS reported, o.owner_id AS assigned
    FROM instances i LEFT JOIN instance_owners o ON o.instance_id = i.instance_id AND o.vmm_host = i.vmm_host
  UNION ALL
  SELECT o.instance_id, o.vmm_host, NULL AS state, NULL AS reported, o.owner_id AS assigned
    FROM instance_owners o
   WHERE NOT EXISTS (SELECT 1 FROM instances i WHERE i.instance_id = o.instance_id AND i.vmm_host = o.vmm_host)`;

export class InstanceRegistry {
  private constructor(private readonly db: Database.Database) {}

  /** Opens the frontend's metadata store; refuses one that is missing or has no instance owners yet. */
  static open(file: string): InstanceRegistry {
    if (!existsSync(file)) {
      throw new CliError(
        `no metadata store at ${file}: start the frontend once (it makes it), or name it with --database`,
      );
    }
    const db = new Database(file, { fileMustExist: true });
    try {
      openPragmas(db);
      const has = (sql: string): boolean => db.prepare(sql).get() !== undefined;
      const ready =
        has(`SELECT 1 FROM pragma_table_info('instances') WHERE name = 'owner_id'`) &&
        has(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'instance_owners'`);
      if (!ready) {
        throw new CliError(
          `the metadata store ${file} predates instance owners: start this version's frontend once (it migrates the store), then try again`,
        );
      }
    } catch (error) {
      db.close();
      throw error;
    }
    return new InstanceRegistry(db);
  }

  /** Every registered instance, and every assignment whose instance is not registered now. */
  async list(): Promise<RegisteredInstance[]> {
    return patiently('metadata store', () =>
      (this.db.prepare(`SELECT * FROM (${ALL}) ORDER BY instance_id, vmm_host`).all() as Row[]).map(fromRow),
    );
  }

  /** The instance on each node that reports it or has an assignment for it. */
  async find(instanceId: string): Promise<RegisteredInstance[]> {
    return patiently('metadata store', () =>
      (this.db.prepare(`SELECT * FROM (${ALL}) WHERE instance_id = ? ORDER BY vmm_host`).all(instanceId) as Row[]).map(
        fromRow,
      ),
    );
  }

  /** Assigns the owner, replacing an earlier assignment. */
  async assign(instanceId: string, vmmHost: string, ownerId: string): Promise<void> {
    await patiently('metadata store', () =>
      writing(this.db, () => {
        this.db
          .prepare(
            `INSERT INTO instance_owners (instance_id, vmm_host, owner_id, assigned_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (instance_id, vmm_host) DO UPDATE SET owner_id = excluded.owner_id, assigned_at = excluded.assigned_at`,
          )
          .run(instanceId, vmmHost, ownerId, Date.now());
      }),
    );
  }

  close(): void {
    this.db.close();
  }
}
