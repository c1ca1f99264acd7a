import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { modesCompatible } from '../../../src/core/state.js';
import { SqliteStore } from '../../../src/frontend/store/sqlite-store.js';
import type { NewAttachment } from '../../../src/frontend/store/metadata-store.js';
import { volumeRecord } from '../../support/records.js';

const att = (volumeId: string, instanceId: string, mode: 'rw' | 'ro', device = '/dev/vdb'): NewAttachment => ({
  volumeId,
  instanceId,
  vmmHost: 'node-1',
  device,
  mode,
  attachTime: new Date().toISOString(),
});

describe('SQLite store: attachments', () => {
  let dir: string;
  let store: SqliteStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vbs-att-'));
    store = new SqliteStore(join(dir, 'vbs.sqlite'));
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('states the read-write/read-only rule', () => {
    expect(modesCompatible([], 'rw')).to.equal(true);
    expect(modesCompatible(['ro', 'ro'], 'ro')).to.equal(true);
    expect(modesCompatible(['ro'], 'rw')).to.equal(false);
    expect(modesCompatible(['rw'], 'ro')).to.equal(false);
  });

  it('admits exactly one of 100 concurrent read-write attachments of one volume', async () => {
    const v = volumeRecord();
    await store.insertVolume(v);
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => store.beginAttachment(att(v.id, `i-${i}`, 'rw'))),
    );
    expect(results.filter((r) => r.admitted)).to.have.length(1);
    expect(results.filter((r) => !r.admitted && r.reason === 'held-read-write')).to.have.length(99);
    expect((await store.getVolume(v.id))?.status).to.equal('in-use');
  });

  it('admits any number of read-only attachments, and then refuses read-write', async () => {
    const v = volumeRecord();
    await store.insertVolume(v);
    const ro = await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.beginAttachment(att(v.id, `i-${i}`, 'ro'))),
    );
    expect(ro.every((r) => r.admitted)).to.equal(true);
    const rw = await store.beginAttachment(att(v.id, 'i-other', 'rw'));
    expect(!rw.admitted && rw.reason).to.equal('shared-read-only');
    expect(await store.attachmentsOf([v.id])).to.have.length(20);
  });

  it('never mixes: with 100 concurrent rw and ro requests, either one rw or only ro attachments win', async () => {
    for (let round = 0; round < 5; round++) {
      const v = volumeRecord();
      await store.insertVolume(v);
      const results = await Promise.all(
        Array.from({ length: 100 }, (_, i) => store.beginAttachment(att(v.id, `i-${i}`, i % 2 === 0 ? 'rw' : 'ro'))),
      );
      const modes = (await store.attachmentsOf([v.id])).map((a) => a.mode);
      expect(modes.length).to.equal(results.filter((r) => r.admitted).length);
      expect(
        (modes.length === 1 && modes[0] === 'rw') || (modes.length > 0 && modes.every((m) => m === 'ro')),
      ).to.equal(true);
    }
  });

  it('refuses a device already used in the instance, the same volume twice in one instance, and volumes not available', async () => {
    const a = volumeRecord();
    const b = volumeRecord();
    const creating = volumeRecord({ status: 'creating' });
    for (const v of [a, b, creating]) await store.insertVolume(v);
    expect((await store.beginAttachment(att(a.id, 'i-1', 'ro'))).admitted).to.equal(true);
    const dev = await store.beginAttachment(att(b.id, 'i-1', 'rw'));
    expect(!dev.admitted && dev.reason).to.equal('device-in-use');
    const twice = await store.beginAttachment(att(a.id, 'i-1', 'ro', '/dev/vdc'));
    expect(!twice.admitted && twice.reason).to.equal('already-attached');
    const state = await store.beginAttachment(att(creating.id, 'i-2', 'rw'));
    expect(!state.admitted && state.reason).to.equal('volume-state');
  });

  it('makes the volume available after its last attachment ends, not before', async () => {
    const v = volumeRecord();
    await store.insertVolume(v);
    const one = await store.beginAttachment(att(v.id, 'i-1', 'ro'));
    const two = await store.beginAttachment(att(v.id, 'i-2', 'ro'));
    if (!one.admitted || !two.admitted) throw new Error('not admitted');
    await store.transitionAttachment(one.attachment.id, 'attached');
    await store.transitionAttachment(one.attachment.id, 'detach');
    await store.endAttachment(one.attachment.id, 'detached');
    expect((await store.getVolume(v.id))?.status).to.equal('in-use');
    await store.endAttachment(two.attachment.id, 'attachFailed', 'refused');
    expect((await store.getVolume(v.id))?.status).to.equal('available');
    expect((await store.getAttachment(two.attachment.id))?.statusMessage).to.equal('refused');
    expect((await store.beginAttachment(att(v.id, 'i-1', 'rw'))).admitted).to.equal(true);
  });

  it('refuses DeleteVolume while attached (VolumeInUse)', async () => {
    const v = volumeRecord();
    await store.insertVolume(v);
    await store.beginAttachment(att(v.id, 'i-1', 'rw'));
    const o = await store.transitionVolume(v.id, 'delete');
    expect(o.changed).to.equal(false);
  });

  it('keeps a registry of VMM hosts and their instances, replaced on each registration', async () => {
    await store.registerVmm(
      { host: 'node-1', endpoint: 'https://n1/vmm', driver: 'qemu', healthy: true, lastSeen: 1 },
      [
        { instanceId: 'i-1', state: 'running' },
        { instanceId: 'i-2', state: 'running' },
      ],
    );
    await store.registerVmm({ host: 'node-2', endpoint: 'https://n2/vmm', driver: 'xen', healthy: true, lastSeen: 1 }, [
      { instanceId: 'i-2', state: 'running' },
    ]);
    expect((await store.findInstance('i-1')).map((l) => l.endpoint)).to.deep.equal(['https://n1/vmm']);
    expect((await store.findInstance('i-2')).map((l) => l.vmmHost)).to.deep.equal(['node-1', 'node-2']);
    await store.registerVmm(
      { host: 'node-1', endpoint: 'https://n1/vmm', driver: 'qemu', healthy: true, lastSeen: 2 },
      [{ instanceId: 'i-3', state: 'paused' }],
    );
    expect(await store.findInstance('i-1')).to.have.length(0);
    expect((await store.findInstance('i-3'))[0]?.state).to.equal('paused');
  });
});
