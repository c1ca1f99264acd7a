/**
 * Why: with several worker processes behind one port, a captured request must be refused by every
 * worker once any of them accepted it, so the replay cache has to be one cache, held by the cluster's
 * primary and asked over IPC, which is asynchronous. The verifier (src/security/wssec/verify.ts) asks
 * its ReplayCache synchronously and is not ours to change, so the check is split in two:
 *
 *  1. the verifier runs as it always does, against a recorder that answers 'new' and notes the
 *     (key, expiresAt, owner) it was asked about; its `since` is the primary's, so a restarted
 *     worker still refuses requests signed before the primary began remembering;
 *  2. once the verifier has accepted the request, the wrapper asks the shared cache about exactly
 *     those keys and refuses the request, as the verifier would have (replayRefusal), unless the
 *     cache answers 'new' to each: a replay, a signer over its bound, a full cache.
 *
 * Nothing is routed before both steps pass (the Authenticator runs before routing). The recorder
 * relies on the verifier asking synchronously, as the ReplayCache interface requires; a question
 * asked outside the verifier's synchronous run, or a request accepted without any question, is an
 * internal error: the request is refused and logged, never let through unchecked.
 */
import type { Principal } from '../../core/principal.js';
import { replayRefusal, type ReplayAnswer, type ReplayCache } from './replay-cache.js';
import type { Authenticator } from '../../soap/server.js';

export { REPLAYED_MESSAGE } from './replay-cache.js';

/** The cache of all workers, as a worker sees it. */
export interface SharedReplayCache {
  /** When the shared cache began remembering (epoch ms). */
  readonly since: number;
  /** ReplayCache.record, asked of the cache all workers share. */
  record(key: string, expiresAt: number, owner: string): Promise<ReplayAnswer>;
}

interface Question {
  readonly key: string;
  readonly expiresAt: number;
  readonly owner: string;
}

/** A ReplayCache that answers 'new' and notes the questions, only while a check is open. */
class ReplayRecorder implements ReplayCache {
  private questions: Question[] | undefined;

  constructor(readonly since: number) {}

  open(into: Question[]): void {
    this.questions = into;
  }

  close(): void {
    this.questions = undefined;
  }

  record(key: string, expiresAt: number, owner: string): ReplayAnswer {
    if (!this.questions)
      throw new Error(
        'the verifier asked the replay cache outside its synchronous run: refused, as it cannot be checked across workers',
      );
    this.questions.push({ key, expiresAt, owner });
    return 'new';
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
    const answers = await Promise.all(questions.map((q) => shared.record(q.key, q.expiresAt, q.owner)));
    for (const answer of answers) if (answer !== 'new') throw replayRefusal(answer);
    return principal;
  };
}
