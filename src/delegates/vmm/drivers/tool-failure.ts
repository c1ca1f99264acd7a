/**
 * Turns a failed hypervisor tool call (xl, virsh) into a DriverError. Each driver knows what its own
 * tool's messages mean and passes them as rules; what is common lives here: a tool that never ran,
 * was killed or timed out means the hypervisor cannot be reached, and anything no rule recognises
 * is the hypervisor refusing. The message keeps the tool's own words for the log.
 */
import { ExecError } from '../../exec.js';
import { DriverError, type DriverErrorKind } from '../driver.js';

export interface FailureRule {
  readonly pattern: RegExp;
  readonly kind: DriverErrorKind;
}

export function toolFailure(error: unknown, rules: readonly FailureRule[]): DriverError {
  if (error instanceof DriverError) return error;
  if (!(error instanceof ExecError)) {
    return new DriverError('unavailable', String(error), { cause: error });
  }
  if (error.exitCode === undefined) {
    return new DriverError('unavailable', error.message, { cause: error });
  }
  const rule = rules.find((r) => r.pattern.test(error.stderr));
  return new DriverError(rule?.kind ?? 'refused', error.message, { cause: error });
}
