/**
 * Nothing stays stuck: job offers left unanswered are made again (settle-offers.ts); a volume still
 * "creating" or a snapshot still "pending" with no word from its delegate past the deadline becomes
 * "error" (delegates report progress while they work, so silence means the job or its delegate is
 * gone); deletions that could not reach a delegate are retried.
 */
import type { Deps } from './deps.js';
import { finishDeletion } from './finish-deletion.js';
import { settleOffers } from './settle-offers.js';

export interface SweepResult {
  readonly expired: number;
  readonly deletionsRetried: number;
}

export interface SweepTimes {
  /** A waiting resource with no word from its job this long fails. */
  readonly deadlineMs: number;
  /** A deletion that could not reach a delegate is tried again after this long. */
  readonly deleteRetryMs: number;
  /** An offer unanswered this long is made again: longer than a delegate call may take. */
  readonly offerRetryMs: number;
}

export async function sweep(deps: Deps, times: SweepTimes): Promise<SweepResult> {
  const { deadlineMs, deleteRetryMs } = times;
  const now = deps.now().getTime();
  await settleOffers(deps, now - times.offerRetryMs);
  const reason = `no report from the Volume Delegate for ${Math.round(deadlineMs / 1000)} s`;
  let expired = 0;
  for (const v of await deps.store.volumesUnchangedSince('creating', now - deadlineMs)) {
    if ((await deps.store.transitionVolume(v.id, 'provisioningFailed', { statusMessage: reason })).changed) {
      deps.logger.error('volume creation expired', { volumeId: v.id, delegateId: v.delegateId, reason });
      expired++;
    }
  }
  for (const s of await deps.store.snapshotsUnchangedSince('pending', now - deadlineMs)) {
    if ((await deps.store.transitionSnapshot(s.id, 'copyFailed', { statusMessage: reason })).changed) {
      deps.logger.error('snapshot expired', { snapshotId: s.id, delegateId: s.delegateId, reason });
      expired++;
    }
  }
  let deletionsRetried = 0;
  for (const v of await deps.store.volumesUnchangedSince('deleting', now - deleteRetryMs)) {
    deletionsRetried++;
    await finishDeletion(deps, 'volume', v);
  }
  for (const s of await deps.store.snapshotsUnchangedSince('deleting', now - deleteRetryMs)) {
    deletionsRetried++;
    await finishDeletion(deps, 'snapshot', s);
  }
  return { expired, deletionsRetried };
}
