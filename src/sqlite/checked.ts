/**
 * SQLite as every VBS service uses it (the metadata store, the Volume Delegate's journal, the trust
 * store): a failed commit that cannot pass for a success, and a busy database that never freezes the
 * event loop.
 *
 * Why: better-sqlite3 ignores the result of sqlite3_reset in Statement.get() and .all(), and in
 * autocommit mode that is where a write statement commits; so `UPDATE … RETURNING *` run with .get()
 * returns the new row even when the commit failed (SQLITE_FULL, SQLITE_IOERR, a read-only file).
 * Inside an explicit transaction the COMMIT is a statement of its own, and its failure throws: every
 * write therefore runs in one (`writing`). And SQLite's own busy wait is a synchronous sleep of the
 * whole process: it is kept to a few milliseconds, and the wait for a lock happens between attempts,
 * with the event loop free for the other requests.
 */
import type Database from 'better-sqlite3';
import { VbsError } from '../core/errors.js';

/** SQLite's own (synchronous) busy wait: short, since it blocks the whole process. */
export const SQLITE_BUSY_TIMEOUT_MS = 10;
/** How long a call waits, asynchronously, for a lock another connection holds. */
export const LOCK_WAIT_BUDGET_MS = 5000;

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

/** Another connection holds the lock: worth waiting for. */
export function isBusy(error: unknown): boolean {
  const code = codeOf(error);
  return code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED');
}

/** The database could not write or read its file now: nothing was changed, and a retry may work. */
export function isStorageFailure(error: unknown): boolean {
  const code = codeOf(error);
  return ['SQLITE_FULL', 'SQLITE_IOERR', 'SQLITE_READONLY', 'SQLITE_CANTOPEN', 'SQLITE_PROTOCOL'].some(
    (c) => code === c || code.startsWith(`${c}_`),
  );
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `fn` (one transaction at most) until it is not refused for a lock, waiting
 * between attempts; a lock held past the budget, or a file that cannot be written, is a retryable
 * Unavailable that names `what`, with nothing changed.
 */
export async function patiently<T>(what: string, fn: () => T | Promise<T>, budgetMs = LOCK_WAIT_BUDGET_MS): Promise<T> {
  const deadline = Date.now() + budgetMs;
  for (let delay = 2; ; delay = Math.min(delay * 2, 100)) {
    try {
      return await fn();
    } catch (error) {
      if (isBusy(error) && Date.now() + delay < deadline) {
        await sleep(delay);
        continue;
      }
      if (isBusy(error)) throw new VbsError('Unavailable', `The ${what} is busy now; try again.`, { cause: error });
      if (isStorageFailure(error))
        throw new VbsError('Unavailable', `The ${what} cannot write now; nothing was changed. Try again.`, {
          cause: error,
        });
      throw error;
    }
  }
}

/** `fn` in one IMMEDIATE transaction, whose COMMIT's failure throws (see above). */
export function writing<T>(db: Database.Database, fn: () => T): T {
  return db.transaction(fn).immediate();
}

/** The pragmas every VBS database runs with: WAL, a commit on disk before it returns, a short busy wait. */
export function openPragmas(db: Database.Database): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
}
