/**
 * The replay cache's bounds, through the REAL running frontend (startCluster) with two workers, so
 * that the one cache in the primary is what is counted: a user over their share of it
 * (replayCacheEntriesPerUser, small here) is refused with Client.RequestLimitExceeded while another
 * user's signed request is still accepted; a user's entries expire with their requests' Timestamp
 * window (Expires + clockSkewSeconds), after which that user is served again; and the bounds the
 * primary holds are the config's, not a multiple of the workers (it logs them at start).
 */
import { expect } from 'chai';
import type { RawAnswer } from '../../support/raw-soap.js';
import { startCluster, type Cluster } from '../../support/services.js';
import { ifMade } from '../../support/if-made.js';
import { signEnvelope, type Signer } from '../../../src/security/wssec/sign.js';
import { answerOf, ec2Body, expectSignedFault, post } from './e2e-helpers.js';

const PER_USER = 20;
/** A request's Timestamp life here (s); with clockSkewSeconds 1 its entry lives about 3 s. */
const TTL_SECONDS = 2;
const DESCRIBE = ec2Body('DescribeVolumes', { volumeSet: {} });

describe('e2e: replay protection that one user cannot exhaust', function () {
  this.timeout(90_000);
  let cluster: Cluster | undefined;
  const live = (): Cluster => cluster ?? expect.fail('no cluster');

  before(async () => {
    cluster = await startCluster({
      frontend: { workers: 2, replayCacheEntries: 1_000, replayCacheEntriesPerUser: PER_USER, clockSkewSeconds: 1 },
    });
  });
  after(async () => {
    await ifMade(cluster)?.stop();
  });

  const send = (
    signer: Signer,
    text = signEnvelope(DESCRIBE, signer, { ttlSeconds: TTL_SECONDS }),
  ): Promise<RawAnswer> => post(live(), text, 'DescribeVolumes');
  const outcomes = (answers: readonly RawAnswer[]): Record<string, number> => {
    const counts: Record<string, number> = {};
    for (const a of answers) {
      const { element, code } = answerOf(a);
      const key = element === 'Fault' ? (code ?? '?') : element;
      counts[key] = (counts[key] ?? 0) + 1;
    }
    return counts;
  };

  it('holds the configured bounds in the primary, whatever the number of workers', () => {
    const line = live()
      .logLines(live().frontend)
      .find((l) => l['message'] === 'replay cache');
    expect(line, 'the primary logs its replay cache bounds').to.deep.include({
      maxEntries: 1_000,
      maxEntriesPerUser: PER_USER,
    });
  });

  it("refuses the flooding user with RequestLimitExceeded, and still accepts another user's request", async () => {
    const { alice, bob } = live().users;
    const first = signEnvelope(DESCRIBE, bob, { ttlSeconds: TTL_SECONDS });
    // bob floods both workers at once: exactly his share is accepted, counted in the one cache.
    const flood = await Promise.all([send(bob, first), ...Array.from({ length: 3 * PER_USER }, () => send(bob))]);
    expect(outcomes(flood)).to.deep.equal({
      DescribeVolumesResponse: PER_USER,
      RequestLimitExceeded: 2 * PER_USER + 1,
    });
    const refused = flood.find((a) => answerOf(a).code === 'RequestLimitExceeded') ?? expect.fail('no refusal');
    expect(await expectSignedFault(live(), refused, 'RequestLimitExceeded', 503)).to.match(
      /^Too many signed requests from this user/,
    );
    // While bob is refused, alice is served, and a replay is still a replay whoever is at the limit.
    const aliceRequest = signEnvelope(DESCRIBE, alice, { ttlSeconds: TTL_SECONDS });
    expect(answerOf(await send(alice, aliceRequest))).to.deep.include({
      status: 200,
      element: 'DescribeVolumesResponse',
    });
    expect(answerOf(await send(alice, aliceRequest)).code).to.equal('AuthFailure');
    expect(answerOf(await send(bob, first)).code, 'a replay of an accepted request').to.equal('AuthFailure');
    expect(answerOf(await send(bob)).code).to.equal('RequestLimitExceeded');
  });

  it("lets a user's entries go when their requests' window ends: the user is served again", async () => {
    const { bob } = live().users;
    // Entries from the test before (or this one) live Expires (2 s) + skew (1 s) after Created.
    for (let i = 0; i < PER_USER; i++) await send(bob);
    expect(answerOf(await send(bob)).code).to.equal('RequestLimitExceeded');
    await new Promise((r) => setTimeout(r, (TTL_SECONDS + 1 + 1.5) * 1000));
    const again = await Promise.all(Array.from({ length: PER_USER + 5 }, () => send(bob)));
    expect(outcomes(again)).to.deep.equal({ DescribeVolumesResponse: PER_USER, RequestLimitExceeded: 5 });
  });
});
