/** Several Volume Delegates: the frontend spreads jobs over them and skips one that does not answer. */
import { expect } from 'chai';
import { startCluster, type Cluster } from '../support/services.js';
import { ec2Client, waitForVolume, type Ec2Client } from '../support/ec2-client.js';

describe('several Volume Delegates', function () {
  this.timeout(60_000);
  let cluster: Cluster;
  let client: Ec2Client;

  before(async () => {
    cluster = await startCluster({ delegates: 2 });
    client = ec2Client(cluster);
  });
  after(async () => {
    client.close();
    await cluster.stop();
  });

  const jobsOf = (i: number): number =>
    cluster
      .logLines(cluster.delegates[i] ?? cluster.frontend)
      .filter((l) => l['operation'] === 'CreateVolumeFile' && l['outcome'] === 'ok').length;

  it('uses both when both answer', async () => {
    for (let i = 0; i < 4; i++) {
      const { volumeId } = await client.call('CreateVolume', { size: '1', availabilityZone: 'vbs-local-1a' });
      expect(await waitForVolume(client, volumeId, ['available', 'error'])).to.equal('available');
    }
    expect(jobsOf(0)).to.be.greaterThan(0);
    expect(jobsOf(1)).to.be.greaterThan(0);
  });

  it('skips a delegate that is down, so every creation still succeeds', async () => {
    const down = cluster.delegates[0];
    if (!down) throw new Error('no delegate');
    await cluster.kill(down, 'SIGKILL');
    const before = jobsOf(1);
    for (let i = 0; i < 4; i++) {
      const { volumeId } = await client.call('CreateVolume', { size: '1', availabilityZone: 'vbs-local-1a' });
      expect(await waitForVolume(client, volumeId, ['available', 'error'])).to.equal('available');
    }
    expect(jobsOf(1) - before).to.equal(4);
  });
});
