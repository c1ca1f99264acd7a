/**
 * Describe* filters through the real frontend: the patterns that made a worker spin for minutes with
 * a backtracking RegExp (`****************Z` against a volume ID, a crafted pattern against a
 * 255-character snapshot description) are answered in milliseconds, twenty of them at once, and the
 * filter caps are refused with InvalidParameterValue.
 */
import { expect } from 'chai';
import { schema, type AmazonEC2PortTypeOperations, type FilterType } from '../../src/generated/frontend.js';
import { signedAs } from '../../src/security/wssec/sign.js';
import { SoapClient } from '../../src/soap/client.js';
import { faultOf, waitForVolume, type Ec2Client } from '../support/ec2-client.js';
import { startCluster, type Cluster } from '../support/services.js';

const ZONE = 'vbs-local-1a';
const DESCRIPTION = 'a'.repeat(255);
/** Each within every cap (255 characters, 16 wildcards); each took a RegExp seconds to minutes. */
const WORST = [
  `${'*'.repeat(16)}Z`,
  `${'*a'.repeat(8)}${'*'.repeat(7)}Z`,
  `*${'a'.repeat(200)}b*`,
  `*${'a?'.repeat(8)}${'a'.repeat(200)}b*`,
  `${'a*'.repeat(8)}${'a?'.repeat(4)}b*x`,
];
/** A generous bound: one such request took a worker minutes; an honest one takes a few ms here. */
const FAST_MS = 500;

const filter = (name: string, values: readonly string[]): FilterType => ({
  name,
  valueSet: { item: values.map((value) => ({ value })) },
});

describe('Describe* filters through the frontend', function () {
  this.timeout(60_000);
  let cluster: Cluster;
  let client: Ec2Client;
  let volumeId: string;
  let snapshotId: string;

  const timed = async <T>(call: () => Promise<T>): Promise<{ answer: T; ms: number }> => {
    const started = Date.now();
    const answer = await call();
    return { answer, ms: Date.now() - started };
  };

  before(async () => {
    cluster = await startCluster();
    // A client that gives up well before the test does: a request that spins fails the test, not the run.
    client = new SoapClient<AmazonEC2PortTypeOperations>(schema, 'AmazonEC2PortType', {
      url: cluster.frontendUrl,
      caPem: cluster.caPem,
      envelope: signedAs(cluster.users.alice),
      timeoutMs: 10_000,
    });
    volumeId = (await client.call('CreateVolume', { size: '1', availabilityZone: ZONE })).volumeId;
    await waitForVolume(client, volumeId, ['available']);
    snapshotId = (await client.call('CreateSnapshot', { volumeId, description: DESCRIPTION })).snapshotId;
  });
  after(async () => {
    client.close();
    await cluster.stop();
  });

  it('answers the worst volume-id patterns in milliseconds, and still matches what they should', async () => {
    const { answer, ms } = await timed(() =>
      client.call('DescribeVolumes', { volumeSet: {}, filterSet: { item: [filter('volume-id', WORST)] } }),
    );
    expect(answer.volumeSet.item ?? []).to.deep.equal([]);
    expect(ms).to.be.below(FAST_MS);
    const some = await client.call('DescribeVolumes', {
      volumeSet: {},
      filterSet: { item: [filter('volume-id', ['vol-*', ...WORST]), filter('size', ['1'])] },
    });
    expect(some.volumeSet.item?.map((v) => v.volumeId)).to.deep.equal([volumeId]);
  });

  it('answers 20 worst patterns against a 255-character description in milliseconds', async () => {
    const patterns = Array.from({ length: 20 }, (_, i) => WORST[i % WORST.length] ?? '*');
    const { answer, ms } = await timed(() =>
      client.call('DescribeSnapshots', { snapshotSet: {}, filterSet: { item: [filter('description', patterns)] } }),
    );
    expect(answer.snapshotSet.item ?? []).to.deep.equal([]);
    expect(ms).to.be.below(FAST_MS);
    const found = await client.call('DescribeSnapshots', {
      snapshotSet: {},
      filterSet: { item: [filter('description', [`${'a'.repeat(100)}*a?a?a`])] },
    });
    expect(found.snapshotSet.item?.map((s) => s.snapshotId)).to.deep.equal([snapshotId]);
  });

  it('refuses filters past their caps with InvalidParameterValue', async () => {
    const refused = async (filters: readonly FilterType[]): Promise<string> =>
      (await faultOf(client.call('DescribeVolumes', { volumeSet: {}, filterSet: { item: filters } }))).code;
    expect(await refused(Array.from({ length: 21 }, () => filter('status', ['available'])))).to.equal(
      'InvalidParameterValue',
    );
    expect(
      await refused([
        filter(
          'volume-id',
          Array.from({ length: 201 }, (_, i) => `vol-${i}`),
        ),
      ]),
    ).to.equal('InvalidParameterValue');
    expect(await refused([filter('volume-id', ['v'.repeat(256)])])).to.equal('InvalidParameterValue');
    expect(await refused([filter('volume-id', [`${'*'.repeat(17)}Z`])])).to.equal('InvalidParameterValue');
    expect(
      await refused([
        filter(
          'volume-id',
          Array.from({ length: 21 }, (_, i) => `vol-${i}*`),
        ),
      ]),
    ).to.equal('InvalidParameterValue');
  });
});
