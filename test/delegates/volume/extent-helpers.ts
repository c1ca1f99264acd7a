/*
 * For the extent-copy tests: a scratch directory on a file system with FIEMAP
 * (tmpfs has none, and every copy there would quietly take the cp fallback),
 * file digests, and spies: `cp` and `filefrag` wrappers that log how they were
 * called and run the real program, so a test can tell which path a copy took.
 */
import { createHash } from 'node:crypto';
import { constants as fsc, createReadStream } from 'node:fs';
import { access, chmod, mkdir, mkdtemp, readFile, statfs, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// statfs f_type of the file systems whose FIEMAP tells unwritten extents and holes apart.
const FIEMAP_FILE_SYSTEMS: Readonly<Record<number, string>> = {
  0xef53: 'ext4',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
};
/** The repository's var/ (git-ignored), from dist/test/delegates/volume: used when os.tmpdir() is tmpfs. */
const REPO_VAR = fileURLToPath(new URL('../../../../var', import.meta.url));

export async function fileSystemName(dir: string): Promise<string | undefined> {
  return FIEMAP_FILE_SYSTEMS[(await statfs(dir)).type];
}

/** A new directory on ext4, XFS or btrfs; throws, rather than testing nothing, when there is none. */
export async function makeFiemapTempDir(tag: string): Promise<string> {
  for (const parent of [os.tmpdir(), REPO_VAR]) {
    await mkdir(parent, { recursive: true });
    if ((await fileSystemName(parent)) !== undefined) return mkdtemp(path.join(parent, `vbs-${tag}-`));
  }
  throw new Error(`neither ${os.tmpdir()} nor ${REPO_VAR} is on ext4, XFS or btrfs: these tests need FIEMAP`);
}

export async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 4 * 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The first executable called `name` on PATH, then in the sbin directories (where filefrag lives). */
export async function findProgram(name: string): Promise<string> {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/sbin'];
  for (const dir of dirs.filter((d) => d !== '')) {
    const candidate = path.join(dir, name);
    if (
      await access(candidate, fsc.X_OK).then(
        () => true,
        () => false,
      )
    )
      return candidate;
  }
  throw new Error(`${name} not found`);
}

async function writeScript(binDir: string, name: string, lines: readonly string[]): Promise<void> {
  const file = path.join(binDir, name);
  await writeFile(file, ['#!/bin/sh', ...lines, ''].join('\n'));
  await chmod(file, 0o755);
}

/** `name` in binDir: appends its arguments to logFile, then runs the real program. */
export async function writeSpy(binDir: string, name: string, logFile: string): Promise<void> {
  const real = await findProgram(name);
  await writeScript(binDir, name, [`printf '%s\\n' "$*" >> '${logFile}'`, `exec '${real}' "$@"`]);
}

/** `filefrag` in binDir: logs its arguments, then runs `body` (sh) with $f set to the file. */
export async function writeFakeFilefrag(binDir: string, logFile: string, body: readonly string[]): Promise<void> {
  await writeScript(binDir, 'filefrag', [
    `printf '%s\\n' "$*" >> '${logFile}'`,
    'for a in "$@"; do f=$a; done',
    ...body,
  ]);
}

export async function logLines(logFile: string): Promise<string[]> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  return text.split('\n').filter((l) => l !== '');
}
