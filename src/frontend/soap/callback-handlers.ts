/** The frontend's callback endpoint: Volume Delegates report their jobs here. */
import { VbsError } from '../../core/errors.js';
import type * as Wire from '../../generated/volume-delegate.js';
import type { Handlers } from '../../soap/server.js';
import type { Deps } from '../usecases/deps.js';
import { reportJob, type JobOutcome } from '../usecases/report-job.js';

const OUTCOMES: readonly JobOutcome[] = ['running', 'succeeded', 'failed'];

export function callbackHandlers(deps: Deps, knownDelegates: readonly string[]): Handlers<Wire.VolumeDelegateCallbackPortTypeOperations> {
  return {
    ReportJob: async (req) => {
      if (!knownDelegates.includes(req.delegateId)) throw new VbsError('AuthFailure', 'Reports are accepted only from configured Volume Delegates.');
      const outcome = OUTCOMES.find((o) => o === req.outcome);
      if (!outcome) throw new VbsError('InvalidParameterValue', 'outcome must be running, succeeded or failed.');
      await reportJob(deps, { delegateId: req.delegateId, resourceId: req.resourceId, outcome, progress: req.progress, message: req.message });
      return { acknowledged: true };
    },
  };
}
