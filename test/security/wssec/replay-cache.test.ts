/**
 * The in-memory replay cache: remembers a key until its expiry, forgets it after, sweeps expired
 * entries, and fails closed (reports "seen") rather than evicting a live entry when full.
 */
import { expect } from 'chai';
import { MemoryReplayCache } from '../../../src/security/wssec/replay-cache.js';
import { signEnvelope } from '../../../src/security/wssec/sign.js';
import { CREATE_VOLUME, fixtures, options, outcome } from './helpers.js';

describe('WS-Security: replay cache', () => {
  it('reports a key as seen until it expires, then accepts it again', () => {
    let now = 1_000;
    const cache = new MemoryReplayCache({ now: () => now });
    expect(cache.seen('a', 2_000)).to.equal(false);
    expect(cache.seen('a', 2_000)).to.equal(true);
    expect(cache.seen('b', 2_000)).to.equal(false);
    now = 2_000;
    expect(cache.seen('a', 3_000)).to.equal(false);
    expect(cache.seen('a', 3_000)).to.equal(true);
  });

  it('sweeps expired entries so memory follows the live requests only', () => {
    let now = 0;
    const cache = new MemoryReplayCache({ now: () => now, sweepIntervalMs: 100 });
    for (let i = 0; i < 1000; i++) cache.seen(`k${i}`, 50);
    expect(cache.size).to.equal(1000);
    now = 200;
    cache.seen('late', 1_000);
    expect(cache.size).to.equal(1);
  });

  it('fails closed when full of live entries, and recovers once they expire', () => {
    let now = 0;
    const cache = new MemoryReplayCache({ now: () => now, maxEntries: 2 });
    expect(cache.seen('a', 100)).to.equal(false);
    expect(cache.seen('b', 100)).to.equal(false);
    expect(cache.seen('c', 100)).to.equal(true);
    expect(cache.seen('a', 100)).to.equal(true);
    now = 100;
    expect(cache.seen('c', 200)).to.equal(false);
  });

  it('refuses a request signed before the cache began: after a restart, a replay of an earlier message', () => {
    const { alice } = fixtures();
    const message = signEnvelope(CREATE_VOLUME, alice, { now: new Date(Date.now() - 10_000) });
    const running = options({ replayCache: new MemoryReplayCache({ now: () => Date.now() - 60_000 }) });
    expect(outcome(message, running)).to.equal('accepted:alice');
    // The same bytes, to a process that started (and began remembering) after they were signed.
    const restarted = options({ replayCache: new MemoryReplayCache() });
    expect(outcome(message, restarted)).to.equal(
      'AuthFailure: The request was signed before this service started; sign it again.',
    );
    expect(outcome(signEnvelope(CREATE_VOLUME, alice), restarted)).to.equal('accepted:alice');
  });
});
