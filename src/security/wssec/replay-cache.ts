/**
 * Remembers the signatures of accepted requests until their Timestamp would refuse them anyway, so a
 * captured request cannot be sent a second time (Eucalyptus kept the same cache). In memory, per
 * process: a deployment with several frontends behind one address needs a shared cache instead.
 *
 * Bounded: when full of live entries it fails closed (reports every new request as seen) rather than
 * evicting one, since evicting would let that request be replayed.
 */

export interface ReplayCache {
  /** True if `key` was already recorded and has not expired; otherwise records it until `expiresAt` (epoch ms). */
  seen(key: string, expiresAt: number): boolean;
  /**
   * Since when (epoch ms) the cache remembers. A request signed earlier may have been accepted before
   * a restart, which this cache would not know: the verifier refuses it.
   */
  readonly since: number;
}

export interface MemoryReplayCacheOptions {
  readonly now?: () => number;
  /** Live entries at most; beyond that every new key is refused. */
  readonly maxEntries?: number;
  /** How often expired entries are swept out, in ms. */
  readonly sweepIntervalMs?: number;
}

export class MemoryReplayCache implements ReplayCache {
  private readonly entries = new Map<string, number>();
  private readonly now: () => number;
  private readonly maxEntries: number;
  private readonly sweepIntervalMs: number;
  private lastSweep: number;
  readonly since: number;

  constructor(options: MemoryReplayCacheOptions = {}) {
    this.now = options.now ?? Date.now;
    this.since = this.now();
    this.maxEntries = options.maxEntries ?? 500_000;
    this.sweepIntervalMs = options.sweepIntervalMs ?? 10_000;
    this.lastSweep = this.now();
  }

  get size(): number {
    return this.entries.size;
  }

  seen(key: string, expiresAt: number): boolean {
    const now = this.now();
    if (now - this.lastSweep >= this.sweepIntervalMs) this.sweep(now);
    const known = this.entries.get(key);
    if (known !== undefined && known > now) return true;
    if (known === undefined && this.entries.size >= this.maxEntries) {
      this.sweep(now);
      if (this.entries.size >= this.maxEntries) return true;
    }
    this.entries.set(key, expiresAt);
    return false;
  }

  private sweep(now: number): void {
    for (const [key, expiresAt] of this.entries) if (expiresAt <= now) this.entries.delete(key);
    this.lastSweep = now;
  }
}
