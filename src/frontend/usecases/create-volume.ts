/**
 * CreateVolume (paper 4.1 (1)): make the IDs (volume and job) and the path, record the volume as
 * "creating", offer the file's job to a Volume Delegate (place-job.ts) and return at once; the
 * delegate's report later makes it "available" or "error". The row is written before any delegate is
 * asked, so that a report can never arrive for a volume the frontend does not know. If every delegate
 * refused, no delegate has the job and no client saw the volume: the row is discarded and the client
 * told why. If one did not answer, it may have the job: the volume stays "creating" and the sweeper
 * asks that delegate again.
 */
import { VbsError } from '../../core/errors.js';
import { newId, requireSnapshotId } from '../../core/ids.js';
import { volumeFilePath } from '../../core/paths.js';
import type { Principal } from '../../core/principal.js';
import type { VolumeRecord, VolumeType } from '../../core/records.js';
import { RESTORABLE_SNAPSHOT_STATUSES } from '../../core/state.js';
import type { Deps } from './deps.js';
import { ownSnapshot } from './ownership.js';
import { placeJob, volumeJob } from './place-job.js';
import { quotaExceeded } from './quota-refusal.js';

export interface CreateVolumeRequest {
  readonly sizeGiB: number | undefined;
  readonly snapshotId: string | undefined;
  readonly zone: string;
  readonly volumeType: VolumeType | undefined;
}

export async function createVolume(deps: Deps, principal: Principal, req: CreateVolumeRequest): Promise<VolumeRecord> {
  if (!deps.settings.zones.includes(req.zone)) {
    throw new VbsError('InvalidZone.NotFound', `The zone '${req.zone}' does not exist.`);
  }
  const snapshot =
    req.snapshotId === undefined ? undefined : await ownSnapshot(deps, principal, requireSnapshotId(req.snapshotId));
  if (snapshot && !RESTORABLE_SNAPSHOT_STATUSES.includes(snapshot.status)) {
    throw new VbsError(
      'IncorrectState',
      `Snapshot '${snapshot.id}' is ${snapshot.status}; a volume can be made only from a completed snapshot.`,
    );
  }
  const sizeGiB = req.sizeGiB ?? snapshot?.volumeSizeGiB;
  if (sizeGiB === undefined)
    throw new VbsError('MissingParameter', 'The request must contain the parameter size or snapshotId.');
  if (snapshot && sizeGiB < snapshot.volumeSizeGiB) {
    throw new VbsError(
      'InvalidParameterValue',
      `The volume size ${sizeGiB} GiB is smaller than snapshot '${snapshot.id}' (${snapshot.volumeSizeGiB} GiB).`,
    );
  }
  const id = newId('vol');
  const now = deps.now();
  const volume: VolumeRecord = {
    id,
    ownerId: principal.userId,
    sizeGiB,
    snapshotId: snapshot?.id ?? null,
    zone: req.zone,
    status: 'creating',
    volumeType: req.volumeType ?? deps.settings.defaultVolumeType,
    path: volumeFilePath(id),
    delegateId: null,
    jobId: newId('job'),
    jobState: 'offering',
    createTime: now.toISOString(),
    updatedAt: now.getTime(),
    statusMessage: null,
  };
  const admission = await deps.store.insertVolume(volume, deps.settings.quotas);
  if (!admission.admitted) {
    if (admission.reason === 'quota') throw quotaExceeded(admission, volume.ownerId, sizeGiB);
    throw new VbsError('IncorrectState', `Snapshot '${snapshot?.id ?? ''}' is no longer completed.`);
  }
  const placed = await placeJob(deps, volumeJob(volume));
  if (placed.outcome === 'refused') {
    await deps.store.discardVolume(id);
    throw placed.error;
  }
  const log = { volumeId: id, jobId: volume.jobId, sizeGiB, volumeType: volume.volumeType };
  if (placed.outcome === 'gone') return (await deps.store.getVolume(id)) ?? volume;
  deps.logger.info('volume creation started', { ...log, delegateId: placed.delegateId, placement: placed.outcome });
  return {
    ...volume,
    delegateId: placed.delegateId,
    jobState: placed.outcome === 'accepted' ? 'accepted' : 'offering',
  };
}
