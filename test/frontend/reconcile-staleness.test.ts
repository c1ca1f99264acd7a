/**
 * A VMM Delegate's registration lists the disks its hypervisor held when it looked, which may be
 * before an attach or a detach the frontend has since finished (the registration waited in a busy
 * frontend process while another went on). Reconciliation must not take that list as evidence
 * against a record that changed since: a disk attached a moment ago is not "lost", a disk detached a
 * moment ago is not a stray to adopt. Once the records are older than INVENTORY_STALENESS_MS, the same
 * lists do repair them.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/frontend/store/sqlite-store.js';
import type { Deps } from '../../src/frontend/usecases/deps.js';
import { INVENTORY_STALENESS_MS, reconcile } from '../../src/frontend/usecases/register-vmm.js';
import type { VmmDelegates, VmmInventory, VolumeDelegates } from '../../src/frontend/usecases/delegate-ports.js';
import { silentLogger } from '../../src/log.js';
import { volumeRecord } from '../support/records.js';

const HOST = 'node-1';
const INSTANCE = 'i-0000000000000001a';

/** The node's inventory: the instance, holding these volumes read-only. */
function inventory(volumeIds: readonly string[]): VmmInventory {
  return {
    vmmHost: HOST,
    endpoint: 'https://127.0.0.1:1/vmm-delegate',
    driver: 'qemu',
    healthy: true,
    instances: [
      {
        instanceId: INSTANCE,
        state: 'running',
        disks: volumeIds.map((v, i) => ({ volumeId: v, device: `/dev/sd${'bcd'[i] ?? 'z'}`, mode: 'ro' as const })),
      },
    ],
  };
}

describe('reconciliation against an inventory older than the records', () => {
  let dir: string;
  let store: SqliteStore;
  let clock: number;
  const detached: string[] = [];
  let deps: Deps;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vbs-recon-'));
    store = new SqliteStore(join(dir, 'vbs.sqlite'));
    clock = Date.now();
    detached.length = 0;
    const vmms: VmmDelegates = {
      attach: () => Promise.reject(new Error('not called')),
      detach: async (_endpoint, request) => {
        detached.push(request.volumeId);
        return { held: true };
      },
      callTimeoutMs: 30_000,
      close: () => undefined,
    };
    deps = {
      store,
      vmms,
      delegates: {} as VolumeDelegates,
      logger: silentLogger(),
      now: () => new Date(clock),
      settings: {
        zones: ['z'],
        region: 'r',
        maxVolumeSizeGiB: 1,
        defaultVolumeType: 'sparse',
        quotas: { volumes: null, gib: null, snapshots: null },
      },
    };
    await store.registerVmm(
      { host: HOST, endpoint: 'https://127.0.0.1:1/vmm-delegate', driver: 'qemu', healthy: true, lastSeen: clock },
      [{ instanceId: INSTANCE, state: 'running' }],
    );
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function attached(): Promise<{ volumeId: string; attachmentId: number }> {
    const v = volumeRecord();
    await store.insertVolume(v);
    const admission = await store.beginAttachment({
      volumeId: v.id,
      instanceId: INSTANCE,
      vmmHost: HOST,
      device: '/dev/sdb',
      mode: 'ro',
      attachTime: new Date().toISOString(),
    });
    if (!admission.admitted) return expect.fail('not admitted');
    expect((await store.transitionAttachment(admission.attachment.id, 'attached')).changed).to.equal(true);
    return { volumeId: v.id, attachmentId: admission.attachment.id };
  }

  it('keeps a disk attached after the inventory was taken, and ends it once the inventory should show it', async () => {
    const { volumeId, attachmentId } = await attached();
    expect(await reconcile(deps, inventory([]))).to.deep.include({ lost: 0 });
    expect((await store.getAttachment(attachmentId))?.status).to.equal('attached');
    clock += INVENTORY_STALENESS_MS + 1000;
    expect(await reconcile(deps, inventory([]))).to.deep.include({ lost: 1 });
    expect((await store.getAttachment(attachmentId))?.status).to.equal('detached');
    expect((await store.getVolume(volumeId))?.status).to.equal('available');
  });

  it('neither adopts nor detaches a disk detached after the inventory was taken, and adopts it once the inventory should not show it', async () => {
    const { volumeId, attachmentId } = await attached();
    expect((await store.endAttachment(attachmentId, 'detached')).changed).to.equal(true);
    expect(await reconcile(deps, inventory([volumeId]))).to.deep.include({ adopted: 0, detachedStrays: 0 });
    expect(detached).to.deep.equal([]);
    expect((await store.getVolume(volumeId))?.status).to.equal('available');
    // Still listed long after the detach: the hypervisor really holds it, and the rules allow it.
    clock += INVENTORY_STALENESS_MS + 1000;
    expect(await reconcile(deps, inventory([volumeId]))).to.deep.include({ adopted: 1 });
    expect((await store.getVolume(volumeId))?.status).to.equal('in-use');
  });
});
