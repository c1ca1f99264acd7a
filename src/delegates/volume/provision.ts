/*
 * Creating the backing file of a new volume. The three volume types trade
 * creation time for later write performance and for the guarantee that the
 * space is really there: 'sparse' reserves nothing, 'thick' reserves all
 * blocks without writing them (fallocate), 'zero' writes every byte as the
 * original paper's dd did, and stays here as the measured baseline. Whatever
 * the type, the file is fsynced with its directory before we return, because
 * the caller acknowledges the volume as available right after.
 */
import { constants as fsc } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { ExecError, run } from '../exec.js';
import { PRIVATE_FILE_MODE } from '../../private-files.js';

import { VOLUME_TYPES, type VolumeType } from '../../core/records.js';
import { METADATA_COMMAND_TIMEOUT_MS } from './command-deadlines.js';

export { VOLUME_TYPES, type VolumeType };

const DD_BLOCK = 4 * 1024 * 1024;
const POLL_MS = 250;

export function checkSize(sizeBytes: number): void {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes < 0) {
    throw new RangeError(`invalid size ${String(sizeBytes)}: must be a non-negative integer number of bytes`);
  }
}

/** Wraps onProgress so that callers only ever see integer percents that grow. */
export function monotonicPercent(onProgress: (percent: number) => void): (percent: number) => void {
  let last = -1;
  return (percent) => {
    const value = Math.max(0, Math.min(100, Math.floor(percent)));
    if (value > last) {
      last = value;
      onProgress(value);
    }
  };
}

/** Samples progress every POLL_MS while work runs; 100 is left to the caller, after the fsync. */
export async function pollWhile<T>(
  work: Promise<T>,
  sample: () => Promise<number>,
  report: (percent: number) => void,
): Promise<T> {
  let stopped = false;
  const timer = setInterval(() => {
    sample().then(
      (percent) => {
        if (!stopped) report(Math.min(99, percent));
      },
      () => undefined, // the file may be briefly absent or replaced: the next sample will tell
    );
  }, POLL_MS);
  try {
    return await work;
  } finally {
    stopped = true;
    clearInterval(timer);
  }
}

/** Makes the file's data and its directory entry durable. */
export async function syncFileAndDir(filePath: string): Promise<void> {
  const file = await open(filePath, fsc.O_RDONLY);
  try {
    await file.sync();
  } finally {
    await file.close();
  }
  const dir = await open(path.dirname(filePath), fsc.O_RDONLY | fsc.O_DIRECTORY);
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** util-linux prints "fallocate: fallocate failed: Operation not supported" (EOPNOTSUPP). */
export function isFallocateUnsupported(error: unknown): boolean {
  return error instanceof ExecError && /Operation not supported/i.test(error.stderr);
}

async function zeroFill(
  filePath: string,
  sizeBytes: number,
  report: (percent: number) => void,
  signal?: AbortSignal,
): Promise<void> {
  // The paper's command when the size allows it; count_bytes keeps one dd for odd sizes.
  const argv: [string, ...string[]] =
    sizeBytes % DD_BLOCK === 0
      ? ['dd', 'if=/dev/zero', `of=${filePath}`, 'bs=4M', `count=${sizeBytes / DD_BLOCK}`, 'conv=notrunc,fsync']
      : [
          'dd',
          'if=/dev/zero',
          `of=${filePath}`,
          'bs=4M',
          `count=${sizeBytes}`,
          'iflag=count_bytes',
          'conv=notrunc,fsync',
        ];
  const sample = async (): Promise<number> => ((await stat(filePath)).size * 100) / sizeBytes;
  try {
    await pollWhile(run(argv, signal ? { signal } : {}), sample, report);
  } catch (error) {
    signal?.throwIfAborted();
    throw error;
  }
}

export async function provisionFile(
  filePath: string,
  sizeBytes: number,
  type: VolumeType,
  onProgress: (percent: number) => void,
  signal?: AbortSignal,
): Promise<void> {
  checkSize(sizeBytes);
  if (!VOLUME_TYPES.includes(type)) throw new RangeError(`unknown volume type ${type}`);
  signal?.throwIfAborted();
  const report = monotonicPercent(onProgress);
  report(0);

  // No O_TRUNC: an empty file made by `lfs setstripe` carries the Lustre layout and must stay.
  // 0600: volume files hold guest data (src/private-files.ts).
  const file = await open(filePath, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_NOFOLLOW, PRIVATE_FILE_MODE);
  try {
    const st = await file.stat();
    if (!st.isFile()) throw new Error(`${filePath} is not a regular file`);
    if (st.size > sizeBytes) {
      throw new Error(
        `${filePath} already holds ${st.size} bytes, more than the requested ${sizeBytes}; refusing to shrink it`,
      );
    }
    if (type === 'sparse' || sizeBytes === 0) await file.truncate(sizeBytes);
  } finally {
    await file.close();
  }

  if (sizeBytes > 0 && type === 'thick') {
    try {
      await run(['fallocate', '-l', String(sizeBytes), filePath], {
        timeoutMs: METADATA_COMMAND_TIMEOUT_MS,
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      signal?.throwIfAborted();
      if (!isFallocateUnsupported(error)) throw error;
      await zeroFill(filePath, sizeBytes, report, signal);
    }
  } else if (sizeBytes > 0 && type === 'zero') {
    await zeroFill(filePath, sizeBytes, report, signal);
  }

  const final = await stat(filePath);
  if (final.size !== sizeBytes)
    throw new Error(`${filePath} is ${final.size} bytes after provisioning, expected ${sizeBytes}`);
  await syncFileAndDir(filePath);
  report(100);
}
