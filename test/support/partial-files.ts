/** The partial file a Volume Delegate's job is writing for a resource (src/delegates/volume/job-files.ts). */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Its path in `dir` (a storage root's volumes/ or snapshots/), or undefined while there is none. */
export function partialFileOf(dir: string, resourceId: string): string | undefined {
  const name = readdirSync(dir).find((f) => f.startsWith(`${resourceId}.`) && f.endsWith('.part'));
  return name === undefined ? undefined : join(dir, name);
}

/** Its size, 0 while there is none. */
export function partialSizeOf(dir: string, resourceId: string): number {
  const path = partialFileOf(dir, resourceId);
  return path === undefined ? 0 : (statSync(path, { throwIfNoEntry: false })?.size ?? 0);
}
