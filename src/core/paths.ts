/**
 * File paths of volumes and snapshots, relative to a Volume Delegate's storage root. They are built
 * only from IDs the server made (checked again here), never from client text, and the delegate
 * resolves them inside its root (src/delegates/volume/storage-root.ts) before touching anything.
 */
import { isId } from './ids.js';

export function volumeFilePath(volumeId: string): string {
  if (!isId('vol', volumeId)) throw new Error(`not a volume ID: ${volumeId}`);
  return `volumes/${volumeId}.img`;
}

export function snapshotFilePath(snapshotId: string): string {
  if (!isId('snap', snapshotId)) throw new Error(`not a snapshot ID: ${snapshotId}`);
  return `snapshots/${snapshotId}.img`;
}

/** The one file a volume or snapshot ID may name: what a delegate may create or delete for it. */
export function resourceFilePath(resourceId: string): string {
  return isId('vol', resourceId) ? volumeFilePath(resourceId) : snapshotFilePath(resourceId);
}
