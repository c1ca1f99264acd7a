/**
 * The files vbs-admin reads and writes: the home's CA (which it loads but never creates implicitly;
 * `ca init` does that), the files it is given (--csr, --cert), and the files it hands out. Output
 * files are created exclusively with their final mode (a private key is 0600 from its first byte)
 * and never overwrite what is there: a user's old key is not lost to a typo.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CaMaterial } from '../../security/ca/certificate-authority.js';
import { ensureLocalCa } from '../../security/ca/local-tls.js';
import { CliError } from '../command.js';

export function certDirOf(home: string): string {
  return join(home, 'certs');
}

/** The home's CA with its key, checked; a failure if there is none yet. */
export function loadHomeCa(home: string): CaMaterial {
  const certDir = certDirOf(home);
  if (!existsSync(join(certDir, 'ca-key.pem'))) {
    throw new CliError(`no VBS CA in ${certDir}: run 'vbs-admin ca init' (or start the services) first`);
  }
  return ensureLocalCa(certDir);
}

export function readInput(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new CliError(`cannot read the ${what} ${path}: ${reason(err)}`);
  }
}

/** Refuses, before any work is done, to go on when one of `paths` exists. */
export function checkAbsent(paths: readonly string[]): void {
  for (const p of paths) {
    if (existsSync(p)) throw new CliError(`${p} already exists; remove it or choose another output`);
  }
}

export function writeNewFile(path: string, data: string | Buffer, mode: number): void {
  let fd: number;
  try {
    fd = openSync(path, 'wx', mode);
  } catch (err) {
    throw new CliError(`cannot create ${path}: ${reason(err)}`);
  }
  try {
    writeFileSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function reason(err: unknown): string {
  if (err instanceof Error && 'code' in err) {
    if (err.code === 'ENOENT') return 'no such file or directory';
    if (err.code === 'EEXIST') return 'it already exists';
    if (err.code === 'EACCES') return 'permission denied';
  }
  return err instanceof Error ? err.message : String(err);
}
