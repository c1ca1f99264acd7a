/**
 * Turns a failed hypervisor tool call (xl, virsh) into a DriverError. Each driver knows what its own
 * tool's messages mean and passes them as rules; what is common lives here: a tool that never ran,
 * was killed or timed out means the hypervisor cannot be reached, and anything no rule recognises
 * is the hypervisor refusing. The message keeps the tool's own words for the log.
 *
 * For a call that changes what the hypervisor holds (`changes`), the error also says whether it may
 * have acted: a run cut off by its timeout may have done part or all of it, as may a tool that gave up
 * waiting for something still under way (a rule with effect 'unknown'); anything else it refused.
 */
import type { Effect } from '../../../core/errors.js';
import { ExecError } from '../../exec.js';
import { DriverError, type DriverErrorKind } from '../driver.js';

export interface FailureRule {
  readonly pattern: RegExp;
  readonly kind: DriverErrorKind;
  /** 'unknown' when this message means the change is still under way and may complete. */
  readonly effect?: Effect;
}

export function toolFailure(error: unknown, rules: readonly FailureRule[], changes = false): DriverError {
  if (error instanceof DriverError) return error;
  if (!(error instanceof ExecError)) {
    return new DriverError('unavailable', String(error), { cause: error });
  }
  if (error.exitCode === undefined) {
    const effect = changes && error.timedOut ? 'unknown' : 'none';
    return new DriverError('unavailable', error.message, { cause: error, effect });
  }
  const rule = rules.find((r) => r.pattern.test(error.stderr));
  const effect = changes && rule?.effect === 'unknown' ? 'unknown' : 'none';
  return new DriverError(rule?.kind ?? 'refused', error.message, { cause: error, effect });
}
