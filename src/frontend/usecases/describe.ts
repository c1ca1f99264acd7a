/**
 * DescribeVolumes and DescribeSnapshots: the caller's resources (all of them for an admin), by ID
 * list and by filters. An ID that does not exist for the caller is an error, as in EC2, rather than
 * an empty answer, so that a client can tell "gone" from "filtered out".
 */
import { requireSnapshotId, requireVolumeId } from '../../core/ids.js';
import type { Principal } from '../../core/principal.js';
import type { AttachmentRecord, SnapshotRecord, VolumeRecord } from '../../core/records.js';
import type { Deps } from './deps.js';
import { compileFilters, type Filter, type FilterFields } from './filters.js';
import { ownerScope, snapshotNotFound, volumeNotFound } from './ownership.js';

export interface VolumeView {
  readonly volume: VolumeRecord;
  readonly attachments: readonly AttachmentRecord[];
}

const VOLUME_FIELDS: FilterFields<VolumeView> = {
  'volume-id': (v) => [v.volume.id],
  status: (v) => [v.volume.status],
  size: (v) => [String(v.volume.sizeGiB)],
  'snapshot-id': (v) => [v.volume.snapshotId ?? ''],
  'availability-zone': (v) => [v.volume.zone],
  'create-time': (v) => [v.volume.createTime],
  'volume-type': (v) => [v.volume.volumeType],
  'attachment.instance-id': (v) => v.attachments.map((a) => a.instanceId),
  'attachment.device': (v) => v.attachments.map((a) => a.device),
  'attachment.status': (v) => v.attachments.map((a) => a.status),
  'attachment.attach-time': (v) => v.attachments.map((a) => a.attachTime),
  'attachment.attach-mode': (v) => v.attachments.map((a) => a.mode),
  'attachment.delete-on-termination': (v) => v.attachments.map(() => 'false'),
};

const SNAPSHOT_FIELDS: FilterFields<SnapshotRecord> = {
  'snapshot-id': (s) => [s.id],
  'volume-id': (s) => [s.volumeId],
  status: (s) => [s.status],
  progress: (s) => [`${s.progress}%`],
  'start-time': (s) => [s.startTime],
  'volume-size': (s) => [String(s.volumeSizeGiB)],
  'owner-id': (s) => [s.ownerId],
  description: (s) => [s.description ?? ''],
};

export async function describeVolumes(
  deps: Deps,
  principal: Principal,
  ids: readonly string[],
  filters: readonly Filter[],
): Promise<VolumeView[]> {
  const matches = compileFilters(VOLUME_FIELDS, filters);
  ids.forEach(requireVolumeId);
  const volumes = await deps.store.findVolumes({ ownerId: ownerScope(principal), ...(ids.length ? { ids } : {}) });
  const missing = ids.find((id) => !volumes.some((v) => v.id === id));
  if (missing !== undefined) throw volumeNotFound(missing);
  const attachments = await deps.store.attachmentsOf(volumes.map((v) => v.id));
  return volumes
    .map((volume) => ({ volume, attachments: attachments.filter((a) => a.volumeId === volume.id) }))
    .filter(matches);
}

export async function describeSnapshots(
  deps: Deps,
  principal: Principal,
  ids: readonly string[],
  filters: readonly Filter[],
): Promise<SnapshotRecord[]> {
  const matches = compileFilters(SNAPSHOT_FIELDS, filters);
  ids.forEach(requireSnapshotId);
  const snapshots = await deps.store.findSnapshots({ ownerId: ownerScope(principal), ...(ids.length ? { ids } : {}) });
  const missing = ids.find((id) => !snapshots.some((s) => s.id === id));
  if (missing !== undefined) throw snapshotNotFound(missing);
  return snapshots.filter(matches);
}
