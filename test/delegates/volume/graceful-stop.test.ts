/**
 * The Volume Delegate stopped by SIGTERM or SIGINT while a `zero` creation runs (a real dd): it stops
 * the job itself (its dd is killed by the delegate, not left behind and not by signal-exit), leaves
 * the job journaled as running, and exits 0; started again, it takes the job again and the volume
 * becomes available, full size.
 */
import { expect } from 'chai';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Journal } from '../../../src/delegates/volume/journal.js';
import { STOP_GRACE_MS } from '../../../src/soap/https-host.js';
import { ec2Client, waitForVolume, type Ec2Client } from '../../support/ec2-client.js';
import { ifMade } from '../../support/if-made.js';
import { startCluster, type Cluster } from '../../support/services.js';
import { waitFor } from '../../support/wait.js';
import { alive, processes, signalAndWait } from '../../server/stop-helpers.js';
import { partialFileOf, partialSizeOf } from '../../support/partial-files.js';

const GiB = 1024 ** 3;

describe('Volume Delegate stopped by a signal during a zero creation', function () {
  this.timeout(180_000);

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    describe(signal, () => {
      let cluster: Cluster;
      let client: Ec2Client;
      before(async () => {
        cluster = await startCluster();
        client = ec2Client(cluster);
      });
      after(async () => {
        ifMade(client)?.close();
        await ifMade(cluster)?.stop();
      });

      it('kills its dd, keeps the job journaled as running, exits 0; restarted, it finishes the volume', async () => {
        const delegate = cluster.delegates[0] ?? expect.fail('no delegate');
        const delegatePid = delegate.child.pid ?? expect.fail('no PID');
        const { volumeId } = await client.call('CreateVolume', {
          size: '2',
          availabilityZone: 'vbs-local-1a',
          volumeType: 'zero',
        });
        const dir = join(cluster.home, 'volumes', 'volumes');
        const file = join(dir, `${volumeId}.img`);
        // The delegate's own dd, and well under way, so that the signal lands in the middle of the job.
        await waitFor(
          'zero-fill under way',
          () => partialSizeOf(dir, volumeId),
          (n) => n > 64 * 1024 * 1024,
        );
        const partial = partialFileOf(dir, volumeId) ?? expect.fail('no partial file');
        const isOurDd = (argv: readonly string[]): boolean => argv[0] === 'dd' && argv.includes(`of=${partial}`);
        const dd = processes().find((p) => isOurDd(p.argv)) ?? expect.fail('no dd running');
        expect(dd.ppid, 'dd is a child of the delegate').to.equal(delegatePid);

        const exit = await signalAndWait(delegate, signal, STOP_GRACE_MS + 20_000);
        expect({ code: exit.code, signal: exit.signal }, 'exit').to.deep.equal({ code: 0, signal: null });
        expect(exit.afterMs, 'exit within the bound').to.be.below(STOP_GRACE_MS);
        expect(alive(dd.pid), 'dd is gone').to.equal(false);
        expect(processes().filter((p) => isOurDd(p.argv))).to.deep.equal([]);
        expect(existsSync(file), 'the volume file is not made yet').to.equal(false);
        const journal = new Journal(join(cluster.home, 'volume-delegate-vd-1.journal'));
        try {
          expect(
            journal.running().map((j) => j.resourceId),
            'journaled as running',
          ).to.include(volumeId);
        } finally {
          journal.close();
        }
        const lines = cluster.logLines(delegate);
        expect(lines.find((l) => l['message'] === 'job stopped; the next start runs it again')).to.deep.include({
          resourceId: volumeId,
        });
        expect(lines.find((l) => l['message'] === 'volume delegate stopped')).to.deep.include({ stoppedJobs: 1 });
        expect(await waitForVolume(client, volumeId, ['creating'])).to.equal('creating');

        await cluster.restart(delegate);
        expect(await waitForVolume(client, volumeId, ['available', 'error'], 90_000)).to.equal('available');
        expect(statSync(file).size).to.equal(2 * GiB);
        const again = cluster
          .logLines(delegate)
          .find((l) => l['message'] === 'job interrupted by a restart; starting it again');
        expect(again?.['resourceId']).to.equal(volumeId);
        console.log(`      stopped ${exit.afterMs} ms after ${signal}`);
      });
    });
  }
});
