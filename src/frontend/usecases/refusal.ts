/** Turns a refused transition into the EC2 error that tells the client why, from the state table. */
import { VbsError } from '../../core/errors.js';
import { GUARD_REFUSAL, refusalFor, type Transition } from '../../core/state.js';
import type { Outcome } from '../store/metadata-store.js';

export function refusal<S extends string>(
  outcome: Outcome<{ id: string; status: S }> & { changed: false },
  transition: Transition<S>,
  notFound: VbsError,
  action: string,
): VbsError {
  const current = outcome.current;
  if (!current) return notFound;
  const code = outcome.blockedBy ? GUARD_REFUSAL[outcome.blockedBy] : refusalFor(transition, current.status);
  const why = outcome.blockedBy ? BLOCKED_BECAUSE[outcome.blockedBy] : `it is ${current.status}`;
  return new VbsError(code, `Cannot ${action} '${current.id}': ${why}.`);
}

const BLOCKED_BECAUSE = {
  volumeHasPendingSnapshot: 'a snapshot of it is in progress',
  volumeHasAttachment: 'it is attached to an instance',
  snapshotHasCreatingVolume: 'a volume is being created from it',
} as const;
