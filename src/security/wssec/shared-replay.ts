/**
 * Why: with several worker processes behind one port, a captured request must be refused by every
 * worker once any of them accepted it, so the replay cache has to be one cache, held by the cluster's
 * primary and asked over IPC, which is asynchronous. The verifier (src/security/wssec/verify.ts) asks
 * its ReplayCache synchronously and is not ours to change, so the check is split in two:
 *
 *  1. the verifier runs as it always does, against a recorder that answers "not seen" and notes the
 *     (key, expiresAt) it was asked about; its `since` is the primary's, so a restarted worker still
 *     refuses requests signed before the primary began remembering;
 *  2. once the verifier has accepted the request, the wrapper asks the shared cache about exactly
 *     those keys and refuses the request, with the verifier's own message, if any was seen.
 *
 * Nothing is routed before both steps pass (the Authenticator runs before routing). The recorder
 * relies on the verifier asking synchronously, as the ReplayCache interface requires; a question
 * asked outside the verifier's synchronous run, or a request accepted without any question, is an
 * internal error: the request is refused and logged, never let through unchecked.
 */
import { VbsError } from '../../core/errors.js';
import type { Principal } from '../../core/principal.js';
import type { ReplayCache } from './replay-cache.js';
import type { Authenticator } from '../../soap/server.js';

/** The cache of all workers, as a worker sees it. */
export interface SharedReplayCache {
  /** When the shared cache began remembering (epoch ms). */
  readonly since: number;
  /** True if `key` was already recorded and has not expired; otherwise records it until `expiresAt` (epoch ms). */
  seen(key: string, expiresAt: number): Promise<boolean>;
}

/** The verifier's refusal of a replay, word for word, so that clients see one message either way. */
export const REPLAYED_MESSAGE = 'This request was already received; sign each request anew.';

interface Question {
  readonly key: string;
  readonly expiresAt: number;
}

/** A ReplayCache that answers "not seen" and notes the questions, only while a check is open. */
class ReplayRecorder implements ReplayCache {
  private questions: Question[] | undefined;

  constructor(readonly since: number) {}

  open(into: Question[]): void {
    this.questions = into;
  }

  close(): void {
    this.questions = undefined;
  }

  seen(key: string, expiresAt: number): boolean {
    if (!this.questions)
      throw new Error(
        'the verifier asked the replay cache outside its synchronous run: refused, as it cannot be checked across workers',
      );
    this.questions.push({ key, expiresAt });
    return false;
  }
}

/**
 * An Authenticator that checks replays against `shared`. `build` makes the ordinary authenticator
 * around the ReplayCache it is given (e.g. `(cache) => userAuthenticator(..., cache)`); it is built once.
 */
export function withSharedReplays(
  build: (cache: ReplayCache) => Authenticator,
  shared: SharedReplayCache,
): Authenticator {
  const recorder = new ReplayRecorder(shared.since);
  const verify = build(recorder);
  return async (message, request): Promise<Principal> => {
    const questions: Question[] = [];
    recorder.open(questions);
    let verified: Promise<Principal>;
    try {
      verified = verify(message, request);
    } finally {
      recorder.close();
    }
    const principal = await verified;
    if (questions.length === 0) throw new Error('the verifier accepted a request without asking the replay cache');
    const seen = await Promise.all(questions.map((q) => shared.seen(q.key, q.expiresAt)));
    if (seen.some((s) => s)) throw new VbsError('AuthFailure', REPLAYED_MESSAGE);
    return principal;
  };
}
