/**
 * The Volume Delegate's job journal (an SQLite file beside nothing else the delegate owns). A job is
 * written before the frontend is told it was accepted, and its end is written before it is reported;
 * so after a crash or kill -9 the delegate knows every job it promised, finishes or fails each one,
 * and repeats every report the frontend has not acknowledged. A job is known by the ID the frontend
 * made for it: asked again for the same job, the delegate answers from here and starts nothing.
 */
import Database from 'better-sqlite3';
import type { VolumeType } from '../../core/records.js';
import { preparePrivateDatabase } from '../../private-files.js';
import { openPragmas, writing } from '../../sqlite/checked.js';

export type JobKind = 'volume' | 'snapshot';
export type JobState = 'running' | 'succeeded' | 'failed';

export interface Job {
  readonly jobId: string;
  readonly resourceId: string;
  readonly kind: JobKind;
  readonly path: string;
  readonly sizeBytes: number;
  readonly volumeType: VolumeType;
  readonly sourcePath: string | null;
  /** Free space the job may still take, counted against admissions while it runs. */
  readonly reservedBytes: number;
  readonly state: JobState;
  readonly attempts: number;
  readonly message: string | null;
  readonly reported: boolean;
}

export type NewJob = Omit<Job, 'state' | 'attempts' | 'message' | 'reported'>;

const MIGRATIONS: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS jobs (
     resource_id TEXT PRIMARY KEY,
     kind TEXT NOT NULL,
     path TEXT NOT NULL,
     size_bytes INTEGER NOT NULL,
     volume_type TEXT NOT NULL,
     source_path TEXT,
     state TEXT NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 1,
     message TEXT,
     reported INTEGER NOT NULL DEFAULT 0,
     updated_at INTEGER NOT NULL
   )`,
  // Jobs are known by the frontend's job ID; jobs journaled before had their resource ID as one.
  // What a job reserves is written when it is admitted (sparse and snapshot jobs too).
  `ALTER TABLE jobs ADD COLUMN job_id TEXT NOT NULL DEFAULT '';
   UPDATE jobs SET job_id = resource_id;
   ALTER TABLE jobs ADD COLUMN reserved_bytes INTEGER NOT NULL DEFAULT 0;
   UPDATE jobs SET reserved_bytes = CASE WHEN volume_type = 'sparse' THEN 0 ELSE size_bytes END;`,
  // The sparse volumes' promise (promisedSparseBytes) is summed on every sparse admission.
  `CREATE INDEX jobs_promise ON jobs (kind, volume_type, state, size_bytes);`,
];

/** The jobs whose files are sparse volumes this delegate promised: being made, or made and not deleted. */
const PROMISING = `kind = 'volume' AND volume_type = 'sparse' AND state IN ('running', 'succeeded')`;

type Row = {
  job_id: string;
  resource_id: string;
  kind: JobKind;
  path: string;
  size_bytes: number;
  volume_type: VolumeType;
  source_path: string | null;
  reserved_bytes: number;
  state: JobState;
  attempts: number;
  message: string | null;
  reported: number;
};

function fromRow(r: Row): Job {
  return {
    jobId: r.job_id,
    resourceId: r.resource_id,
    kind: r.kind,
    path: r.path,
    sizeBytes: r.size_bytes,
    volumeType: r.volume_type,
    sourcePath: r.source_path,
    reservedBytes: r.reserved_bytes,
    state: r.state,
    attempts: r.attempts,
    message: r.message,
    reported: r.reported === 1,
  };
}

export class Journal {
  private readonly db: Database.Database;

  constructor(file: string) {
    // 0600 before SQLite opens it, so that its -wal and -shm are made 0600 too.
    preparePrivateDatabase(file, { create: true });
    this.db = new Database(file);
    openPragmas(this.db);
    const version = Number(this.db.pragma('user_version', { simple: true }));
    if (version > MIGRATIONS.length) throw new Error(`journal schema ${version} is newer than this VBS`);
    writing(this.db, () => {
      for (let v = version; v < MIGRATIONS.length; v++) this.db.exec(MIGRATIONS[v] ?? '');
      this.db.pragma(`user_version = ${MIGRATIONS.length}`);
    });
  }

  /**
   * Records a new job: 'added'; 'known' when this job is journaled already (a repeated request);
   * 'conflict' when the resource has another job here.
   */
  add(job: NewJob): 'added' | 'known' | 'conflict' {
    return writing(this.db, () => {
      const existing = this.get(job.resourceId);
      if (existing) return existing.jobId === job.jobId ? 'known' : 'conflict';
      this.db
        .prepare(
          `INSERT INTO jobs (job_id, resource_id, kind, path, size_bytes, volume_type, source_path, reserved_bytes, state, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?)`,
        )
        .run(
          job.jobId,
          job.resourceId,
          job.kind,
          job.path,
          job.sizeBytes,
          job.volumeType,
          job.sourcePath,
          job.reservedBytes,
          Date.now(),
        );
      return 'added';
    });
  }

  get(resourceId: string): Job | undefined {
    const row = this.db.prepare(`SELECT * FROM jobs WHERE resource_id = ?`).get(resourceId) as Row | undefined;
    return row && fromRow(row);
  }

  finish(resourceId: string, state: 'succeeded' | 'failed', message: string | null): void {
    this.db
      .prepare(
        `UPDATE jobs SET state = ?, message = ?, reported = 0, updated_at = ? WHERE resource_id = ? AND state = 'running'`,
      )
      .run(state, message, Date.now(), resourceId);
  }

  /** A job interrupted by a crash starts again; returns its new attempt count. */
  retry(resourceId: string): number {
    return writing(this.db, () => {
      this.db
        .prepare(`UPDATE jobs SET attempts = attempts + 1, updated_at = ? WHERE resource_id = ?`)
        .run(Date.now(), resourceId);
      return this.get(resourceId)?.attempts ?? 0;
    });
  }

  /** The job was stopped by a graceful stop, not interrupted: the next start does not count it as a retry. */
  stoppedCleanly(resourceId: string): void {
    this.db
      .prepare(`UPDATE jobs SET attempts = attempts - 1 WHERE resource_id = ? AND state = 'running' AND attempts > 0`)
      .run(resourceId);
  }

  markReported(resourceId: string): void {
    this.db.prepare(`UPDATE jobs SET reported = 1 WHERE resource_id = ? AND state <> 'running'`).run(resourceId);
  }

  /** The file was deleted: the job is of no further interest. */
  forget(resourceId: string): void {
    this.db.prepare(`DELETE FROM jobs WHERE resource_id = ?`).run(resourceId);
  }

  running(): Job[] {
    return (this.db.prepare(`SELECT * FROM jobs WHERE state = 'running'`).all() as Row[]).map(fromRow);
  }

  unreported(): Job[] {
    return (this.db.prepare(`SELECT * FROM jobs WHERE state <> 'running' AND reported = 0`).all() as Row[]).map(
      fromRow,
    );
  }

  /** Bytes reserved by running jobs, counted against free space by the admission check. */
  promisedBytes(): number {
    const row = this.db
      .prepare(`SELECT COALESCE(SUM(reserved_bytes), 0) AS n FROM jobs WHERE state = 'running'`)
      .get() as { n: number };
    return row.n;
  }

  /** Jobs journaled and not ended: every one counts against the delegate's maxConcurrentJobs. */
  runningCount(): number {
    return (this.db.prepare(`SELECT COUNT(*) AS n FROM jobs WHERE state = 'running'`).get() as { n: number }).n;
  }

  /**
   * The full size of every sparse volume this delegate is making or has made and not deleted: what
   * it promised, counted against maxPromisedSparseBytes. A sparse volume reserves only its
   * overcommitted share of free space while it is made, but its guest may fill all of it later.
   */
  promisedSparseBytes(): number {
    return (
      this.db.prepare(`SELECT COALESCE(SUM(size_bytes), 0) AS n FROM jobs WHERE ${PROMISING}`).get() as { n: number }
    ).n;
  }

  /** The sparse volumes made here (succeeded), whose files should still exist. */
  madeSparseVolumes(): Job[] {
    return (
      this.db
        .prepare(`SELECT * FROM jobs WHERE kind = 'volume' AND volume_type = 'sparse' AND state = 'succeeded'`)
        .all() as Row[]
    ).map(fromRow);
  }

  close(): void {
    this.db.close();
  }
}
