/**
 * DeleteSnapshot: as DeleteVolume, refused while a volume is being created from the snapshot (the
 * guard is part of the same conditional update, so the two can never both proceed).
 */
import { requireSnapshotId } from '../../core/ids.js';
import type { Principal } from '../../core/principal.js';
import { SNAPSHOT_TRANSITIONS } from '../../core/state.js';
import type { Deps } from './deps.js';
import { finishDeletion } from './finish-deletion.js';
import { ownSnapshot, snapshotNotFound } from './ownership.js';
import { refusal } from './refusal.js';

export async function deleteSnapshot(deps: Deps, principal: Principal, snapshotId: string): Promise<void> {
  const id = requireSnapshotId(snapshotId);
  await ownSnapshot(deps, principal, id);
  const outcome = await deps.store.transitionSnapshot(id, 'delete');
  if (!outcome.changed) throw refusal(outcome, SNAPSHOT_TRANSITIONS.delete, snapshotNotFound(id), 'delete snapshot');
  await finishDeletion(deps, 'snapshot', outcome.record);
}
