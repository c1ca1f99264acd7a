/**
 * The in-memory replay cache (src/security/wssec/replay-cache.ts): it remembers a key exactly until
 * its request's window ends, so what it holds follows rate × window; one signer over its own bound
 * is refused while every other is accepted; the whole cache refuses new keys only when full, which
 * takes several signers at their bound; its default size follows the process's heap limit, and the
 * heap it takes per entry is what docs/security.md states (measured in a child process).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { getHeapStatistics } from 'node:v8';
import { expect } from 'chai';
import {
  BYTES_PER_ENTRY,
  FULL_MESSAGE,
  MemoryReplayCache,
  OWNER_LIMIT_MESSAGE,
  OWNER_SHARE,
  defaultReplayCapacity,
} from '../../../src/security/wssec/replay-cache.js';
import { signEnvelope } from '../../../src/security/wssec/sign.js';
import { CREATE_VOLUME, fixtures, options, outcome } from './helpers.js';

const run = promisify(execFile);
const CACHE_MODULE = new URL('../../../src/security/wssec/replay-cache.js', import.meta.url).href;

describe('WS-Security: replay cache', () => {
  it('reports a key as replayed until it expires, then accepts it again', () => {
    let now = 1_000;
    const cache = new MemoryReplayCache({ now: () => now });
    expect(cache.record('a', 2_000, 'alice')).to.equal('new');
    expect(cache.record('a', 2_000, 'alice')).to.equal('replayed');
    expect(cache.record('a', 2_000, 'bob'), 'whoever sends it').to.equal('replayed');
    expect(cache.record('b', 2_000, 'alice')).to.equal('new');
    now = 1_999;
    expect(cache.record('a', 3_000, 'alice'), 'still live').to.equal('replayed');
    now = 2_000;
    expect(cache.record('a', 3_000, 'alice')).to.equal('new');
    expect(cache.record('a', 3_000, 'alice')).to.equal('replayed');
  });

  it("lets each entry go when its request's window ends: it holds rate × window", () => {
    let now = 0;
    const cache = new MemoryReplayCache({ now: () => now, maxEntries: 1_000_000 });
    // 100 requests/s for 20 minutes, each accepted for 360 s (300 s after Created, 60 s of skew),
    // and some with a short life of their own (Expires 10 s after Created).
    let most = 0;
    for (let i = 0; i < 120_000; i++) {
      now = i * 10;
      const life = i % 10 === 0 ? 10_000 : 360_000;
      expect(cache.record(`k${i}`, now + life, i % 2 === 0 ? 'alice' : 'bob')).to.equal('new');
      most = Math.max(most, cache.size);
    }
    // 90 requests/s live for 360 s, 10/s for 10 s: 32,400 + 100, give or take one second's worth.
    expect(cache.size).to.be.within(32_500 - 100, 32_500 + 100);
    expect(most).to.be.at.most(32_500 + 100);
    expect(cache.heldBy('alice') + cache.heldBy('bob')).to.equal(cache.size);
    now += 400_000;
    expect(cache.record('late', now + 1_000, 'carol')).to.equal('new');
    expect([cache.size, cache.heldBy('alice'), cache.heldBy('bob')]).to.deep.equal([1, 0, 0]);
  });

  it('refuses a signer over its own bound, and only that signer; it is accepted again as its entries expire', () => {
    let now = 0;
    const cache = new MemoryReplayCache({ now: () => now, maxEntries: 1_000, maxEntriesPerOwner: 100 });
    for (let i = 0; i < 100; i++) expect(cache.record(`bob-${i}`, 60_000 + i * 1_000, 'bob')).to.equal('new');
    expect(cache.record('bob-flood', 500_000, 'bob')).to.equal('owner-limit');
    expect(cache.record('bob-0', 500_000, 'bob'), 'a replay is still a replay').to.equal('replayed');
    for (let i = 0; i < 100; i++) expect(cache.record(`alice-${i}`, 300_000, 'alice')).to.equal('new');
    expect(cache.heldBy('bob')).to.equal(100);
    now = 61_000; // bob-0 and bob-1 have expired
    expect(cache.record('bob-again', 500_000, 'bob')).to.equal('new');
    expect(cache.record('bob-again-2', 500_000, 'bob')).to.equal('new');
    expect(cache.record('bob-again-3', 500_000, 'bob')).to.equal('owner-limit');
  });

  it('is full only when several signers hold their bound, and then refuses every new key until entries expire', () => {
    let now = 0;
    const cache = new MemoryReplayCache({ now: () => now, maxEntries: 300, maxEntriesPerOwner: 100 });
    for (const owner of ['alice', 'bob'])
      for (let i = 0; i < 100; i++) expect(cache.record(`${owner}-${i}`, 10_000, owner)).to.equal('new');
    for (let i = 0; i < 100; i++) expect(cache.record(`admin-${i}`, 20_000, 'admin')).to.equal('new');
    expect(cache.record('carol-1', 20_000, 'carol')).to.equal('full');
    expect(cache.size).to.equal(300);
    now = 10_000;
    expect(cache.record('carol-1', 20_000, 'carol')).to.equal('new');
  });

  it('takes its default size from the heap limit (not from anything else), one eighth of it per signer', () => {
    const expected = Math.floor(getHeapStatistics().heap_size_limit / 4 / BYTES_PER_ENTRY);
    expect(defaultReplayCapacity()).to.equal(expected);
    const cache = new MemoryReplayCache();
    expect(cache.maxEntries).to.equal(expected);
    expect(cache.maxEntriesPerOwner).to.equal(Math.ceil(expected / OWNER_SHARE));
    expect(OWNER_SHARE).to.equal(8);
  });

  it(`takes at most BYTES_PER_ENTRY (${BYTES_PER_ENTRY}) bytes of heap per live entry`, async function () {
    this.timeout(60_000);
    // 300,000 entries of verify.ts's 22-character keys, 20 signers, expiries spread over 360 s.
    const script = `
      const { MemoryReplayCache } = await import(${JSON.stringify(CACHE_MODULE)});
      const { randomBytes } = await import('node:crypto');
      const n = 300000;
      const owners = Array.from({ length: 20 }, (_, i) => 'user-' + i);
      const now = Date.now();
      gc(); gc();
      // Measured before any key exists: the keys' strings are what the cache holds, so they count.
      const before = process.memoryUsage().heapUsed;
      const cache = new MemoryReplayCache({ maxEntries: n, maxEntriesPerOwner: n });
      for (let i = 0; i < n; i++)
        cache.record(randomBytes(16).toString('base64url'), now + 60000 + (i % 360) * 1000, owners[i % 20]);
      gc(); gc();
      const after = process.memoryUsage().heapUsed;
      if (cache.size !== n) throw new Error('size ' + cache.size);
      process.stdout.write(String((after - before) / n));
    `;
    const { stdout } = await run(process.execPath, ['--expose-gc', '--input-type=module', '-e', script]);
    const perEntry = Number(stdout);
    console.log(`      (${perEntry.toFixed(1)} bytes per entry)`);
    expect(perEntry).to.be.above(20).and.at.most(BYTES_PER_ENTRY);
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

  it('the verifier refuses a signer over its bound with RequestLimitExceeded, a full cache with Unavailable', () => {
    const { alice } = fixtures();
    const cache = new MemoryReplayCache({ now: () => Date.now() + 5_000, maxEntries: 3, maxEntriesPerOwner: 2 });
    const opts = options({ replayCache: { record: (...a) => cache.record(...a), since: cache.since - 60_000 } });
    expect(outcome(signEnvelope(CREATE_VOLUME, alice), opts)).to.equal('accepted:alice');
    expect(outcome(signEnvelope(CREATE_VOLUME, alice), opts)).to.equal('accepted:alice');
    expect(outcome(signEnvelope(CREATE_VOLUME, alice), opts)).to.equal(`RequestLimitExceeded: ${OWNER_LIMIT_MESSAGE}`);
    cache.record('someone-else', Date.now() + 60_000, 'bob');
    expect(cache.size).to.equal(3);
    const full = new MemoryReplayCache({ now: () => Date.now() + 5_000, maxEntries: 1, maxEntriesPerOwner: 1 });
    full.record('bob', Date.now() + 60_000, 'bob');
    const fullOpts = options({ replayCache: { record: (...a) => full.record(...a), since: full.since - 60_000 } });
    expect(outcome(signEnvelope(CREATE_VOLUME, alice), fullOpts)).to.equal(`Unavailable: ${FULL_MESSAGE}`);
  });
});
