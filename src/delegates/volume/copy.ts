/*
 * Copies between volumes and snapshots. The paper used a plain `cp`, which on
 * a thick or sparse volume writes every byte, holes included. A snapshot must
 * never cost more than the data written, so copyFile tries, in order:
 *  1. a clone (`cp --reflink=always`): constant time on XFS and btrfs;
 *  2. where the file system refuses to clone (ext4, Lustre, two file
 *     systems), a copy of the written extents only (extent-copy.ts): cp 9.1
 *     seeks over holes only in sources whose st_blocks look sparse, so on a
 *     thick (fallocated) volume it would read every unwritten extent, as zeros;
 *  3. where there is no usable extent map (no filefrag, no FIEMAP as on tmpfs
 *     or NFS, output not recognised), `cp --reflink=auto --sparse=always`,
 *     which still leaves a hole wherever the source reads as zeros.
 * growFile exists because a volume made from a snapshot starts at the
 * snapshot's size and must reach the size the user asked for.
 */
import { constants as fsc, type Stats } from 'node:fs';
import { open, readdir, readFile, readlink, realpath, rm, stat } from 'node:fs/promises';
import { PRIVATE_FILE_MODE } from '../../private-files.js';
import { ExecError, run } from '../exec.js';
import { copyWrittenExtents } from './extent-copy.js';
import {
  checkSize,
  isFallocateUnsupported,
  monotonicPercent,
  pollWhile,
  syncFileAndDir,
  type VolumeType,
} from './provision.js';
import { METADATA_COMMAND_TIMEOUT_MS } from './command-deadlines.js';

const ZERO_CHUNK = 4 * 1024 * 1024;
/**
 * cp's words when FICLONE is refused: EOPNOTSUPP (ext4, tmpfs, Lustre), EXDEV (source and copy on
 * two file systems), EINVAL (e.g. btrfs nodatacow to datacow), ENOTTY/ENOSYS (no such ioctl).
 */
const CLONE_REFUSED =
  /failed to clone .*: (?:Operation not supported|Invalid cross-device link|Invalid argument|Inappropriate ioctl for device|Function not implemented)$/m;
// The messages above are matched in English.
const C_LOCALE = { LC_ALL: 'C' };

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
  // Read first: a missing source fails here, before anything is created.
  const st = await stat(src);
  const source = await realpath(src);
  const created = await createPrivate(dst);
  try {
    if (!(await cloneFile(src, dst, signal))) {
      const extentOptions = { report: (p: number) => report(Math.min(99, p)), ...(signal ? { signal } : {}) };
      const copied = st.isFile() && (await copyWrittenExtents(source, dst, extentOptions));
      if (!copied) await copyWithCp(src, dst, source, st, report, signal);
    }
  } catch (error) {
    // No half-made copy is left behind; a file that was there before (a Lustre layout) is the caller's.
    if (created) await rm(dst, { force: true }).catch(() => undefined);
    signal?.throwIfAborted();
    throw error;
  }
  await syncFileAndDir(dst);
  report(100);
}

/**
 * Creates dst empty and private (0600) unless something is there already; true when it did.
 * cp would create it with the source's mode; every later step writes into this file. Where dst
 * cannot be made (no such directory...), cp is left to fail and say why, as it always has.
 */
async function createPrivate(dst: string): Promise<boolean> {
  try {
    await (await open(dst, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, PRIVATE_FILE_MODE)).close();
    return true;
  } catch {
    // EEXIST: an existing file, e.g. an empty one made by `lfs setstripe`, keeps its inode and layout.
    return false;
  }
}

/** True when dst is now a clone of src; false when the file system cannot clone (dst is then left empty). */
async function cloneFile(src: string, dst: string, signal?: AbortSignal): Promise<boolean> {
  try {
    // '--' so that no path, whatever it looks like, is read as an option.
    await run(['cp', '--reflink=always', '--', src, dst], {
      env: C_LOCALE,
      timeoutMs: METADATA_COMMAND_TIMEOUT_MS,
      ...(signal ? { signal } : {}),
    });
    return true;
  } catch (error) {
    if (error instanceof ExecError && error.exitCode === 1 && CLONE_REFUSED.test(error.stderr)) return false;
    throw error;
  }
}

/** The copy of last resort: cp reads the whole source, writing only what is not zeros. */
async function copyWithCp(
  src: string,
  dst: string,
  source: string,
  st: Stats,
  report: (percent: number) => void,
  signal?: AbortSignal,
): Promise<void> {
  // What cp will have to write, at most.
  const total = st.blocks * 512;
  const size = st.size;
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
  await pollWhile(
    run(['cp', '--reflink=auto', '--sparse=always', '--', src, dst], {
      env: C_LOCALE,
      ...(signal ? { signal } : {}),
      onSpawn,
    }),
    sample,
    report,
  );
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
    for (let offset = from; offset < to;) {
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
          await run(['fallocate', '-l', String(sizeBytes), filePath], { timeoutMs: METADATA_COMMAND_TIMEOUT_MS });
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
  if (final.size !== sizeBytes)
    throw new Error(`${filePath} is ${final.size} bytes after growing, expected ${sizeBytes}`);
  await syncFileAndDir(filePath);
}
