/*
 * Copies only the ranges of a volume file that hold data (see extent-map.ts),
 * so that a snapshot of a thick or sparse volume takes time in proportion to
 * what the guest wrote, not to the volume's size. The destination is made
 * sparse at the source's size first: every range not copied reads as zeros,
 * as the unwritten extents and holes it stands for did. Reads and writes are
 * positional, 4 MiB at a time, and overlap (the next chunk is read while the
 * last one is written). A chunk that reads as all zeros is left a hole too.
 */
import { constants as fsc } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { PRIVATE_FILE_MODE } from '../../private-files.js';
import { readExtentMap, type ByteRange } from './extent-map.js';

const CHUNK = 4 * 1024 * 1024;
let zeroChunk: Buffer | undefined;

function isZero(buffer: Buffer, length: number): boolean {
  zeroChunk ??= Buffer.alloc(CHUNK);
  return buffer.subarray(0, length).equals(zeroChunk.subarray(0, length));
}

async function readFully(
  file: FileHandle,
  buffer: Buffer,
  length: number,
  position: number,
  name: string,
): Promise<void> {
  for (let done = 0; done < length;) {
    const { bytesRead } = await file.read(buffer, done, length - done, position + done);
    if (bytesRead === 0)
      throw new Error(`${name} ended at byte ${position + done} while being copied: it changed during the copy`);
    done += bytesRead;
  }
}

async function writeFully(file: FileHandle, buffer: Buffer, length: number, position: number): Promise<void> {
  for (let done = 0; done < length;) {
    const { bytesWritten } = await file.write(buffer, done, length - done, position + done);
    done += bytesWritten;
  }
}

/** Copies `ranges` from source to target; onBytes(copied, total) after each chunk. */
export async function copyRanges(
  source: FileHandle,
  target: FileHandle,
  ranges: readonly ByteRange[],
  onBytes: (copied: number, total: number) => void,
  sourceName: string,
  signal?: AbortSignal,
): Promise<void> {
  const total = ranges.reduce((sum, r) => sum + (r.end - r.start), 0);
  const buffers = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)] as const;
  let pending: Promise<void> = Promise.resolve();
  let copied = 0;
  let turn = 0;
  try {
    for (const range of ranges) {
      for (let offset = range.start; offset < range.end;) {
        signal?.throwIfAborted();
        const length = Math.min(CHUNK, range.end - offset);
        // The other buffer may still be being written; this one's write was awaited last turn.
        const buffer = buffers[turn++ % 2] ?? buffers[0];
        await readFully(source, buffer, length, offset, sourceName);
        await pending;
        if (!isZero(buffer, length)) {
          pending = writeFully(target, buffer, length, offset);
          // Awaited next turn or in finally; this only keeps a failure meanwhile from being "unhandled".
          pending.catch(() => undefined);
        }
        offset += length;
        copied += length;
        onBytes(copied, total);
      }
    }
    await pending;
  } finally {
    // Never close the target under a write still in flight.
    await pending.catch(() => undefined);
  }
}

export interface ExtentCopyOptions {
  /** Percent of the data copied; the caller keeps 100 for after its fsync. */
  report: (percent: number) => void;
  signal?: AbortSignal;
}

/**
 * Copies src to dst through src's extent map. Returns false, having written nothing, when
 * there is no usable map (no filefrag, no FIEMAP, unrecognised output): the caller then copies
 * some other way. dst is created (0600, never through a symlink) or, when it exists, truncated
 * in place: an empty file made by `lfs setstripe` carries the Lustre layout and must stay.
 */
export async function copyWrittenExtents(src: string, dst: string, options: ExtentCopyOptions): Promise<boolean> {
  const { report, signal } = options;
  const source = await open(src, fsc.O_RDONLY);
  try {
    const st = await source.stat();
    if (!st.isFile()) return false;
    // Makes page-cache data durable and mapped as written, whether or not the file system
    // honours FIEMAP_FLAG_SYNC (filefrag -s) fully; cheap when nothing is dirty. Where it
    // cannot, the map could miss that data: copy everything instead.
    if (
      !(await source.datasync().then(
        () => true,
        () => false,
      ))
    )
      return false;
    const allocated = (await source.stat()).blocks * 512;
    const found = await readExtentMap(src, st.size, allocated, signal);
    if (!('map' in found)) return false;
    signal?.throwIfAborted();

    const target = await open(dst, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_NOFOLLOW, PRIVATE_FILE_MODE);
    try {
      const dt = await target.stat();
      if (!dt.isFile()) throw new Error(`${dst} is not a regular file`);
      if (dt.dev === st.dev && dt.ino === st.ino) throw new Error(`${src} and ${dst} are the same file`);
      // To 0 first: whatever dst held must not show through the ranges left as holes.
      await target.truncate(0);
      await target.truncate(st.size);
      await copyRanges(source, target, found.map.data, (copied, total) => report((copied * 100) / total), src, signal);
    } finally {
      await target.close();
    }
    return true;
  } finally {
    await source.close();
  }
}
