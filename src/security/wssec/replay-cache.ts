/**
 * Remembers the signed content of accepted requests until their Timestamp would refuse them anyway,
 * so a captured request cannot be sent a second time (Eucalyptus kept the same cache). In memory, per
 * process: a deployment with several frontends behind one address needs a shared cache instead.
 *
 * What it holds is bounded three ways, none of which ever forgets a live entry (that would let its
 * request be replayed):
 *  - by time: each entry lives exactly as long as its request could be accepted (`expiresAt`, from
 *    the Timestamp), then goes, second by second; so it holds what was accepted in the last window
 *    (at most 5 minutes after Created, plus the clock skew): rate × window;
 *  - per signer (`owner`, the user ID the certificate names): at most maxEntriesPerOwner live
 *    entries; beyond that, that signer's new requests are refused ('owner-limit':
 *    RequestLimitExceeded) and everyone else's accepted. One user cannot fill the cache;
 *  - in all: at most maxEntries (by default a quarter of this process's V8 heap limit, at
 *    BYTES_PER_ENTRY each); beyond that every new request is refused ('full'), which takes at least
 *    maxEntries / maxEntriesPerOwner signers at their limit (8 by default).
 */
import { getHeapStatistics } from 'node:v8';
import { VbsError } from '../../core/errors.js';

/** What the cache says of a request's key. */
export type ReplayAnswer =
  /** Not seen: recorded until its expiry. */
  | 'new'
  /** Seen and not expired: a replay. */
  | 'replayed'
  /** Its signer already holds maxEntriesPerOwner live entries: not recorded. */
  | 'owner-limit'
  /** The cache holds maxEntries live entries: not recorded. */
  | 'full';

export interface ReplayCache {
  /**
   * Records `key` for `owner` until `expiresAt` (epoch ms) and answers 'new', unless it is a live
   * entry already ('replayed') or a bound is reached ('owner-limit', 'full'; nothing recorded).
   */
  record(key: string, expiresAt: number, owner: string): ReplayAnswer;
  /**
   * Since when (epoch ms) the cache remembers. A request signed earlier may have been accepted before
   * a restart, which this cache would not know: the verifier refuses it.
   */
  readonly since: number;
}

/**
 * Heap bytes one live entry takes at most (its 22-character key, its slot in the set, its slots in
 * its second's lists; a signer's name is shared): measured at ~93, checked by
 * test/security/wssec/replay-cache.test.ts.
 */
export const BYTES_PER_ENTRY = 128;
/** The share of the process's V8 heap limit the cache may hold by default. */
const HEAP_SHARE = 1 / 4;
/** By default one signer may hold this share of maxEntries: at least this many must flood to fill it. */
export const OWNER_SHARE = 8;

/** maxEntries by default: a quarter of this process's heap limit (Node sizes it by the machine's memory). */
export function defaultReplayCapacity(): number {
  return Math.floor((getHeapStatistics().heap_size_limit * HEAP_SHARE) / BYTES_PER_ENTRY);
}

export interface ReplayLimits {
  /** Live entries at most, all signers together. Default: defaultReplayCapacity(). */
  readonly maxEntries?: number;
  /** Live entries at most per signer. Default: maxEntries / OWNER_SHARE. */
  readonly maxEntriesPerOwner?: number;
}

export interface MemoryReplayCacheOptions extends ReplayLimits {
  readonly now?: () => number;
}

/** The entries that expire in one second: keys and their owners, in the same order. */
interface Second {
  readonly keys: string[];
  readonly owners: string[];
}

export class MemoryReplayCache implements ReplayCache {
  private readonly keys = new Set<string>();
  /** By the second after `since` at whose start their entries may go. */
  private readonly seconds = new Map<number, Second>();
  private readonly perOwner = new Map<string, number>();
  private readonly now: () => number;
  readonly maxEntries: number;
  readonly maxEntriesPerOwner: number;
  readonly since: number;
  /** Every second up to this one has been let go. */
  private drained = -1;

  constructor(options: MemoryReplayCacheOptions = {}) {
    this.now = options.now ?? Date.now;
    this.since = this.now();
    this.maxEntries = Math.max(1, Math.floor(options.maxEntries ?? defaultReplayCapacity()));
    this.maxEntriesPerOwner = Math.max(
      1,
      Math.floor(options.maxEntriesPerOwner ?? Math.ceil(this.maxEntries / OWNER_SHARE)),
    );
  }

  /** Live entries. */
  get size(): number {
    return this.keys.size;
  }

  /** Live entries of `owner`. */
  heldBy(owner: string): number {
    return this.perOwner.get(owner) ?? 0;
  }

  record(key: string, expiresAt: number, owner: string): ReplayAnswer {
    const now = this.now();
    this.drain(now);
    if (this.keys.has(key)) return 'replayed';
    // Already expired: the verifier refuses such a request before asking; nothing to remember.
    if (expiresAt <= now) return 'new';
    const held = this.perOwner.get(owner) ?? 0;
    if (held >= this.maxEntriesPerOwner) return 'owner-limit';
    if (this.keys.size >= this.maxEntries) return 'full';
    // Its second: the first whose start is at or after expiresAt, so it is never let go early.
    const second = Math.ceil((expiresAt - this.since) / 1000);
    let bucket = this.seconds.get(second);
    if (!bucket) {
      bucket = { keys: [], owners: [] };
      this.seconds.set(second, bucket);
    }
    bucket.keys.push(key);
    bucket.owners.push(owner);
    this.keys.add(key);
    this.perOwner.set(owner, held + 1);
    return 'new';
  }

  /** Lets go of every second that has begun: its entries' requests are refused by their Timestamp now. */
  private drain(now: number): void {
    const through = Math.floor((now - this.since) / 1000);
    if (through <= this.drained) return;
    if (through - this.drained > this.seconds.size) {
      // A long idle time: fewer seconds held than passed.
      for (const second of [...this.seconds.keys()]) if (second <= through) this.letGo(second);
    } else {
      for (let second = this.drained + 1; second <= through; second++) this.letGo(second);
    }
    this.drained = through;
  }

  private letGo(second: number): void {
    const bucket = this.seconds.get(second);
    if (!bucket) return;
    this.seconds.delete(second);
    bucket.keys.forEach((key, i) => {
      this.keys.delete(key);
      const owner = bucket.owners[i] ?? '';
      const held = (this.perOwner.get(owner) ?? 1) - 1;
      if (held > 0) this.perOwner.set(owner, held);
      else this.perOwner.delete(owner);
    });
  }
}

export const REPLAYED_MESSAGE = 'This request was already received; sign each request anew.';
export const OWNER_LIMIT_MESSAGE =
  'Too many signed requests from this user in the last few minutes: the service remembers only so many of ' +
  "one user's requests against replays. Send fewer requests, and try again in a few minutes.";
export const FULL_MESSAGE =
  'The service cannot remember more requests against replays just now. Sign the request anew and try again in a few minutes.';

/**
 * How a request the cache did not take as new is refused: a replay is the signer's doing
 * (Client.AuthFailure), a signer over its bound too but not an authentication failure
 * (Client.RequestLimitExceeded, as EC2 throttles), a full cache is the service's (Server.Unavailable).
 */
export function replayRefusal(answer: Exclude<ReplayAnswer, 'new'>): VbsError {
  switch (answer) {
    case 'replayed':
      return new VbsError('AuthFailure', REPLAYED_MESSAGE);
    case 'owner-limit':
      return new VbsError('RequestLimitExceeded', OWNER_LIMIT_MESSAGE);
    case 'full':
      return new VbsError('Unavailable', FULL_MESSAGE);
  }
}
