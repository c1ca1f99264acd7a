/*
 * Copies between volumes and snapshots. The paper used a plain `cp`, which on
 * a thick or sparse volume writes every byte, holes included. Here cp is asked
 * to clone when the file system can (XFS, btrfs) and otherwise to leave a hole
 * wherever the source reads as zeros, so a copy allocates only what was really
 * written. (cp 9.1 seeks over holes only in sources whose st_blocks look
 * sparse; in a thick source it still reads the unwritten extents, as zeros.)
 * growFile exists because a volume made from a snapshot starts at the
 * snapshot's size and must reach the size the user asked for.
 */
import { constants as fsc } from 'node:fs';
import { open, readdir, readFile, readlink, realpath, stat } from 'node:fs/promises';
import { run } from '../exec.js';
import {
  checkSize,
  isFallocateUnsupported,
  monotonicPercent,
  pollWhile,
  syncFileAndDir,
  type VolumeType,
} from './provision.js';

const ZERO_CHUNK = 4 * 1024 * 1024;

async function allocatedBytes(filePath: string): Promise<number> {
  return (await stat(filePath)).blocks * 512;
}

export async function copyFile(
  src: string,
  dst: string,
  onProgress: (percent: number) => void,
  signal?: AbortSignal,
): Promise<void> {
  signal?.throwIfAborted();
  const report = monotonicPercent(onProgress);
  report(0);
  // What cp will have to write, at most. Read first: a missing source fails here, before cp runs.
  const total = await allocatedBytes(src);
  const size = (await stat(src)).size;
  const source = await realpath(src);
  let cpPid: number | undefined;
  // Two measures, the larger wins: the data written so far (meaningful for sparse sources), and how
  // far cp has read its source (for thick sources, whose zeros cp reads but does not write).
  const sample = async (): Promise<number> => {
    const written = total === 0 ? 0 : ((await allocatedBytes(dst)) * 100) / total;
    const read = cpPid === undefined || size === 0 ? 0 : ((await readOffset(cpPid, source)) * 100) / size;
    return Math.max(written, read);
  };
  const onSpawn = (pid: number): void => {
    cpPid = pid;
  };
  try {
    // '--' so that no path, whatever it looks like, is read as an option.
    await pollWhile(
      run(['cp', '--reflink=auto', '--sparse=always', '--', src, dst], { ...(signal ? { signal } : {}), onSpawn }),
      sample,
      report,
    );
  } catch (error) {
    signal?.throwIfAborted();
    throw error;
  }
  await syncFileAndDir(dst);
  report(100);
}

/** The file offset at which process `pid` has `path` open (0 when it has not, or no longer). */
async function readOffset(pid: number, path: string): Promise<number> {
  try {
    for (const fd of await readdir(`/proc/${pid}/fd`)) {
      if ((await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')) !== path) continue;
      const info = await readFile(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
      return Number(/^pos:\s*(\d+)/m.exec(info)?.[1] ?? 0);
    }
  } catch {
    // The process ended between two looks: the copy's end is reported by the caller.
  }
  return 0;
}

async function writeZeros(filePath: string, from: number, to: number): Promise<void> {
  const zeros = Buffer.alloc(Math.min(ZERO_CHUNK, to - from));
  const file = await open(filePath, fsc.O_WRONLY | fsc.O_NOFOLLOW);
  try {
    for (let offset = from; offset < to; ) {
      const length = Math.min(zeros.length, to - offset);
      const { bytesWritten } = await file.write(zeros, 0, length, offset);
      offset += bytesWritten;
    }
  } finally {
    await file.close();
  }
}

async function truncateTo(filePath: string, sizeBytes: number): Promise<void> {
  const file = await open(filePath, fsc.O_WRONLY | fsc.O_NOFOLLOW);
  try {
    await file.truncate(sizeBytes);
  } finally {
    await file.close();
  }
}

export async function growFile(filePath: string, sizeBytes: number, type: VolumeType): Promise<void> {
  checkSize(sizeBytes);
  const st = await stat(filePath);
  if (!st.isFile()) throw new Error(`${filePath} is not a regular file`);
  if (sizeBytes < st.size) {
    throw new RangeError(`cannot shrink ${filePath} from ${st.size} to ${sizeBytes} bytes: volumes never shrink`);
  }
  if (sizeBytes > st.size) {
    switch (type) {
      case 'sparse':
        await truncateTo(filePath, sizeBytes);
        break;
      case 'thick':
        try {
          // fallocate over the whole range keeps existing data and fills every hole.
          await run(['fallocate', '-l', String(sizeBytes), filePath]);
        } catch (error) {
          if (!isFallocateUnsupported(error)) throw error;
          await truncateTo(filePath, sizeBytes);
        }
        break;
      case 'zero':
        await writeZeros(filePath, st.size, sizeBytes);
        break;
      default:
        throw new RangeError(`unknown volume type ${String(type)}`);
    }
  }
  const final = await stat(filePath);
  if (final.size !== sizeBytes) throw new Error(`${filePath} is ${final.size} bytes after growing, expected ${sizeBytes}`);
  await syncFileAndDir(filePath);
}
