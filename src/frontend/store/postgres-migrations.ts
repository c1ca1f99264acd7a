/**
 * Versioned schema of the metadata store on PostgreSQL (the same tables and columns as
 * sqlite-migrations.ts, which reached them in steps). A migration is never edited once released:
 * add a new one. Times are BIGINT milliseconds by the database's clock, as on SQLite.
 */
export const POSTGRES_MIGRATIONS: readonly string[] = [
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
     updated_at BIGINT NOT NULL,
     status_message TEXT,
     job_id TEXT NOT NULL,
     job_state TEXT NOT NULL CHECK (job_state IN ('offering', 'accepted')),
     job_offered_at BIGINT NOT NULL DEFAULT 0
   );
   CREATE INDEX volumes_owner ON volumes (owner_id, status);
   CREATE INDEX volumes_snapshot ON volumes (snapshot_id, status);
   CREATE INDEX volumes_job ON volumes (status, job_state, job_offered_at);
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
     updated_at BIGINT NOT NULL,
     status_message TEXT,
     job_id TEXT NOT NULL,
     job_state TEXT NOT NULL CHECK (job_state IN ('offering', 'accepted')),
     job_offered_at BIGINT NOT NULL DEFAULT 0
   );
   CREATE INDEX snapshots_owner ON snapshots (owner_id, status);
   CREATE INDEX snapshots_volume ON snapshots (volume_id, status);
   CREATE INDEX snapshots_job ON snapshots (status, job_state, job_offered_at);
   CREATE TABLE vmm_hosts (
     host TEXT PRIMARY KEY,
     endpoint TEXT NOT NULL,
     driver TEXT NOT NULL,
     healthy INTEGER NOT NULL,
     last_seen BIGINT NOT NULL
   );
   CREATE TABLE instances (
     instance_id TEXT NOT NULL,
     vmm_host TEXT NOT NULL REFERENCES vmm_hosts (host) ON DELETE CASCADE,
     state TEXT NOT NULL,
     owner_id TEXT,
     PRIMARY KEY (instance_id, vmm_host)
   );
   CREATE TABLE instance_owners (
     instance_id TEXT NOT NULL,
     vmm_host TEXT NOT NULL,
     owner_id TEXT NOT NULL,
     assigned_at BIGINT NOT NULL,
     PRIMARY KEY (instance_id, vmm_host)
   );
   CREATE TABLE quota_overrides (
     owner_id TEXT PRIMARY KEY,
     volumes INTEGER CHECK (volumes >= 0),
     gib INTEGER CHECK (gib >= 0),
     snapshots INTEGER CHECK (snapshots >= 0),
     updated_at TEXT NOT NULL
   );
   CREATE INDEX volumes_owner_size ON volumes (owner_id, status, size_gib);
   CREATE TABLE attachments (
     id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     volume_id TEXT NOT NULL REFERENCES volumes (id),
     instance_id TEXT NOT NULL,
     device TEXT NOT NULL,
     status TEXT NOT NULL,
     mode TEXT NOT NULL CHECK (mode IN ('rw', 'ro')),
     vmm_host TEXT NOT NULL,
     attach_time TEXT NOT NULL,
     updated_at BIGINT NOT NULL,
     status_message TEXT
   );
   CREATE INDEX attachments_volume ON attachments (volume_id, status);
   CREATE INDEX attachments_instance ON attachments (instance_id, vmm_host, device, status);`,
];
