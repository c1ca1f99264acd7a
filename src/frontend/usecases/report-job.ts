/**
 * A Volume Delegate's report on a job (paper 4.1: the delegate "invokes the VBSLustre service to
 * update the status"). Each report is one transition of the state table; a report that no longer
 * applies (the resource was deleted, or the deadline already failed it) changes nothing and is still
 * acknowledged, so that the delegate stops repeating it.
 */
import { isId } from '../../core/ids.js';
import { VbsError } from '../../core/errors.js';
import type { Deps } from './deps.js';

export type JobOutcome = 'running' | 'succeeded' | 'failed';

export interface JobReport {
  readonly delegateId: string;
  readonly resourceId: string;
  readonly outcome: JobOutcome;
  readonly progress: number;
  readonly message: string | undefined;
}

export async function reportJob(deps: Deps, report: JobReport): Promise<void> {
  const { resourceId: id, outcome } = report;
  const progress = Math.max(0, Math.min(100, Math.trunc(report.progress)));
  const statusMessage = outcome === 'failed' ? `delegate ${report.delegateId}: ${report.message ?? 'failed'}` : null;
  // Only the delegate that has the job may report on it (the frontend named it before asking it).
  const reportedBy = report.delegateId;
  let result: { changed: boolean; owner: string | null | undefined };
  if (isId('vol', id)) {
    const event = outcome === 'running' ? 'progressed' : outcome === 'succeeded' ? 'provisioned' : 'provisioningFailed';
    const o = await deps.store.transitionVolume(id, event, { reportedBy, ...(statusMessage ? { statusMessage } : {}) });
    result = { changed: o.changed, owner: o.changed ? reportedBy : o.current?.delegateId };
  } else if (isId('snap', id)) {
    const event = outcome === 'running' ? 'progressed' : outcome === 'succeeded' ? 'copied' : 'copyFailed';
    const changes = outcome === 'succeeded' ? { progress: 100 } : statusMessage ? { statusMessage } : { progress };
    const o = await deps.store.transitionSnapshot(id, event, { reportedBy, ...changes });
    result = { changed: o.changed, owner: o.changed ? reportedBy : o.current?.delegateId };
  } else {
    throw new VbsError('InvalidParameterValue', 'The report names no volume or snapshot.');
  }
  if (result.owner !== undefined && result.owner !== reportedBy) {
    deps.logger.warn('job report refused: another delegate has the job', {
      resourceId: id,
      delegateId: reportedBy,
      jobDelegate: result.owner,
    });
    throw new VbsError('AuthFailure', 'This delegate does not have that job.');
  }
  const changed = result.changed;
  const log = { resourceId: id, delegateId: report.delegateId, outcome, progress, changed };
  if (outcome === 'failed') deps.logger.error('job failed', { ...log, reason: report.message });
  else if (outcome === 'succeeded' || !changed) deps.logger.info('job report', log);
}
