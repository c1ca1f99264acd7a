/**
 * The files VBS writes hold other users' data (volume IDs, owners, snapshot descriptions, who is
 * trusted, the volumes themselves): every one is this system user's only, 0600 in 0700 directories,
 * like the keys. Certificates (public by nature) are the one exception, and live in 0700 directories.
 *
 * Modes are set exactly, not left to the umask: a file VBS opens is chmod'ed when it is looser or
 * tighter than 0600 (an older VBS made its databases and logs 0644), and a directory VBS makes is
 * chmod'ed after mkdir. A directory that already existed is left as it is unless the caller owns it
 * (`tighten`): a log file's directory may be /var/log.
 *
 * SQLite creates a database's -wal and -shm with the database file's own mode (it fchmods them to
 * it, whatever the umask), so a database file that is 0600 before it is opened has private companions
 * from then on; companions that exist already (left by an older VBS, or held open by one) are
 * tightened here before the open.
 */
import { chmodSync, closeSync, constants as fsc, fchmodSync, fstatSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIR_MODE = 0o700;

/** The files SQLite keeps beside a database while it runs (WAL) or writes (a rollback journal). */
const SQLITE_COMPANIONS = ['-wal', '-shm', '-journal'] as const;

function errorCode(err: unknown): string | undefined {
  return err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

/**
 * Makes `dir` and its missing parents, each 0700. An existing directory keeps its mode unless
 * `tighten` (a directory that is VBS's own: its storage subdirectories, its certificates').
 */
export function ensurePrivateDir(dir: string, options: { tighten?: boolean } = {}): void {
  const first = mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (first !== undefined) {
    // mkdir applied the umask: set each directory made here (first … dir) exactly.
    for (let d = dir; ; d = dirname(d)) {
      chmodSync(d, PRIVATE_DIR_MODE);
      if (d === first || dirname(d) === d) break;
    }
  } else if (options.tighten === true && (statSync(dir).mode & 0o777) !== PRIVATE_DIR_MODE) {
    chmodSync(dir, PRIVATE_DIR_MODE);
  }
}

/** Makes an open file 0600 when it is not (fchmod: the file opened, not whatever the path names now). */
function privateFd(fd: number, path: string): void {
  const st = fstatSync(fd);
  if (!st.isFile()) throw new Error(`${path} is not a regular file`);
  if ((st.mode & 0o777) !== PRIVATE_FILE_MODE) fchmodSync(fd, PRIVATE_FILE_MODE);
}

/** Makes `file` exist (empty if it did not; its directory as ensurePrivateDir) and be 0600. */
export function ensurePrivateFile(file: string): void {
  ensurePrivateDir(dirname(file));
  const fd = openSync(file, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_APPEND, PRIVATE_FILE_MODE);
  try {
    privateFd(fd, file);
  } finally {
    closeSync(fd);
  }
}

/** Makes `file` 0600 if it exists; false when it does not. */
export function tightenFile(file: string): boolean {
  let fd: number;
  try {
    // O_RDONLY | O_NONBLOCK: opening never blocks (a FIFO) nor changes the file.
    fd = openSync(file, fsc.O_RDONLY | fsc.O_NONBLOCK);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return false;
    throw err;
  }
  try {
    privateFd(fd, file);
    return true;
  } finally {
    closeSync(fd);
  }
}

/**
 * Before a SQLite database is opened: the file made 0600 (created empty when `create`, which SQLite
 * takes as a new database) with its directory, and its -wal, -shm and -journal tightened where they
 * exist. ':memory:' and '' (temporary databases) have no file.
 */
export function preparePrivateDatabase(file: string, options: { create: boolean }): void {
  if (file === ':memory:' || file === '') return;
  if (options.create) ensurePrivateFile(file);
  else if (!tightenFile(file)) return;
  for (const suffix of SQLITE_COMPANIONS) tightenFile(`${file}${suffix}`);
}
