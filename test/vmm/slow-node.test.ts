/**
 * A hypervisor node that does not answer in time (a Xen node whose xl hangs in block-attach or
 * block-detach: the faithful fake xl on its PATH, held until the test lets it go). The frontend waits
 * only vmmCallTimeoutSeconds for the VMM Delegate; then the outcome is unknown, the disk may still
 * come or go, and nothing may be concluded from the silence:
 *  - AttachVolume answers "attaching", the volume stays in-use, so that it cannot be attached
 *    read-write to another instance meanwhile; the node's next registrations settle it: attached when
 *    the hypervisor holds the disk, ended (the volume available) when it does not;
 *  - DetachVolume answers "detaching", and the attachment ends once the hypervisor has let it go.
 * A node that answers in time that its hypervisor did not (libxl gave up waiting for a guest that
 * holds the disk: FAKE_XL_GUEST_HOLDS) is taken the same way: "detaching", settled by what it holds.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, waitForInstances, type Cluster } from '../support/services.js';
import { ec2Client, faultOf, waitForVolume, type Ec2Client } from '../support/ec2-client.js';
import { FAKE_BIN } from '../support/repo.js';
import { ifMade } from '../support/if-made.js';
import { xenOwned } from '../support/instance-owners.js';
import { waitFor } from '../support/wait.js';

const ZONE = 'vbs-local-1a';
const A = 'i-slow000000000001';
const B = 'i-slow000000000002';
/** How long the frontend waits for the node here. */
const CALL_TIMEOUT_SECONDS = 2;

describe('a hypervisor node that does not answer in time', function () {
  this.timeout(120_000);
  let cluster: Cluster | undefined;
  let client: Ec2Client | undefined;
  const live = (): Cluster => cluster ?? expect.fail('no cluster');
  const api = (): Ec2Client => client ?? expect.fail('no client');
  let xenState: string;
  let release: string;

  /** From now on xl's block-attach and block-detach hang until release() (or the node's timeout). */
  const hold = (): void => rmSync(release, { force: true });
  const letGo = (): void => writeFileSync(release, '');

  async function newVolume(): Promise<string> {
    const { volumeId } = await api().call('CreateVolume', { size: '1', availabilityZone: ZONE });
    await waitForVolume(api(), volumeId, ['available']);
    return volumeId;
  }
  const view = async (volumeId: string) =>
    (await api().call('DescribeVolumes', { volumeSet: { item: [{ volumeId }] } })).volumeSet.item?.[0];
  const logged = (service: 'frontend' | 'vmm', message: string, volumeId: string) =>
    live()
      .logLines(service === 'frontend' ? live().frontend : (live().vmms[0] ?? expect.fail('no vmm')))
      .find((l) => String(l['message']).startsWith(message) && l['volumeId'] === volumeId);

  before(async () => {
    xenState = mkdtempSync(join(tmpdir(), 'vbs-slow-node-'));
    release = join(xenState, 'release');
    letGo();
    writeFileSync(
      join(xenState, 'domains.json'),
      JSON.stringify({
        domains: [
          { name: A, disks: [], ...xenOwned('alice') },
          { name: B, disks: [], ...xenOwned('alice') },
        ],
      }),
    );
    const c = await startCluster({
      frontend: { vmmCallTimeoutSeconds: CALL_TIMEOUT_SECONDS },
      vmms: [{ driver: 'xen' }],
      env: {
        PATH: `${FAKE_BIN}:${process.env['PATH'] ?? ''}`,
        FAKE_XL_STATE: xenState,
        FAKE_XL_HANG: 'block-',
        FAKE_XL_RELEASE: release,
        // The guests never let go of xvde: libxl's block-detach gives up waiting for them.
        FAKE_XL_GUEST_HOLDS: 'xvde',
      },
    });
    cluster = c;
    client = ec2Client(c);
    await waitForInstances(c, c.vmms[0] ?? expect.fail('no vmm'), [A, B]);
  });
  after(async () => {
    letGo();
    ifMade(client)?.close();
    await ifMade(cluster)?.stop();
    rmSync(xenState, { recursive: true, force: true });
  });

  it('answers "attaching", keeps the volume from a second writer, and settles it attached once the hypervisor holds it', async () => {
    const volumeId = await newVolume();
    hold();
    const started = Date.now();
    const r = await api().call('AttachVolume', { volumeId, instanceId: A, device: '/dev/xvdb' });
    expect(r.status).to.equal('attaching');
    expect(Date.now() - started).to.be.within(CALL_TIMEOUT_SECONDS * 1000, CALL_TIMEOUT_SECONDS * 1000 + 3000);
    const during = await view(volumeId);
    expect(during?.status).to.equal('in-use');
    expect(during?.attachmentSet.item?.[0]).to.include({ instanceId: A, status: 'attaching' });
    // The node may still attach it to A: it must not be attached read-write anywhere else meanwhile.
    const fault = await faultOf(api().call('AttachVolume', { volumeId, instanceId: B, device: '/dev/xvdb' }));
    expect(fault.code).to.equal('VolumeInUse');
    // The hypervisor finishes, long after the frontend stopped waiting; the node's registrations tell.
    letGo();
    const settled = await waitFor(
      'attachment settled',
      () => view(volumeId),
      (v) => v?.attachmentSet.item?.[0]?.status !== 'attaching',
      30_000,
    );
    expect(settled?.status).to.equal('in-use');
    expect(settled?.attachmentSet.item?.[0]).to.include({ instanceId: A, device: '/dev/xvdb', status: 'attached' });
    expect(logged('frontend', 'attach outcome unknown', volumeId)).to.not.equal(undefined);
    expect(logged('frontend', 'attachment settled by reconciliation', volumeId)).to.include({ was: 'attaching' });
    await api().call('DetachVolume', { volumeId });
  });

  it('settles an unanswered attach as ended, the volume available, when the hypervisor never attached it', async () => {
    const volumeId = await newVolume();
    hold();
    const r = await api().call('AttachVolume', { volumeId, instanceId: A, device: '/dev/xvdc' });
    expect(r.status).to.equal('attaching');
    expect(await waitForVolume(api(), volumeId, ['available'], 30_000)).to.equal('available');
    expect((await view(volumeId))?.attachmentSet.item ?? []).to.deep.equal([]);
    // The node gave up on xl at its own limit, and says it does not know whether xl acted.
    await waitFor(
      'the node gave up on xl',
      () => logged('vmm', 'attach: the hypervisor did not finish in time', volumeId),
      (l) => l !== undefined,
      30_000,
    );
    // It did not: the volume may now go elsewhere, read-write.
    letGo();
    const other = await api().call('AttachVolume', { volumeId, instanceId: B, device: '/dev/xvdc' });
    expect(other.status).to.equal('attached');
    await api().call('DetachVolume', { volumeId });
  });

  it('answers "detaching" to an unanswered detach, and ends the attachment once the hypervisor let the disk go', async () => {
    const volumeId = await newVolume();
    letGo();
    await api().call('AttachVolume', { volumeId, instanceId: B, device: '/dev/xvdd' });
    hold();
    const r = await api().call('DetachVolume', { volumeId });
    expect(r.status).to.equal('detaching');
    expect((await view(volumeId))?.status).to.equal('in-use');
    letGo();
    expect(await waitForVolume(api(), volumeId, ['available'], 30_000)).to.equal('available');
    expect(logged('frontend', 'detach outcome unknown', volumeId)).to.not.equal(undefined);
  });

  it('answers "detaching" when the node says its hypervisor did not finish, and settles it attached while the guest holds the disk', async () => {
    const volumeId = await newVolume();
    letGo();
    await api().call('AttachVolume', { volumeId, instanceId: A, device: '/dev/xvde' });
    const started = Date.now();
    const r = await api().call('DetachVolume', { volumeId });
    // The node answered at once (no timeout): the hypervisor may still let the disk go.
    expect(Date.now() - started).to.be.below(CALL_TIMEOUT_SECONDS * 1000);
    expect(r.status).to.equal('detaching');
    await waitFor(
      'the node says so',
      () => logged('vmm', 'detach: the hypervisor did not finish in time', volumeId),
      (l) => l !== undefined,
      10_000,
    );
    const settled = await waitFor(
      'detach settled',
      () => view(volumeId),
      (v) => v?.attachmentSet.item?.[0]?.status !== 'detaching',
      30_000,
    );
    expect(settled?.status).to.equal('in-use');
    expect(settled?.attachmentSet.item?.[0]).to.include({ instanceId: A, device: '/dev/xvde', status: 'attached' });
  });
});
