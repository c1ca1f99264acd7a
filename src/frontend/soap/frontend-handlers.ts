/**
 * The frontend's operations as EC2 shapes them on the wire: each handler turns the generated request
 * type into a use case call and the record it returns into the generated response type. No rules
 * live here; they are in the use cases and the state table.
 */
import { VbsError } from '../../core/errors.js';
import type { SnapshotRecord, VolumeRecord } from '../../core/records.js';
import type * as Wire from '../../generated/frontend.js';
import type { Handlers } from '../../soap/server.js';
import { createSnapshot } from '../usecases/create-snapshot.js';
import { createVolume } from '../usecases/create-volume.js';
import { deleteSnapshot } from '../usecases/delete-snapshot.js';
import { deleteVolume } from '../usecases/delete-volume.js';
import type { Deps } from '../usecases/deps.js';
import { describeSnapshots, describeVolumes, type VolumeView } from '../usecases/describe.js';
import { parseDescription, parseFilters, parseSizeGiB, parseVolumeType } from './wire-values.js';
import type { AttachmentHandlers } from './attachment-handlers.js';

function volumeItem({ volume: v, attachments }: VolumeView): Wire.DescribeVolumesSetItemResponseType {
  return {
    volumeId: v.id,
    size: String(v.sizeGiB),
    snapshotId: v.snapshotId ?? '',
    availabilityZone: v.zone,
    status: v.status,
    createTime: v.createTime,
    attachmentSet: {
      item: attachments.map((a) => ({
        volumeId: a.volumeId,
        instanceId: a.instanceId,
        device: a.device,
        status: a.status,
        attachTime: a.attachTime,
        deleteOnTermination: false,
        attachMode: a.mode,
        vmmHost: a.vmmHost,
      })),
    },
    volumeType: v.volumeType,
  };
}

function snapshotItem(s: SnapshotRecord): Wire.DescribeSnapshotsSetItemResponseType {
  return {
    snapshotId: s.id,
    volumeId: s.volumeId,
    status: s.status,
    startTime: s.startTime,
    progress: `${s.progress}%`,
    ownerId: s.ownerId,
    volumeSize: String(s.volumeSizeGiB),
    ...(s.description !== null ? { description: s.description } : {}),
  };
}

function createdVolume(requestId: string, v: VolumeRecord): Wire.CreateVolumeResponseType {
  return {
    requestId,
    volumeId: v.id,
    size: String(v.sizeGiB),
    snapshotId: v.snapshotId ?? '',
    availabilityZone: v.zone,
    status: v.status,
    createTime: v.createTime,
    volumeType: v.volumeType,
  };
}

export function frontendHandlers(
  deps: Deps,
  attachments: AttachmentHandlers,
): Handlers<Wire.AmazonEC2PortTypeOperations> {
  return {
    CreateVolume: async (req, { requestId, principal }) => {
      const volume = await createVolume(deps, principal, {
        sizeGiB: parseSizeGiB(req.size, deps.settings.maxVolumeSizeGiB),
        snapshotId: req.snapshotId === undefined || req.snapshotId.trim() === '' ? undefined : req.snapshotId.trim(),
        zone: req.availabilityZone,
        volumeType: parseVolumeType(req.volumeType),
      });
      return createdVolume(requestId, volume);
    },
    DeleteVolume: async (req, { requestId, principal }) => {
      await deleteVolume(deps, principal, req.volumeId);
      return { requestId, return: true };
    },
    DescribeVolumes: async (req, { requestId, principal }) => {
      const ids = (req.volumeSet.item ?? []).map((i) => i.volumeId);
      const views = await describeVolumes(deps, principal, ids, parseFilters(req.filterSet));
      return { requestId, volumeSet: { item: views.map(volumeItem) } };
    },
    CreateSnapshot: async (req, { requestId, principal }) => {
      const s = await createSnapshot(deps, principal, req.volumeId, parseDescription(req.description));
      return { requestId, ...snapshotItem(s) };
    },
    DeleteSnapshot: async (req, { requestId, principal }) => {
      await deleteSnapshot(deps, principal, req.snapshotId);
      return { requestId, return: true };
    },
    DescribeSnapshots: async (req, { requestId, principal }) => {
      // A VBS snapshot is private: only its owner may restore it, so both sets select by owner.
      const owners = [
        ...(req.ownersSet?.item ?? []).map((o) => o.owner),
        ...(req.restorableBySet?.item ?? []).map((r) => r.user),
      ].map((o) => (o === 'self' ? principal.userId : o));
      const ids = (req.snapshotSet.item ?? []).map((i) => i.snapshotId);
      const snapshots = await describeSnapshots(deps, principal, ids, parseFilters(req.filterSet));
      const selected = owners.length ? snapshots.filter((x) => owners.includes(x.ownerId)) : snapshots;
      return { requestId, snapshotSet: { item: selected.map(snapshotItem) } };
    },
    DescribeAvailabilityZones: async (req, { requestId }) => {
      const wanted = (req.availabilityZoneSet.item ?? []).map((z) => z.zoneName);
      const unknown = wanted.find((z) => !deps.settings.zones.includes(z));
      if (unknown !== undefined) throw new VbsError('InvalidParameterValue', `Invalid availability zone: [${unknown}]`);
      const zones = wanted.length ? deps.settings.zones.filter((z) => wanted.includes(z)) : deps.settings.zones;
      return {
        requestId,
        availabilityZoneInfo: {
          item: zones.map((zoneName) => ({
            zoneName,
            zoneState: 'available',
            regionName: deps.settings.region,
            messageSet: {},
          })),
        },
      };
    },
    AttachVolume: attachments.AttachVolume,
    DetachVolume: attachments.DetachVolume,
  };
}
