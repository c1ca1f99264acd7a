/** The frontend's callback endpoint: Volume Delegates report their jobs here. */
import { VbsError } from '../../core/errors.js';
import type * as Wire from '../../generated/volume-delegate.js';
import type { Handlers } from '../../soap/server.js';
import type { Deps } from '../usecases/deps.js';
import { volumeDelegateIdentity } from '../../security/identities.js';
import { reportJob, type JobOutcome } from '../usecases/report-job.js';

const OUTCOMES: readonly JobOutcome[] = ['running', 'succeeded', 'failed'];

export function callbackHandlers(deps: Deps): Handlers<Wire.VolumeDelegateCallbackPortTypeOperations> {
  return {
    ReportJob: async (req, { principal }) => {
      // The authenticator admits only configured delegates; a delegate reports only for itself.
      if (principal.service !== volumeDelegateIdentity(req.delegateId)) {
        throw new VbsError('AuthFailure', 'A Volume Delegate may report only its own jobs.');
      }
      const outcome = OUTCOMES.find((o) => o === req.outcome);
      if (!outcome) throw new VbsError('InvalidParameterValue', 'outcome must be running, succeeded or failed.');
      const { discardFile } = await reportJob(deps, {
        delegateId: req.delegateId,
        jobId: req.jobId,
        resourceId: req.resourceId,
        outcome,
        progress: req.progress,
        message: req.message,
      });
      return { acknowledged: true, discardFile };
    },
  };
}
