/**
 * DeleteVolume (paper 4.1 (5)): "deleting" first, by a conditional update that also refuses a volume
 * with attachments or a snapshot in progress; then a delegate removes the file and the row becomes a
 * tombstone ("deleted", seen by no client). If no delegate answers now, the volume stays "deleting"
 * and the sweeper finishes the job: the request was accepted, so it is not refused after the fact.
 */
import { requireVolumeId } from '../../core/ids.js';
import type { Principal } from '../../core/principal.js';
import { VOLUME_TRANSITIONS } from '../../core/state.js';
import type { Deps } from './deps.js';
import { finishDeletion } from './finish-deletion.js';
import { ownVolume, volumeNotFound } from './ownership.js';
import { refusal } from './refusal.js';

export async function deleteVolume(deps: Deps, principal: Principal, volumeId: string): Promise<void> {
  const id = requireVolumeId(volumeId);
  await ownVolume(deps, principal, id);
  const outcome = await deps.store.transitionVolume(id, 'delete');
  if (!outcome.changed) throw refusal(outcome, VOLUME_TRANSITIONS.delete, volumeNotFound(id), 'delete volume');
  await finishDeletion(deps, 'volume', outcome.record);
}
