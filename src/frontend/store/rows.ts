/** Rows of the metadata store turned into records, checking what the database hands back. */
import type {
  AttachmentRecord,
  AttachMode,
  InstanceLocation,
  JobState,
  SnapshotRecord,
  VmmHostRecord,
  VolumeRecord,
  VolumeType,
} from '../../core/records.js';
import { VOLUME_TYPES } from '../../core/records.js';
import {
  ATTACHMENT_STATUSES,
  SNAPSHOT_STATUSES,
  VOLUME_STATUSES,
  type AttachmentStatus,
  type SnapshotStatus,
  type VolumeStatus,
} from '../../core/state.js';

export type { Row } from '../../sql/port.js';
import type { Row } from '../../sql/port.js';

function str(row: Row, col: string): string {
  const v = row[col];
  if (typeof v !== 'string') throw new Error(`column ${col}: expected text`);
  return v;
}

function strOrNull(row: Row, col: string): string | null {
  const v = row[col];
  return v === null || v === undefined ? null : str(row, col);
}

function num(row: Row, col: string): number {
  const v = row[col];
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  throw new Error(`column ${col}: expected a number`);
}

function oneOf<T extends string>(values: readonly T[], row: Row, col: string): T {
  const v = str(row, col);
  const found = values.find((x) => x === v);
  if (found === undefined) throw new Error(`column ${col}: unknown value ${v}`);
  return found;
}

export function volumeFromRow(row: Row): VolumeRecord {
  return {
    id: str(row, 'id'),
    ownerId: str(row, 'owner_id'),
    sizeGiB: num(row, 'size_gib'),
    snapshotId: strOrNull(row, 'snapshot_id'),
    zone: str(row, 'zone'),
    status: oneOf<VolumeStatus>(VOLUME_STATUSES, row, 'status'),
    volumeType: oneOf<VolumeType>(VOLUME_TYPES, row, 'volume_type'),
    path: str(row, 'path'),
    delegateId: strOrNull(row, 'delegate_id'),
    jobId: str(row, 'job_id'),
    jobState: oneOf<JobState>(['offering', 'accepted'], row, 'job_state'),
    createTime: str(row, 'create_time'),
    updatedAt: num(row, 'updated_at'),
    statusMessage: strOrNull(row, 'status_message'),
  };
}

export function snapshotFromRow(row: Row): SnapshotRecord {
  return {
    id: str(row, 'id'),
    ownerId: str(row, 'owner_id'),
    volumeId: str(row, 'volume_id'),
    volumeSizeGiB: num(row, 'volume_size_gib'),
    status: oneOf<SnapshotStatus>(SNAPSHOT_STATUSES, row, 'status'),
    progress: num(row, 'progress'),
    startTime: str(row, 'start_time'),
    description: strOrNull(row, 'description'),
    path: str(row, 'path'),
    delegateId: strOrNull(row, 'delegate_id'),
    jobId: str(row, 'job_id'),
    jobState: oneOf<JobState>(['offering', 'accepted'], row, 'job_state'),
    updatedAt: num(row, 'updated_at'),
    statusMessage: strOrNull(row, 'status_message'),
  };
}

export function attachmentFromRow(row: Row): AttachmentRecord {
  return {
    id: num(row, 'id'),
    volumeId: str(row, 'volume_id'),
    instanceId: str(row, 'instance_id'),
    device: str(row, 'device'),
    status: oneOf<AttachmentStatus>(ATTACHMENT_STATUSES, row, 'status'),
    mode: oneOf<AttachMode>(['rw', 'ro'], row, 'mode'),
    vmmHost: str(row, 'vmm_host'),
    attachTime: str(row, 'attach_time'),
    updatedAt: num(row, 'updated_at'),
    statusMessage: strOrNull(row, 'status_message'),
  };
}

export function vmmHostFromRow(row: Row): VmmHostRecord {
  return {
    host: str(row, 'host'),
    endpoint: str(row, 'endpoint'),
    driver: str(row, 'driver'),
    healthy: num(row, 'healthy') === 1,
    lastSeen: num(row, 'last_seen'),
  };
}

export function instanceFromRow(row: Row): InstanceLocation {
  return {
    instanceId: str(row, 'instance_id'),
    vmmHost: str(row, 'vmm_host'),
    endpoint: str(row, 'endpoint'),
    state: str(row, 'state'),
    ownerId: strOrNull(row, 'owner_id'),
  };
}
