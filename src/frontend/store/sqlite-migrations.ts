/**
 * Versioned schema of the SQLite metadata store. A migration is never edited once released: add a
 * new one. PRAGMA user_version records how far a database file has come.
 */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE volumes (
     id TEXT PRIMARY KEY,
     owner_id TEXT NOT NULL,
     size_gib INTEGER NOT NULL CHECK (size_gib > 0),
     snapshot_id TEXT,
     zone TEXT NOT NULL,
     status TEXT NOT NULL,
     volume_type TEXT NOT NULL,
     path TEXT NOT NULL UNIQUE,
     delegate_id TEXT,
     create_time TEXT NOT NULL,
     updated_at INTEGER NOT NULL,
     status_message TEXT
   );
   CREATE INDEX volumes_owner ON volumes (owner_id, status);
   CREATE INDEX volumes_snapshot ON volumes (snapshot_id, status);
   CREATE TABLE snapshots (
     id TEXT PRIMARY KEY,
     owner_id TEXT NOT NULL,
     volume_id TEXT NOT NULL,
     volume_size_gib INTEGER NOT NULL,
     status TEXT NOT NULL,
     progress INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
     start_time TEXT NOT NULL,
     description TEXT,
     path TEXT NOT NULL UNIQUE,
     delegate_id TEXT,
     updated_at INTEGER NOT NULL,
     status_message TEXT
   );
   CREATE INDEX snapshots_owner ON snapshots (owner_id, status);
   CREATE INDEX snapshots_volume ON snapshots (volume_id, status);
   CREATE TABLE attachments (
     volume_id TEXT NOT NULL REFERENCES volumes (id),
     instance_id TEXT NOT NULL,
     device TEXT NOT NULL,
     status TEXT NOT NULL,
     mode TEXT NOT NULL CHECK (mode IN ('rw', 'ro')),
     vmm_host TEXT NOT NULL,
     attach_time TEXT NOT NULL,
     PRIMARY KEY (volume_id, instance_id)
   );
   CREATE INDEX attachments_instance ON attachments (instance_id, device);`,
  // 2: the VMM Delegates that registered and the instances they reported; attachments get their own
  // ID (a volume may be attached to the same instance again after a detach) and a time of last change.
  `CREATE TABLE vmm_hosts (
     host TEXT PRIMARY KEY,
     endpoint TEXT NOT NULL,
     driver TEXT NOT NULL,
     healthy INTEGER NOT NULL,
     last_seen INTEGER NOT NULL
   );
   CREATE TABLE instances (
     instance_id TEXT NOT NULL,
     vmm_host TEXT NOT NULL REFERENCES vmm_hosts (host) ON DELETE CASCADE,
     state TEXT NOT NULL,
     PRIMARY KEY (instance_id, vmm_host)
   );
   CREATE TABLE attachments_v2 (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     volume_id TEXT NOT NULL REFERENCES volumes (id),
     instance_id TEXT NOT NULL,
     device TEXT NOT NULL,
     status TEXT NOT NULL,
     mode TEXT NOT NULL CHECK (mode IN ('rw', 'ro')),
     vmm_host TEXT NOT NULL,
     attach_time TEXT NOT NULL,
     updated_at INTEGER NOT NULL,
     status_message TEXT
   );
   INSERT INTO attachments_v2 (volume_id, instance_id, device, status, mode, vmm_host, attach_time, updated_at)
     SELECT volume_id, instance_id, device, status, mode, vmm_host, attach_time, 0 FROM attachments;
   DROP TABLE attachments;
   ALTER TABLE attachments_v2 RENAME TO attachments;
   CREATE INDEX attachments_volume ON attachments (volume_id, status);
   CREATE INDEX attachments_instance ON attachments (instance_id, vmm_host, device, status);`,
  // The job that makes each file has an ID of its own, made with the row, and a state: offered to a
  // delegate (answer not known) or accepted. Rows made before this have their resource ID as job ID.
  `ALTER TABLE volumes ADD COLUMN job_id TEXT NOT NULL DEFAULT '';
   ALTER TABLE volumes ADD COLUMN job_state TEXT NOT NULL DEFAULT 'accepted' CHECK (job_state IN ('offering', 'accepted'));
   UPDATE volumes SET job_id = id;
   ALTER TABLE snapshots ADD COLUMN job_id TEXT NOT NULL DEFAULT '';
   ALTER TABLE snapshots ADD COLUMN job_state TEXT NOT NULL DEFAULT 'accepted' CHECK (job_state IN ('offering', 'accepted'));
   UPDATE snapshots SET job_id = id;
   CREATE INDEX volumes_job ON volumes (status, job_state, updated_at);
   CREATE INDEX snapshots_job ON snapshots (status, job_state, updated_at);`,
  // When the job was last offered, apart from updated_at: offering again must not reset the deadline.
  `ALTER TABLE volumes ADD COLUMN job_offered_at INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE snapshots ADD COLUMN job_offered_at INTEGER NOT NULL DEFAULT 0;
   DROP INDEX volumes_job;
   DROP INDEX snapshots_job;
   CREATE INDEX volumes_job ON volumes (status, job_state, job_offered_at);
   CREATE INDEX snapshots_job ON snapshots (status, job_state, job_offered_at);`,
  // Per-user quota overrides, set by vbs-admin (quota set); a NULL limit is the frontend's default
  // (src/sqlite/quotas.ts). The index lets a quota check sum an owner's volumes without their rows.
  `CREATE TABLE quota_overrides (
     owner_id TEXT PRIMARY KEY,
     volumes INTEGER CHECK (volumes >= 0),
     gib INTEGER CHECK (gib >= 0),
     snapshots INTEGER CHECK (snapshots >= 0),
     updated_at TEXT NOT NULL
   );
   CREATE INDEX volumes_owner_size ON volumes (owner_id, status, size_gib);`,
  // Instances belong to users: owner_id is what the instance's node reports (NULL: it says nothing),
  // replaced with every registration; instance_owners holds admins' assignments (vbs-admin instance
  // set-owner), which outlive registrations and win over the node's word.
  `ALTER TABLE instances ADD COLUMN owner_id TEXT;
   CREATE TABLE instance_owners (
     instance_id TEXT NOT NULL,
     vmm_host TEXT NOT NULL,
     owner_id TEXT NOT NULL,
     assigned_at INTEGER NOT NULL,
     PRIMARY KEY (instance_id, vmm_host)
   );`,
];
