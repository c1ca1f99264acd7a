/**
 * Jobs whose offer is unanswered: the delegate did not answer in time, or the frontend stopped
 * between recording the offer and hearing back (or before asking at all). Each is offered again with
 * its own job ID, to the delegate it was offered to first (which may have it, and then simply says so);
 * one that every delegate refuses is known to be nowhere, and its resource fails with that reason at
 * once rather than waiting out the deadline. The sweeper runs this, and a frontend at its start for
 * every offer made before it started.
 */
import { volumeFilePath } from '../../core/paths.js';
import type { FileJob } from './delegate-ports.js';
import type { Deps } from './deps.js';
import { placeJob, snapshotJob, volumeJob } from './place-job.js';

export interface SettleResult {
  readonly accepted: number;
  readonly failed: number;
  readonly unknown: number;
}

export async function settleOffers(deps: Deps, before: number): Promise<SettleResult> {
  const counts = { accepted: 0, failed: 0, unknown: 0 };
  const settle = async (
    job: FileJob,
    offeredTo: string | null,
    fail: (statusMessage: string) => Promise<{ changed: boolean }>,
  ): Promise<void> => {
    const placed = await placeJob(deps, job, offeredTo);
    if (placed.outcome === 'accepted' || placed.outcome === 'unknown') counts[placed.outcome]++;
    if (placed.outcome !== 'refused') return;
    const statusMessage = `no Volume Delegate took the job: ${placed.error.message}`;
    if ((await fail(statusMessage)).changed) counts.failed++;
    deps.logger.error('no delegate took a job: its resource failed', { jobId: job.jobId, reason: statusMessage });
  };
  for (const v of await deps.store.volumesOfferedBefore(before)) {
    await settle(volumeJob(v), v.delegateId, (statusMessage) =>
      deps.store.transitionVolume(v.id, 'provisioningFailed', { statusMessage }),
    );
  }
  for (const s of await deps.store.snapshotsOfferedBefore(before)) {
    await settle(snapshotJob(s, volumeFilePath(s.volumeId)), s.delegateId, (statusMessage) =>
      deps.store.transitionSnapshot(s.id, 'copyFailed', { statusMessage }),
    );
  }
  if (counts.accepted + counts.failed + counts.unknown > 0) deps.logger.info('unanswered job offers settled', counts);
  return counts;
}
