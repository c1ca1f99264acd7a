/**
 * The files of a job, and how a finished one becomes the resource's file. A job writes only a
 * partial file of its own (its name holds the resource, the job and this delegate), and publishes it
 * with link(2), which never replaces a file that exists: the resource's file is written once, by
 * whichever attempt of its job finishes first, and no later or stale attempt (another delegate, a
 * restart) can overwrite it, nor can a failing one remove it; each removes only its own partial file.
 * Deleting a resource removes its file and every partial file of its jobs, and nothing else: the
 * paths are made from the resource ID (src/core/paths.ts), never taken from a request.
 */
import { link, readdir, rm, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { resourceFilePath } from '../../core/paths.js';
import { syncFileAndDir } from './provision.js';
import { resolveInRoot } from './storage-root.js';

const PARTIAL = '.part';

/** The partial file of `jobId` for `resourceId` on this delegate, relative to the storage root. */
export function partialFilePath(resourceId: string, jobId: string, delegateId: string): string {
  const final = resourceFilePath(resourceId);
  return join(dirname(final), `${resourceId}.${jobId}.${delegateId}${PARTIAL}`);
}

/** 'made': the partial file is now the resource's file; 'exists': another attempt made it first. */
export async function publish(root: string, resourceId: string, partial: string): Promise<'made' | 'exists'> {
  const from = resolveInRoot(root, partial);
  const to = resolveInRoot(root, resourceFilePath(resourceId));
  let outcome: 'made' | 'exists' = 'made';
  try {
    await link(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    outcome = 'exists';
  }
  await unlink(from);
  await syncFileAndDir(to);
  return outcome;
}

/** Whether the resource's file exists (a job that was published before a crash). */
export async function isPublished(root: string, resourceId: string): Promise<boolean> {
  return stat(resolveInRoot(root, resourceFilePath(resourceId))).then(
    () => true,
    () => false,
  );
}

/** Removes the resource's file and every partial file of its jobs; true when its file existed. */
export async function removeResourceFiles(root: string, resourceId: string): Promise<boolean> {
  const final = resolveInRoot(root, resourceFilePath(resourceId));
  const existed = await isPublished(root, resourceId);
  await rm(final, { force: true });
  const dir = dirname(final);
  const prefix = `${resourceId}.`;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (name.startsWith(prefix) && name.endsWith(PARTIAL) && name !== basename(final)) {
      await rm(join(dir, name), { force: true });
    }
  }
  return existed;
}
