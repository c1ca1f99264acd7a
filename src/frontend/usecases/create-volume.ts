/**
 * CreateVolume (paper 4.1 (1)): make the ID and the path, record the volume as "creating", hand the
 * file to a Volume Delegate that has room, and return at once; the delegate's report later makes it
 * "available" or "error". The row is written before the delegate is asked, so that a report can never
 * arrive for a volume the frontend does not know; if no delegate takes the job the row is discarded,
 * since no client ever saw it.
 */
import { VbsError } from '../../core/errors.js';
import { newId, requireSnapshotId } from '../../core/ids.js';
import { volumeFilePath } from '../../core/paths.js';
import type { Principal } from '../../core/principal.js';
import type { VolumeRecord, VolumeType } from '../../core/records.js';
import { RESTORABLE_SNAPSHOT_STATUSES } from '../../core/state.js';
import type { Deps } from './deps.js';
import { ownSnapshot } from './ownership.js';

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
    createTime: now.toISOString(),
    updatedAt: now.getTime(),
    statusMessage: null,
  };
  if (!(await deps.store.insertVolume(volume))) {
    throw new VbsError('IncorrectState', `Snapshot '${snapshot?.id ?? ''}' is no longer completed.`);
  }
  try {
    const delegateId = await deps.delegates.createVolumeFile(
      {
        volumeId: id,
        path: volume.path,
        sizeGiB,
        volumeType: volume.volumeType,
        ...(snapshot ? { sourcePath: snapshot.path } : {}),
      },
      (candidate) => deps.store.recordDelegate('volume', id, candidate),
    );
    deps.logger.info('volume creation started', { volumeId: id, delegateId, sizeGiB, volumeType: volume.volumeType });
    return { ...volume, delegateId };
  } catch (error) {
    await deps.store.discardVolume(id);
    throw error;
  }
}
