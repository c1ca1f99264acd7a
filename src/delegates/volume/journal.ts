/**
 * The Volume Delegate's job journal (an SQLite file beside nothing else the delegate owns). A job is
 * written before the frontend is told it was accepted, and its end is written before it is reported;
 * so after a crash or kill -9 the delegate knows every job it promised, finishes or fails each one,
 * and repeats every report the frontend has not acknowledged.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { VolumeType } from '../../core/records.js';

export type JobKind = 'volume' | 'snapshot';
export type JobState = 'running' | 'succeeded' | 'failed';

export interface Job {
  readonly resourceId: string;
  readonly kind: JobKind;
  readonly path: string;
  readonly sizeBytes: number;
  readonly volumeType: VolumeType;
  readonly sourcePath: string | null;
  readonly state: JobState;
  readonly attempts: number;
  readonly message: string | null;
  readonly reported: boolean;
}

const SCHEMA = `CREATE TABLE IF NOT EXISTS jobs (
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
)`;

type Row = {
  resource_id: string;
  kind: JobKind;
  path: string;
  size_bytes: number;
  volume_type: VolumeType;
  source_path: string | null;
  state: JobState;
  attempts: number;
  message: string | null;
  reported: number;
};

function fromRow(r: Row): Job {
  return {
    resourceId: r.resource_id,
    kind: r.kind,
    path: r.path,
    sizeBytes: r.size_bytes,
    volumeType: r.volume_type,
    sourcePath: r.source_path,
    state: r.state,
    attempts: r.attempts,
    message: r.message,
    reported: r.reported === 1,
  };
}

export class Journal {
  private readonly db: Database.Database;

  constructor(file: string) {
    mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.exec(SCHEMA);
  }

  /** Records a new job; false when one for this resource exists already (a repeated request). */
  add(job: Omit<Job, 'state' | 'attempts' | 'message' | 'reported'>): boolean {
    return (
      this.db
        .prepare(
          `INSERT OR IGNORE INTO jobs (resource_id, kind, path, size_bytes, volume_type, source_path, state, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, 'running', ?)`,
        )
        .run(job.resourceId, job.kind, job.path, job.sizeBytes, job.volumeType, job.sourcePath, Date.now()).changes ===
      1
    );
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
    const row = this.db
      .prepare(`UPDATE jobs SET attempts = attempts + 1, updated_at = ? WHERE resource_id = ? RETURNING attempts`)
      .get(Date.now(), resourceId) as { attempts: number } | undefined;
    return row?.attempts ?? 0;
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

  /** Bytes promised to running jobs, counted against free space by the admission check. */
  promisedBytes(): number {
    const row = this.db
      .prepare(`SELECT COALESCE(SUM(size_bytes), 0) AS n FROM jobs WHERE state = 'running' AND volume_type <> 'sparse'`)
      .get() as { n: number };
    return row.n;
  }

  close(): void {
    this.db.close();
  }
}
