/**
 * Why: the replay cache of a clustered frontend lives in the primary (one cache, so one answer for
 * all workers, and it outlives any worker), and workers ask it over the cluster's IPC channel. This
 * is that protocol: a batch of questions { vbs: 'replay?', ids, keys, expiresAt, owners } and its
 * answer { vbs: 'replay!', ids, answers } (each a ReplayAnswer: new, replayed, owner-limit, full),
 * one entry per question, in order.
 *
 * A worker sends the questions of one event-loop turn together (flushed by setImmediate): under load
 * a turn verifies several requests, and each message wakes the primary, which costs more than the
 * check itself. Measured here: ~0.25 ms round trip for a lone question on an idle machine; under
 * load the answer waits behind the worker's own queue, not the primary.
 *
 * Fails closed: a question the primary does not answer in time, or that cannot be sent, refuses the
 * request (Unavailable) instead of accepting it unchecked.
 */
import { VbsError } from '../../core/errors.js';
import type { ReplayAnswer, ReplayCache } from '../../security/wssec/replay-cache.js';
import type { SharedReplayCache } from '../../security/wssec/shared-replay.js';

export interface ReplayQuestions {
  readonly vbs: 'replay?';
  readonly ids: readonly number[];
  readonly keys: readonly string[];
  readonly expiresAt: readonly number[];
  /** Whom each key is counted against: the signer's user ID. */
  readonly owners: readonly string[];
}

export interface ReplayAnswers {
  readonly vbs: 'replay!';
  readonly ids: readonly number[];
  readonly answers: readonly ReplayAnswer[];
}

const REPLAY_ANSWERS: readonly string[] = ['new', 'replayed', 'owner-limit', 'full'] satisfies ReplayAnswer[];

/** The IPC end a worker talks through: `process` in a cluster worker. */
export interface Channel {
  send?: (message: unknown, callback: (error: Error | null) => void) => boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
}

/** The most questions one message carries. */
const MAX_BATCH = 256;

const tagged = (m: unknown): m is Record<string, unknown> => typeof m === 'object' && m !== null && 'vbs' in m;
const arrayOf = <T>(v: unknown, each: (x: unknown) => boolean, length?: number): v is T[] =>
  Array.isArray(v) && (length === undefined || v.length === length) && v.every(each);
const isId = (x: unknown): boolean => Number.isSafeInteger(x);

function isQuestions(m: unknown): m is ReplayQuestions {
  if (!tagged(m) || m['vbs'] !== 'replay?' || !arrayOf<number>(m['ids'], isId)) return false;
  const n = m['ids'].length;
  return (
    arrayOf<string>(m['keys'], (x) => typeof x === 'string', n) &&
    arrayOf<number>(m['expiresAt'], (x) => typeof x === 'number' && Number.isFinite(x), n) &&
    arrayOf<string>(m['owners'], (x) => typeof x === 'string', n)
  );
}

function isAnswers(m: unknown): m is ReplayAnswers {
  return (
    tagged(m) &&
    m['vbs'] === 'replay!' &&
    arrayOf<number>(m['ids'], isId) &&
    arrayOf<ReplayAnswer>(m['answers'], (x) => typeof x === 'string' && REPLAY_ANSWERS.includes(x), m['ids'].length)
  );
}

/**
 * The primary's side: answers a worker's message if it is a batch of replay questions (true), from
 * `cache`, in the order asked (so of two equal keys in one batch, the second is 'replayed'). `reply`
 * sends to that worker.
 */
export function answerReplayQuestions(
  cache: ReplayCache,
  message: unknown,
  reply: (answers: ReplayAnswers) => void,
): boolean {
  if (!isQuestions(message)) return false;
  const answers = message.keys.map((key, i) => cache.record(key, message.expiresAt[i] ?? 0, message.owners[i] ?? ''));
  reply({ vbs: 'replay!', ids: message.ids, answers });
  return true;
}

interface Pending {
  readonly resolve: (answer: ReplayAnswer) => void;
  readonly reject: (error: Error) => void;
  readonly askedAt: number;
}

interface Queued {
  readonly id: number;
  readonly key: string;
  readonly expiresAt: number;
  readonly owner: string;
}

const unavailable = (cause: unknown): VbsError =>
  new VbsError('Unavailable', 'The service could not check this request against replays. Sign it anew and try again.', {
    cause,
  });

/** The worker's side: the primary's cache, asked over `channel`. */
export class ReplayCacheClient implements SharedReplayCache {
  private readonly pending = new Map<number, Pending>();
  private queued: Queued[] = [];
  private nextId = 0;

  constructor(
    readonly since: number,
    private readonly channel: Channel,
    private readonly timeoutMs = 5000,
  ) {
    channel.on('message', (m) => {
      if (!isAnswers(m)) return;
      m.ids.forEach((id, i) => {
        const p = this.pending.get(id);
        this.pending.delete(id);
        // An answer missing from a well-formed batch cannot be: taken as a replay, refused.
        p?.resolve(m.answers[i] ?? 'replayed');
      });
    });
    // Questions left unanswered are swept out (in id order, so the oldest come first).
    setInterval(() => this.expire(Date.now()), Math.min(1000, timeoutMs)).unref();
  }

  record(key: string, expiresAt: number, owner: string): Promise<ReplayAnswer> {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject, askedAt: Date.now() });
      if (this.queued.length === 0) setImmediate(() => this.flush());
      this.queued.push({ id, key, expiresAt, owner });
    });
  }

  private flush(): void {
    const all = this.queued;
    this.queued = [];
    for (let at = 0; at < all.length; at += MAX_BATCH) {
      const batch = all.slice(at, at + MAX_BATCH);
      const questions: ReplayQuestions = {
        vbs: 'replay?',
        ids: batch.map((q) => q.id),
        keys: batch.map((q) => q.key),
        expiresAt: batch.map((q) => q.expiresAt),
        owners: batch.map((q) => q.owner),
      };
      const fail = (error: unknown): void => {
        for (const q of batch) {
          const p = this.pending.get(q.id);
          this.pending.delete(q.id);
          p?.reject(unavailable(error));
        }
      };
      const send = this.channel.send;
      if (!send) {
        fail(new Error('no IPC channel to the primary'));
        continue;
      }
      try {
        send.call(this.channel, questions, (error) => {
          if (error) fail(error);
        });
      } catch (error) {
        fail(error);
      }
    }
  }

  private expire(now: number): void {
    for (const [id, p] of this.pending) {
      if (now - p.askedAt < this.timeoutMs) return;
      this.pending.delete(id);
      p.reject(unavailable(new Error(`the primary did not answer within ${this.timeoutMs} ms`)));
    }
  }
}
