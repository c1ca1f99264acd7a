/**
 * CreateSnapshot (paper 4.1 (2)): record the snapshot as "pending" (only while its volume may be
 * snapshotted, checked in the same statement), and have a Volume Delegate copy the volume file; the
 * delegate reports progress as it copies and the end.
 */
import { VbsError } from '../../core/errors.js';
import { newId, requireVolumeId } from '../../core/ids.js';
import { snapshotFilePath } from '../../core/paths.js';
import type { Principal } from '../../core/principal.js';
import type { SnapshotRecord } from '../../core/records.js';
import type { Deps } from './deps.js';
import { ownVolume } from './ownership.js';

export async function createSnapshot(
  deps: Deps,
  principal: Principal,
  volumeId: string,
  description: string | undefined,
): Promise<SnapshotRecord> {
  const volume = await ownVolume(deps, principal, requireVolumeId(volumeId));
  const id = newId('snap');
  const now = deps.now();
  const snapshot: SnapshotRecord = {
    id,
    ownerId: volume.ownerId,
    volumeId: volume.id,
    volumeSizeGiB: volume.sizeGiB,
    status: 'pending',
    progress: 0,
    startTime: now.toISOString(),
    description: description ?? null,
    path: snapshotFilePath(id),
    delegateId: null,
    updatedAt: now.getTime(),
    statusMessage: null,
  };
  if (!(await deps.store.insertSnapshot(snapshot))) {
    const current = await deps.store.getVolume(volume.id);
    throw new VbsError(
      'IncorrectState',
      `Volume '${volume.id}' is ${current?.status ?? 'gone'}; it cannot be snapshotted now.`,
    );
  }
  try {
    const delegateId = await deps.delegates.createSnapshotFile(
      { snapshotId: id, sourcePath: volume.path, path: snapshot.path },
      (candidate) => deps.store.recordDelegate('snapshot', id, candidate),
    );
    deps.logger.info('snapshot started', { snapshotId: id, volumeId: volume.id, delegateId });
    return { ...snapshot, delegateId };
  } catch (error) {
    await deps.store.discardSnapshot(id);
    throw error;
  }
}
