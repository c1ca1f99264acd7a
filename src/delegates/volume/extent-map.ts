/*
 * Where a volume file's data really is, so that a snapshot costs the data
 * written and not the volume's size. GNU cp 9.1 looks for holes only when
 * st_blocks looks sparse, so on a thick (fallocated) volume it reads every
 * unwritten extent as zeros: seconds per GiB for nothing. FIEMAP (ext4, XFS,
 * btrfs, Lustre) tells written extents from unwritten ones and from holes;
 * Node has no ioctl, so we ask `filefrag -s -v` (e2fsprogs, installed
 * everywhere). -s syncs first: data still in the page cache over an
 * unwritten extent would otherwise be mapped as unwritten, and skipped.
 *
 * The parser is strict on purpose. Skipping a range wrongly loses guest data;
 * copying too much only costs time. So any output it does not fully
 * recognise (an older or Lustre-patched filefrag, FIBMAP output, a size that
 * changed, a map that does not account for the blocks the file holds) gives
 * no map, and the caller copies the whole file instead.
 */
import { ExecError, run } from '../exec.js';
import { METADATA_COMMAND_TIMEOUT_MS } from './command-deadlines.js';

/** Bytes [start, end) of a file. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

export interface ExtentMap {
  readonly blockSize: number;
  readonly sizeBytes: number;
  /** Ranges that may hold data, block-aligned, sorted, merged, within the file's size. */
  readonly data: readonly ByteRange[];
  /** All extents, unwritten ones and those past the end included: what the file has allocated. */
  readonly mappedBytes: number;
}

export class ExtentMapFormatError extends Error {
  override readonly name = 'ExtentMapFormatError';
}

// Where `filefrag` may live when the delegate's PATH lacks the sbin directories (non-root on Debian).
const FILEFRAG_PROGRAMS = ['filefrag', '/usr/sbin/filefrag', '/sbin/filefrag'] as const;

const FS_TYPE = /^Filesystem type is: [0-9a-f]+$/;
const CYLINDER_GROUPS = /^Filesystem cylinder groups (?:is )?approximately \d+$/;
const FILE_SIZE = /^File size of (.*) is (\d+) \((\d+) blocks? of (\d+) bytes\)$/;
// "logical_offset" (not Lustre's "device_logical"): offsets are in the file, not in one OST object.
const HEADER = /^ ext:\s+logical_offset:\s+physical_offset:\s+length:\s+expected:\s+flags:$/;
// "%4d: %*llu..%*llu: %*llu..%*llu: %6llu: " then an optional "expected: " and the flags.
const EXTENT = /^\s*(\d+):\s*(\d+)\.\.\s*(\d+):\s*(\d+)\.\.\s*(\d+):\s*(\d+):(.*)$/;
const EXTENT_TAIL = /^\s*(?:\d+:)?\s*([^\s]*)\s*$/;
const FLAG = /^(?:[a-z_]+|0x[0-9a-f]+)$/;
const TRAILER = /^(.*): (\d+) extents? found(?:, perfection would be \d+ extents?)?$/;
/** Extents whose offsets filefrag rounds down to blocks: widened by a block so no byte is missed. */
const UNALIGNED_FLAGS = ['not_aligned', 'tail_packed', 'inline'];

function fail(why: string): never {
  throw new ExtentMapFormatError(`unrecognised filefrag output: ${why}`);
}

function toSafe(digits: string, what: string): number {
  const value = Number(digits);
  if (!Number.isSafeInteger(value)) fail(`${what} ${digits} is out of range`);
  return value;
}

function mergeSorted(ranges: ByteRange[]): ByteRange[] {
  ranges.sort((a, b) => a.start - b.start);
  const merged: ByteRange[] = [];
  for (const r of ranges) {
    const last = merged[merged.length - 1];
    if (last !== undefined && r.start <= last.end)
      merged[merged.length - 1] = { start: last.start, end: Math.max(last.end, r.end) };
    else merged.push(r);
  }
  return merged;
}

/**
 * Reads the output of `filefrag -v [-s] -- file` (e2fsprogs 1.43 and later) for a file of
 * sizeBytes bytes. Throws ExtentMapFormatError on anything it does not recognise.
 */
export function parseFilefrag(stdout: string, file: string, sizeBytes: number): ExtentMap {
  const lines = stdout.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  let i = 0;
  while (i < lines.length && (FS_TYPE.test(lines[i] ?? '') || CYLINDER_GROUPS.test(lines[i] ?? ''))) i++;

  const size = FILE_SIZE.exec(lines[i++] ?? '');
  if (size === null) fail('no "File size of ... (N blocks of B bytes)" line');
  if (size[1] !== file) fail(`it is about ${JSON.stringify(size[1])}, not ${JSON.stringify(file)}`);
  if (toSafe(size[2] ?? '', 'size') !== sizeBytes)
    fail(`size ${size[2] ?? ''} is not the ${sizeBytes} bytes the file has`);
  const blockSize = toSafe(size[4] ?? '', 'block size');
  if (blockSize < 1 || (blockSize & (blockSize - 1)) !== 0) fail(`block size ${blockSize} is not a power of two`);

  const extentLines: string[] = [];
  if (HEADER.test(lines[i] ?? '')) {
    i++;
    while (i < lines.length - 1) extentLines.push(lines[i++] ?? '');
  }
  const trailer = TRAILER.exec(lines[i++] ?? '');
  if (trailer === null || i !== lines.length) fail('no "N extents found" line where expected');
  if (trailer[1] !== file) fail(`its last line is about ${JSON.stringify(trailer[1])}`);
  // filefrag counts fragments, not extents, but it counts at least one when it printed any.
  if ((toSafe(trailer[2] ?? '', 'extent count') === 0) !== (extentLines.length === 0)) {
    fail(`${trailer[2] ?? ''} extents found but ${extentLines.length} listed (FIBMAP output?)`);
  }

  const data: ByteRange[] = [];
  let mappedBytes = 0;
  let previousStart = -1;
  extentLines.forEach((line, index) => {
    const m = EXTENT.exec(line);
    const tail = EXTENT_TAIL.exec(m?.[7] ?? '');
    if (m === null || tail === null) fail(`extent line ${JSON.stringify(line)}`);
    if (toSafe(m[1] ?? '', 'extent number') !== index) fail(`extent ${m[1] ?? ''} out of order`);
    const first = toSafe(m[2] ?? '', 'logical offset');
    const last = toSafe(m[3] ?? '', 'logical offset');
    if (last < first || first < previousStart) fail(`extent ${index} has logical range ${first}..${last}`);
    previousStart = first;
    const flags = (tail[1] ?? '').split(',').filter((f) => f !== '');
    if (!flags.every((f) => FLAG.test(f))) fail(`extent ${index} has flags ${JSON.stringify(tail[1])}`);
    // Inline data is printed in bytes, everything else in blocks.
    const unit = flags.includes('inline') ? 1 : blockSize;
    let start = first * unit;
    let end = (last + 1) * unit;
    if (flags.some((f) => UNALIGNED_FLAGS.includes(f))) {
      start = Math.floor(start / blockSize) * blockSize;
      end = (Math.ceil(end / blockSize) + 1) * blockSize;
    }
    if (!Number.isSafeInteger(end)) fail(`extent ${index} ends past 2^53`);
    mappedBytes += end - start;
    // Unwritten (preallocated) extents read as zeros: there is nothing to copy. Everything else,
    // delalloc and unknown_loc included, may hold data.
    if (flags.includes('unwritten') || start >= sizeBytes) return;
    data.push({ start, end: Math.min(end, sizeBytes) });
  });
  return { blockSize, sizeBytes, data: mergeSorted(data), mappedBytes };
}

/**
 * True when the map explains the blocks the file holds (st_blocks * 512). Extent-tree, indirect
 * and xattr blocks count in st_blocks but are no extents: a 1 MiB + 1/64 allowance covers them.
 */
export function accountsFor(map: ExtentMap, allocatedBytes: number): boolean {
  return allocatedBytes <= map.mappedBytes + 1024 * 1024 + allocatedBytes / 64;
}

function isMissingProgram(error: unknown): boolean {
  if (!(error instanceof ExecError) || error.exitCode !== undefined) return false;
  const cause: unknown = error.cause;
  return typeof cause === 'object' && cause !== null && 'code' in cause && cause.code === 'ENOENT';
}

/**
 * The extent map of `file` (an absolute path) from filefrag, or a reason why there is none
 * (no filefrag, FIEMAP unsupported as on tmpfs or NFS, output not recognised). Throws only
 * when signal is aborted.
 */
export async function readExtentMap(
  file: string,
  sizeBytes: number,
  allocatedBytes: number,
  signal?: AbortSignal,
): Promise<{ map: ExtentMap } | { reason: string }> {
  // The name is echoed in the output, which is read line by line.
  if (/[\n\r]/.test(file)) return { reason: 'the file name contains a line break' };
  let lastError: unknown;
  for (const program of FILEFRAG_PROGRAMS) {
    let stdout: string;
    try {
      ({ stdout } = await run([program, '-s', '-v', '--', file], {
        env: { LC_ALL: 'C' },
        timeoutMs: METADATA_COMMAND_TIMEOUT_MS,
        ...(signal ? { signal } : {}),
      }));
    } catch (error) {
      signal?.throwIfAborted();
      lastError = error;
      if (isMissingProgram(error)) continue;
      return { reason: error instanceof Error ? error.message : String(error) };
    }
    try {
      const map = parseFilefrag(stdout, file, sizeBytes);
      if (!accountsFor(map, allocatedBytes)) {
        return { reason: `filefrag maps ${map.mappedBytes} bytes but the file holds ${allocatedBytes}` };
      }
      return { map };
    } catch (error) {
      if (error instanceof ExtentMapFormatError) return { reason: error.message };
      throw error;
    }
  }
  return { reason: lastError instanceof Error ? lastError.message : 'filefrag not found' };
}
