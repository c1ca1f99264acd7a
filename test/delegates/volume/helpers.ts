/*
 * Shared by the volume delegate tests: throw-away directories, and putting
 * fake tools (the fixture `lfs`, a refusing `fallocate`) first on PATH for the
 * code under test, which looks its programs up in process.env.PATH.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** test/fixtures/bin, found from the compiled file's place in dist/test/delegates/volume. */
export const FIXTURE_BIN = fileURLToPath(new URL('../../../../test/fixtures/bin', import.meta.url));
if (!existsSync(path.join(FIXTURE_BIN, 'lfs'))) throw new Error(`fake lfs not found in ${FIXTURE_BIN}`);

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

export async function makeTempDir(tag: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `vbs-${tag}-`));
}

export async function removeDir(dir: string | undefined): Promise<void> {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
}

/** Puts dirs first on PATH until the returned function is called. */
export function prependPath(...dirs: string[]): () => void {
  const saved = process.env.PATH;
  process.env.PATH = [...dirs, saved ?? ''].join(path.delimiter);
  return () => {
    process.env.PATH = saved;
  };
}

/** Sets environment variables until the returned function is called. */
export function setEnv(vars: Record<string, string>): () => void {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  return () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) Reflect.deleteProperty(process.env, k);
      else process.env[k] = v;
    }
  };
}

/**
 * Writes, in binDir, an executable `fallocate` that fails as util-linux does
 * on a file system without fallocate (ZFS-backed Lustre OSTs), after logging
 * its arguments to logFile.
 */
export async function writeRefusingFallocate(binDir: string, logFile: string): Promise<void> {
  const script = [
    '#!/bin/sh',
    `printf '%s\\n' "$*" >> '${logFile}'`,
    "echo 'fallocate: fallocate failed: Operation not supported' >&2",
    'exit 1',
    '',
  ].join('\n');
  const file = path.join(binDir, 'fallocate');
  await writeFile(file, script);
  await chmod(file, 0o755);
}

/** Asserts the shape every progress callback must have: integers, growing, 0..100, ending at 100. */
export function progressProblems(values: readonly number[]): string[] {
  const problems: string[] = [];
  if (values.length === 0) return ['no progress reported'];
  values.forEach((v, i) => {
    if (!Number.isInteger(v) || v < 0 || v > 100) problems.push(`value ${v} at ${i} is not an integer percent`);
    const prev = values[i - 1];
    if (prev !== undefined && v < prev) problems.push(`value ${v} at ${i} is below ${prev}`);
  });
  if (values[values.length - 1] !== 100) problems.push(`last value is ${String(values[values.length - 1])}, not 100`);
  return problems;
}
