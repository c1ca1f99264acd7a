/**
 * Ownership: a user sees and acts only on what that user created; anything else answers exactly as
 * if it did not exist, so that IDs of other users leak nothing. Admins see everything.
 */
import { VbsError } from '../../core/errors.js';
import type { Principal } from '../../core/principal.js';
import type { SnapshotRecord, VolumeRecord } from '../../core/records.js';
import { HIDDEN_SNAPSHOT_STATUSES, HIDDEN_VOLUME_STATUSES } from '../../core/state.js';
import type { Deps } from './deps.js';

export function volumeNotFound(id: string): VbsError {
  return new VbsError('InvalidVolume.NotFound', `The volume '${id}' does not exist.`);
}

export function snapshotNotFound(id: string): VbsError {
  return new VbsError('InvalidSnapshot.NotFound', `The snapshot '${id}' does not exist.`);
}

export function visibleTo(principal: Principal, record: { ownerId: string } | undefined): boolean {
  return record !== undefined && (principal.admin || record.ownerId === principal.userId);
}

export function ownerScope(principal: Principal): string | undefined {
  return principal.admin ? undefined : principal.userId;
}

export async function ownVolume(deps: Deps, principal: Principal, id: string): Promise<VolumeRecord> {
  const v = await deps.store.getVolume(id);
  if (!v || !visibleTo(principal, v) || HIDDEN_VOLUME_STATUSES.includes(v.status)) throw volumeNotFound(id);
  return v;
}

export async function ownSnapshot(deps: Deps, principal: Principal, id: string): Promise<SnapshotRecord> {
  const s = await deps.store.getSnapshot(id);
  if (!s || !visibleTo(principal, s) || HIDDEN_SNAPSHOT_STATUSES.includes(s.status)) throw snapshotNotFound(id);
  return s;
}
