/**
 * A Volume Delegate's report on a job (paper 4.1: the delegate "invokes the VBSLustre service to
 * update the status"). Each report is one transition of the state table, applied only if the
 * resource's job is the one reported and was offered to that delegate (a report also tells the
 * frontend the delegate has the job). A report that no longer applies (the deadline already failed
 * the resource) changes nothing and is still acknowledged, so that the delegate stops repeating it.
 * A report for a resource that is deleted, being deleted, or unknown says so (discardFile): the file
 * the job made belongs to no resource, and the delegate removes it.
 */
import { isId } from '../../core/ids.js';
import { VbsError } from '../../core/errors.js';
import type { Deps } from './deps.js';

export type JobOutcome = 'running' | 'succeeded' | 'failed';

export interface JobReport {
  readonly delegateId: string;
  readonly jobId: string;
  readonly resourceId: string;
  readonly outcome: JobOutcome;
  readonly progress: number;
  readonly message: string | undefined;
}

const GONE: readonly string[] = ['deleting', 'deleted'];

export async function reportJob(deps: Deps, report: JobReport): Promise<{ discardFile: boolean }> {
  const { resourceId: id, outcome } = report;
  const progress = Math.max(0, Math.min(100, Math.trunc(report.progress)));
  const statusMessage = outcome === 'failed' ? `delegate ${report.delegateId}: ${report.message ?? 'failed'}` : null;
  const reportedJob = { jobId: report.jobId, delegateId: report.delegateId };
  let o:
    | { changed: true }
    | { changed: false; current: { status: string; jobId: string; delegateId: string | null } | undefined };
  if (isId('vol', id)) {
    const event = outcome === 'running' ? 'progressed' : outcome === 'succeeded' ? 'provisioned' : 'provisioningFailed';
    o = await deps.store.transitionVolume(id, event, { reportedJob, ...(statusMessage ? { statusMessage } : {}) });
  } else if (isId('snap', id)) {
    const event = outcome === 'running' ? 'progressed' : outcome === 'succeeded' ? 'copied' : 'copyFailed';
    const changes = outcome === 'succeeded' ? { progress: 100 } : statusMessage ? { statusMessage } : { progress };
    o = await deps.store.transitionSnapshot(id, event, { reportedJob, ...changes });
  } else {
    throw new VbsError('InvalidParameterValue', 'The report names no volume or snapshot.');
  }
  const log = { resourceId: id, jobId: report.jobId, delegateId: report.delegateId, outcome, progress };
  if (!o.changed) {
    const current = o.current;
    if (current === undefined || GONE.includes(current.status)) {
      deps.logger.warn('job report for a resource that is gone: its file is to be removed', {
        ...log,
        status: current?.status ?? 'unknown',
      });
      return { discardFile: true };
    }
    if (current.jobId !== report.jobId || current.delegateId !== report.delegateId) {
      deps.logger.warn("job report refused: the job is not this delegate's", {
        ...log,
        currentJob: current.jobId,
        jobDelegate: current.delegateId,
      });
      throw new VbsError('AuthFailure', 'This delegate does not have that job.');
    }
  }
  const changed = o.changed;
  if (outcome === 'failed') deps.logger.error('job failed', { ...log, changed, reason: report.message });
  else if (outcome === 'succeeded' || !changed) deps.logger.info('job report', { ...log, changed });
  return { discardFile: false };
}
