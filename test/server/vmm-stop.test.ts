/**
 * The VMM Delegate stopped by SIGTERM or SIGINT while an attach is under way on its hypervisor: it
 * lets the attach finish and answers it (the frontend records the attachment), and exits 0, rather
 * than closing the driver under it. The hypervisor is the faithful fake xl, behind a wrapper that
 * makes block-attach take 2 s and says when it began.
 */
import { expect } from 'chai';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STOP_GRACE_MS } from '../../src/soap/https-host.js';
import { ec2Client, waitForVolume, type Ec2Client } from '../support/ec2-client.js';
import { ifMade } from '../support/if-made.js';
import { xenOwned } from '../support/instance-owners.js';
import { FAKE_BIN } from '../support/repo.js';
import { startCluster, waitForInstances, type Cluster } from '../support/services.js';
import { waitFor } from '../support/wait.js';
import { signalAndWait } from './stop-helpers.js';

const INSTANCE = 'i-xenslow000000001';
const ATTACH_MS = 2000;

describe('VMM Delegate stopped by a signal during an attach', function () {
  this.timeout(120_000);

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    describe(signal, () => {
      let dir: string | undefined;
      let cluster: Cluster;
      let client: Ec2Client;
      const marker = (): string => join(dir ?? expect.fail('no dir'), 'attach-started');

      before(async () => {
        dir = mkdtempSync(join(tmpdir(), 'vbs-vmm-stop-'));
        writeFileSync(
          join(dir, 'domains.json'),
          JSON.stringify({ domains: [{ name: INSTANCE, disks: [], ...xenOwned('alice') }] }),
        );
        writeFileSync(join(dir, 'xl.log'), '');
        const wrapper = join(dir, 'bin');
        mkdirSync(wrapper);
        writeFileSync(
          join(wrapper, 'xl'),
          `#!/bin/sh\nif [ "$1" = block-attach ]; then : > "$VBS_TEST_ATTACH_STARTED"; sleep ${ATTACH_MS / 1000}; fi\nexec "$VBS_TEST_REAL_XL" "$@"\n`,
        );
        chmodSync(join(wrapper, 'xl'), 0o755);
        cluster = await startCluster({
          vmms: [{ driver: 'xen' }],
          env: {
            // The fakes' xenstore-read too: the driver reads the domain's owner with it.
            PATH: `${wrapper}:${FAKE_BIN}:${process.env['PATH'] ?? ''}`,
            FAKE_XL_STATE: dir,
            FAKE_XL_LOG: join(dir, 'xl.log'),
            VBS_TEST_ATTACH_STARTED: marker(),
            VBS_TEST_REAL_XL: join(FAKE_BIN, 'xl'),
          },
        });
        client = ec2Client(cluster);
        await waitForInstances(cluster, cluster.vmms[0] ?? expect.fail('no VMM Delegate'), [INSTANCE]);
      });
      after(async () => {
        ifMade(client)?.close();
        await ifMade(cluster)?.stop();
        if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
      });

      it('finishes the attach on the hypervisor, answers it, and exits 0', async () => {
        const vmm = cluster.vmms[0] ?? expect.fail('no VMM Delegate');
        const { volumeId } = await client.call('CreateVolume', { size: '1', availabilityZone: 'vbs-local-1a' });
        await waitForVolume(client, volumeId, ['available']);
        const attach = client.call('AttachVolume', { volumeId, instanceId: INSTANCE, device: '/dev/xvdb' });
        await waitFor(
          'block-attach under way',
          () => existsSync(marker()),
          (e) => e,
        );
        const exit = await signalAndWait(vmm, signal, STOP_GRACE_MS + 20_000);
        expect({ code: exit.code, signal: exit.signal }, 'exit').to.deep.equal({ code: 0, signal: null });
        expect(exit.afterMs, 'exit within the bound').to.be.below(STOP_GRACE_MS);
        expect(await attach).to.include({ status: 'attached' });
        const file = join(cluster.home, 'volumes', 'volumes', `${volumeId}.img`);
        const state = JSON.parse(readFileSync(join(dir ?? '', 'domains.json'), 'utf8')) as {
          domains: { name: string; disks?: { pdev_path: string }[] }[];
        };
        const disks = state.domains.find((d) => d.name === INSTANCE)?.disks ?? [];
        expect(disks.map((d) => d.pdev_path)).to.deep.equal([file]);
        const v = (await client.call('DescribeVolumes', { volumeSet: { item: [{ volumeId }] } })).volumeSet.item?.[0];
        expect(v?.attachmentSet.item?.[0]).to.include({ instanceId: INSTANCE, status: 'attached' });
        expect(cluster.logLines(vmm).find((l) => l['message'] === 'vmm delegate stopped')).to.deep.include({
          cutOffRequests: 0,
        });
        console.log(`      stopped ${exit.afterMs} ms after ${signal}`);
      });
    });
  }
});
