/** Metadata records as the frontend writes them, for tests of the store and of the use cases. */
import { newId } from '../../src/core/ids.js';
import { snapshotFilePath, volumeFilePath } from '../../src/core/paths.js';
import type { SnapshotRecord, VolumeRecord } from '../../src/core/records.js';

/** A new 1 GiB sparse volume of alice's, available unless `over` says otherwise. */
export function volumeRecord(over: Partial<VolumeRecord> = {}): VolumeRecord {
  const id = over.id ?? newId('vol');
  return {
    id,
    ownerId: 'alice',
    sizeGiB: 1,
    snapshotId: null,
    zone: 'z',
    status: 'available',
    volumeType: 'sparse',
    path: volumeFilePath(id),
    delegateId: null,
    jobId: newId('job'),
    jobState: 'accepted',
    createTime: new Date().toISOString(),
    updatedAt: Date.now(),
    statusMessage: null,
    ...over,
  };
}

/** A new snapshot of `volumeId`, pending unless `over` says otherwise. */
export function snapshotRecord(volumeId: string, over: Partial<SnapshotRecord> = {}): SnapshotRecord {
  const id = over.id ?? newId('snap');
  return {
    id,
    ownerId: 'alice',
    volumeId,
    volumeSizeGiB: 1,
    status: 'pending',
    progress: 0,
    startTime: new Date().toISOString(),
    description: null,
    path: snapshotFilePath(id),
    delegateId: null,
    jobId: newId('job'),
    jobState: 'accepted',
    updatedAt: Date.now(),
    statusMessage: null,
    ...over,
  };
}
