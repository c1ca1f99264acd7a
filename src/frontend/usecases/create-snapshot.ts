/**
 * CreateSnapshot (paper 4.1 (2)): record the snapshot as "pending" (only while its volume may be
 * snapshotted, checked in the same statement), with its job's ID, and offer the copy of the volume
 * file to a Volume Delegate as CreateVolume does (place-job.ts); the delegate reports progress as it
 * copies and the end.
 */
import { VbsError } from '../../core/errors.js';
import { newId, requireVolumeId } from '../../core/ids.js';
import { snapshotFilePath } from '../../core/paths.js';
import type { Principal } from '../../core/principal.js';
import type { SnapshotRecord } from '../../core/records.js';
import type { Deps } from './deps.js';
import { ownVolume } from './ownership.js';
import { placeJob, snapshotJob } from './place-job.js';
import { quotaExceeded } from './quota-refusal.js';

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
    jobId: newId('job'),
    jobState: 'offering',
    updatedAt: now.getTime(),
    statusMessage: null,
  };
  const admission = await deps.store.insertSnapshot(snapshot, deps.settings.quotas);
  if (!admission.admitted) {
    if (admission.reason === 'quota') throw quotaExceeded(admission, snapshot.ownerId, 0);
    const current = await deps.store.getVolume(volume.id);
    throw new VbsError(
      'IncorrectState',
      `Volume '${volume.id}' is ${current?.status ?? 'gone'}; it cannot be snapshotted now.`,
    );
  }
  const placed = await placeJob(deps, snapshotJob(snapshot, volume.path));
  if (placed.outcome === 'refused') {
    await deps.store.discardSnapshot(id);
    throw placed.error;
  }
  if (placed.outcome === 'gone') return (await deps.store.getSnapshot(id)) ?? snapshot;
  deps.logger.info('snapshot started', {
    snapshotId: id,
    volumeId: volume.id,
    jobId: snapshot.jobId,
    delegateId: placed.delegateId,
    placement: placed.outcome,
  });
  return {
    ...snapshot,
    delegateId: placed.delegateId,
    jobState: placed.outcome === 'accepted' ? 'accepted' : 'offering',
  };
}
