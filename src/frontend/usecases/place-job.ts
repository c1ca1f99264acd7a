/**
 * Offering a resource's file job to the Volume Delegates, so that nothing is made twice and nothing
 * is lost (docs/architecture.md, "Nothing acknowledged is lost"): the job ID was recorded with the
 * resource; before each delegate is asked, the store names it as the one the job is offered to
 * (its reports, and only its, are then accepted); the answer is recorded once it comes.
 *  - accepted: that delegate has the job;
 *  - refused, or not reached: it does not have the job; the next delegate is asked;
 *  - no answer after the request may have arrived: 'unknown'. The offer stands (it is asked again,
 *    with the same job ID, which it takes at most once) and no other delegate is asked meanwhile.
 * Only when every delegate refused is it known that no delegate has the job.
 */
import { VbsError } from '../../core/errors.js';
import { snapshotFilePath } from '../../core/paths.js';
import type { SnapshotRecord, VolumeRecord } from '../../core/records.js';
import type { FileJob } from './delegate-ports.js';
import type { Deps } from './deps.js';

export type Placement =
  | { readonly outcome: 'accepted'; readonly delegateId: string }
  | { readonly outcome: 'unknown'; readonly delegateId: string; readonly error: VbsError }
  | { readonly outcome: 'refused'; readonly error: VbsError }
  /** The resource no longer waits for its file (it failed, or is being deleted). */
  | { readonly outcome: 'gone' };

export function volumeJob(v: VolumeRecord): FileJob {
  return {
    kind: 'volume',
    jobId: v.jobId,
    volumeId: v.id,
    path: v.path,
    sizeGiB: v.sizeGiB,
    volumeType: v.volumeType,
    ...(v.snapshotId !== null ? { sourcePath: snapshotFilePath(v.snapshotId) } : {}),
  };
}

export function snapshotJob(s: SnapshotRecord, volumePath: string): FileJob {
  return { kind: 'snapshot', jobId: s.jobId, snapshotId: s.id, sourcePath: volumePath, path: s.path };
}

/** Offers `job` to the delegates, `first` first (the one it was last offered to, which may have it). */
export async function placeJob(deps: Deps, job: FileJob, first: string | null = null): Promise<Placement> {
  const kind = job.kind;
  const resourceId = job.kind === 'volume' ? job.volumeId : job.snapshotId;
  const log = { resourceId, jobId: job.jobId };
  let full = false;
  let last: VbsError | undefined;
  for (const delegateId of deps.delegates.candidates(first)) {
    if (!(await deps.store.offerJob(kind, resourceId, delegateId))) return { outcome: 'gone' };
    try {
      await deps.delegates.offer(delegateId, job);
    } catch (error) {
      if (!(error instanceof VbsError)) throw error;
      if (error.effect === 'unknown') {
        deps.logger.warn('volume delegate did not answer; it may have the job, which is offered again later', {
          ...log,
          delegateId,
          error: error.message,
        });
        return { outcome: 'unknown', delegateId, error };
      }
      if (error.code === 'InsufficientVolumeCapacity') full = true;
      else deps.logger.warn('volume delegate refused a job', { ...log, delegateId, error: error.message });
      last = error;
      continue;
    }
    await deps.store.acceptJob(kind, resourceId, job.jobId, delegateId);
    return { outcome: 'accepted', delegateId };
  }
  const error = full
    ? new VbsError('InsufficientVolumeCapacity', 'There is not enough free space in the storage for this request.')
    : new VbsError('Unavailable', 'No Volume Delegate is available now. Try again later.', { cause: last });
  return { outcome: 'refused', error };
}
