/*
 * Lustre support for the Volume Delegate. On Lustre a file's striping is
 * fixed when its first data is written, so a volume file is created empty
 * with `lfs setstripe` and only then filled; and free space must be asked of
 * the OSTs with `lfs df`, because statfs on a client can lag or include space
 * on the MDT that volume data can never use. Everything goes through the
 * `lfs` tool, so it can be exercised here with a faithful fake.
 */
import { chmod, statfs } from 'node:fs/promises';
import { PRIVATE_FILE_MODE } from '../../private-files.js';
import { run } from '../exec.js';
import { METADATA_COMMAND_TIMEOUT_MS } from './command-deadlines.js';

/** f_type of a Lustre client mount (LL_SUPER_MAGIC in lustre_user.h). */
export const LUSTRE_SUPER_MAGIC = 0x0bd00bd0;

export interface StripeLayout {
  stripeSizeBytes: number;
  stripeCount: number;
}

/** The paper's layout: 4 MiB stripes over 2 OSTs. */
export const DEFAULT_LAYOUT: Readonly<StripeLayout> = Object.freeze({
  stripeSizeBytes: 4 * 1024 * 1024,
  stripeCount: 2,
});

// lfs refuses stripe sizes that are not a multiple of LOV_MIN_STRIPE_SIZE (64 KiB), or of 4 GiB and more.
const MIN_STRIPE = 64 * 1024;
const MAX_STRIPE = 4 * 1024 * 1024 * 1024;
const MAX_STRIPE_COUNT = 2000; // LOV_MAX_STRIPE_COUNT

export async function isLustre(path: string): Promise<boolean> {
  return (await statfs(path)).type === LUSTRE_SUPER_MAGIC;
}

export function checkLayout(layout: StripeLayout): void {
  const { stripeSizeBytes: size, stripeCount: count } = layout;
  if (!Number.isSafeInteger(size) || size <= 0 || size % MIN_STRIPE !== 0 || size >= MAX_STRIPE) {
    throw new RangeError(`invalid stripe size ${String(size)}: must be a positive multiple of 64 KiB below 4 GiB`);
  }
  // -1 means every OST; 0 would silently mean the file system default, which is not a layout.
  if (!Number.isSafeInteger(count) || count === 0 || count < -1 || count > MAX_STRIPE_COUNT) {
    throw new RangeError(`invalid stripe count ${String(count)}: must be -1 or 1..${MAX_STRIPE_COUNT}`);
  }
}

/** Creates `path` empty and 0600, with the given layout. Fails if the file already has one. */
export async function setStripe(path: string, layout: StripeLayout): Promise<void> {
  checkLayout(layout);
  await run(['lfs', 'setstripe', '-S', String(layout.stripeSizeBytes), '-c', String(layout.stripeCount), path], {
    timeoutMs: METADATA_COMMAND_TIMEOUT_MS,
  });
  // lfs makes it 0644 (less the umask); whoever fills it next keeps the mode it finds.
  await chmod(path, PRIVATE_FILE_MODE);
}

/**
 * Reads the filesystem_summary line of `lfs df` (1K-blocks, the default
 * units). That line sums the OSTs only, which is where volume data lives.
 */
export function parseLfsDfSummary(stdout: string): { totalBytes: number; freeBytes: number } {
  const line = stdout.split('\n').find((l) => l.trimStart().startsWith('filesystem_summary:'));
  if (line === undefined) {
    throw new Error(
      `lfs df printed no filesystem_summary line (is the path on a Lustre mount?); output was: ${JSON.stringify(stdout.slice(0, 500))}`,
    );
  }
  const [, total, , available] = line.trim().split(/\s+/);
  if (total === undefined || available === undefined || !/^\d+$/.test(total) || !/^\d+$/.test(available)) {
    throw new Error(`cannot read 1K-block counts from lfs df summary line ${JSON.stringify(line)}`);
  }
  const totalBytes = Number(total) * 1024;
  const freeBytes = Number(available) * 1024;
  if (!Number.isSafeInteger(totalBytes) || !Number.isSafeInteger(freeBytes)) {
    throw new Error(`lfs df summary numbers are out of range: ${JSON.stringify(line)}`);
  }
  return { totalBytes, freeBytes };
}

export async function lustreFreeBytes(root: string): Promise<{ totalBytes: number; freeBytes: number }> {
  const { stdout } = await run(['lfs', 'df', root], { timeoutMs: METADATA_COMMAND_TIMEOUT_MS });
  return parseLfsDfSummary(stdout);
}
