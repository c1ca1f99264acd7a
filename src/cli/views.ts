/**
 * How each kind of resource looks as a table row: the columns for volumes, snapshots, attachments and
 * zones, built on the generated response types so that a change of the contract shows up here at
 * compile time.
 */
import type * as Wire from '../generated/frontend.js';
import { renderTable, type Column } from './table.js';

/** A volume as CreateVolume or DescribeVolumes gives it (CreateVolume has no attachments yet). */
export type VolumeLike = Omit<Wire.DescribeVolumesSetItemResponseType, 'attachmentSet'> & {
  readonly attachmentSet?: Wire.AttachmentSetResponseType;
};

/** A snapshot as CreateSnapshot or DescribeSnapshots gives it. */
export type SnapshotLike = Wire.DescribeSnapshotsSetItemResponseType;

export type AttachmentLike = Wire.AttachVolumeResponseType | Wire.DetachVolumeResponseType;

/** ISO times without milliseconds, which only widen the column. */
export function shortTime(iso: string): string {
  return iso.replace(/\.\d+(?=Z|[+-]\d\d:?\d\d$)/, '');
}

function attachmentText(a: Wire.AttachmentSetItemResponseType): string {
  const mode = a.attachMode ? `,${a.attachMode}` : '';
  return `${a.instanceId}:${a.device}(${a.status}${mode})`;
}

const VOLUME_COLUMNS: readonly Column<VolumeLike>[] = [
  { header: 'VOLUME ID', cell: (v) => v.volumeId },
  { header: 'SIZE', cell: (v) => `${v.size} GiB` },
  { header: 'STATUS', cell: (v) => v.status },
  { header: 'TYPE', cell: (v) => v.volumeType ?? '' },
  { header: 'ZONE', cell: (v) => v.availabilityZone },
  { header: 'SNAPSHOT', cell: (v) => v.snapshotId },
  { header: 'CREATED', cell: (v) => shortTime(v.createTime) },
  { header: 'ATTACHMENTS', cell: (v) => (v.attachmentSet?.item ?? []).map(attachmentText).join(' ') },
];

const SNAPSHOT_COLUMNS: readonly Column<SnapshotLike>[] = [
  { header: 'SNAPSHOT ID', cell: (s) => s.snapshotId },
  { header: 'VOLUME ID', cell: (s) => s.volumeId },
  { header: 'SIZE', cell: (s) => `${s.volumeSize} GiB` },
  { header: 'STATUS', cell: (s) => s.status },
  { header: 'PROGRESS', cell: (s) => s.progress },
  { header: 'STARTED', cell: (s) => shortTime(s.startTime) },
  { header: 'OWNER', cell: (s) => s.ownerId },
  { header: 'DESCRIPTION', cell: (s) => s.description ?? '' },
];

const ATTACHMENT_COLUMNS: readonly Column<AttachmentLike>[] = [
  { header: 'VOLUME ID', cell: (a) => a.volumeId },
  { header: 'INSTANCE', cell: (a) => a.instanceId },
  { header: 'DEVICE', cell: (a) => a.device },
  { header: 'STATUS', cell: (a) => a.status },
  { header: 'MODE', cell: (a) => a.attachMode ?? '' },
  { header: 'ATTACHED', cell: (a) => shortTime(a.attachTime) },
];

const ZONE_COLUMNS: readonly Column<Wire.AvailabilityZoneItemType>[] = [
  { header: 'ZONE', cell: (z) => z.zoneName },
  { header: 'STATE', cell: (z) => z.zoneState },
  { header: 'REGION', cell: (z) => z.regionName },
  { header: 'MESSAGES', cell: (z) => (z.messageSet.item ?? []).map((m) => m.message).join('; ') },
];

export const volumeTable = (rows: readonly VolumeLike[]): string => renderTable(VOLUME_COLUMNS, rows);
export const snapshotTable = (rows: readonly SnapshotLike[]): string => renderTable(SNAPSHOT_COLUMNS, rows);
export const attachmentTable = (rows: readonly AttachmentLike[]): string => renderTable(ATTACHMENT_COLUMNS, rows);
export const zoneTable = (rows: readonly Wire.AvailabilityZoneItemType[]): string => renderTable(ZONE_COLUMNS, rows);
