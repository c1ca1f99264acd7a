/**
 * The metadata store's behaviour, as every implementation must keep it (SQLite, PostgreSQL): the
 * state table's rules as the use cases meet them, attachments and their modes, the VMM registry,
 * and races between requests, from one connection and from several at once (several workers, or
 * several frontends). Each implementation runs this suite (test/frontend/store/*-store.test.ts),
 * beside the case-by-case state-table suite (state-table.ts).
 */
import { expect } from 'chai';
import { modesCompatible } from '../../src/core/state.js';
import type { MetadataStore, NewAttachment } from '../../src/frontend/store/metadata-store.js';
import { snapshotRecord, volumeRecord } from '../support/records.js';

export interface MetadataStoreFixture {
  readonly store: MetadataStore;
  /** Another connection to the same database: what a second worker or frontend has. */
  another(): Promise<MetadataStore>;
  close(): Promise<void>;
}

const att = (volumeId: string, instanceId: string, mode: 'rw' | 'ro', device = '/dev/vdb'): NewAttachment => ({
  volumeId,
  instanceId,
  vmmHost: 'node-1',
  device,
  mode,
  attachTime: new Date().toISOString(),
});

export function metadataStoreConformance(name: string, open: () => Promise<MetadataStoreFixture>): void {
  describe(`${name}: the metadata store`, function () {
    this.timeout(60_000);
    let fixture: MetadataStoreFixture;
    let store: MetadataStore;
    beforeEach(async () => {
      fixture = await open();
      store = fixture.store;
    });
    afterEach(async () => {
      await fixture.close();
    });

    it('changes status only along the state table, atomically with the check', async () => {
      const v = volumeRecord({ status: 'creating' });
      await store.insertVolume(v);
      const refused = await store.transitionVolume(v.id, 'attach');
      expect(refused.changed).to.equal(false);
      expect(!refused.changed && refused.current?.status).to.equal('creating');
      const done = await store.transitionVolume(v.id, 'provisioned');
      expect(done.changed && done.record.status).to.equal('available');
      const again = await store.transitionVolume(v.id, 'provisioned');
      expect(again.changed).to.equal(false);
      expect((await store.getVolume(v.id))?.status).to.equal('available');
    });

    it('lets exactly one of many concurrent deletes win', async () => {
      const v = volumeRecord();
      await store.insertVolume(v);
      const outcomes = await Promise.all(Array.from({ length: 50 }, () => store.transitionVolume(v.id, 'delete')));
      expect(outcomes.filter((o) => o.changed)).to.have.length(1);
    });

    it('refuses to delete a volume while a snapshot of it is pending, naming the guard', async () => {
      const v = volumeRecord();
      await store.insertVolume(v);
      expect((await store.insertSnapshot(snapshotRecord(v.id))).admitted).to.equal(true);
      const o = await store.transitionVolume(v.id, 'delete');
      expect(o.changed).to.equal(false);
      expect(!o.changed && o.blockedBy).to.equal('volumeHasPendingSnapshot');
    });

    it('refuses a snapshot of a volume that is not available or in-use', async () => {
      const v = volumeRecord({ status: 'creating' });
      await store.insertVolume(v);
      expect((await store.insertSnapshot(snapshotRecord(v.id))).admitted).to.equal(false);
      expect(await store.findSnapshots({})).to.have.length(0);
    });

    it('makes a volume from a snapshot only while it is completed, and then guards the snapshot', async () => {
      const v = volumeRecord();
      await store.insertVolume(v);
      const s = snapshotRecord(v.id);
      await store.insertSnapshot(s);
      expect((await store.insertVolume(volumeRecord({ snapshotId: s.id, status: 'creating' }))).admitted).to.equal(
        false,
      );
      await store.transitionSnapshot(s.id, 'copied', { progress: 100 });
      const restored = volumeRecord({ snapshotId: s.id, status: 'creating' });
      expect((await store.insertVolume(restored)).admitted).to.equal(true);
      const o = await store.transitionSnapshot(s.id, 'delete');
      expect(!o.changed && o.blockedBy).to.equal('snapshotHasCreatingVolume');
      await store.transitionVolume(restored.id, 'provisioned');
      expect((await store.transitionSnapshot(s.id, 'delete')).changed).to.equal(true);
      expect((await store.insertVolume(volumeRecord({ snapshotId: s.id, status: 'creating' }))).admitted).to.equal(
        false,
      );
    });

    it('never moves snapshot progress backwards', async () => {
      const v = volumeRecord();
      await store.insertVolume(v);
      const s = snapshotRecord(v.id);
      await store.insertSnapshot(s);
      await store.transitionSnapshot(s.id, 'progressed', { progress: 80 });
      await store.transitionSnapshot(s.id, 'progressed', { progress: 40 });
      expect((await store.getSnapshot(s.id))?.progress).to.equal(80);
    });

    it('scopes lists by owner and hides deleted rows', async () => {
      const mine = volumeRecord();
      const theirs = volumeRecord({ ownerId: 'bob' });
      const gone = volumeRecord();
      for (const v of [mine, theirs, gone]) await store.insertVolume(v);
      await store.transitionVolume(gone.id, 'delete');
      await store.transitionVolume(gone.id, 'deleted');
      expect((await store.findVolumes({ ownerId: 'alice' })).map((v) => v.id)).to.deep.equal([mine.id]);
      expect((await store.findVolumes({})).map((v) => v.id)).to.have.members([mine.id, theirs.id]);
      expect(await store.findVolumes({ ids: [theirs.id], ownerId: 'alice' })).to.have.length(0);
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
      await store.registerVmm(
        { host: 'node-2', endpoint: 'https://n2/vmm', driver: 'xen', healthy: true, lastSeen: 1 },
        [{ instanceId: 'i-2', state: 'running' }],
      );
      expect((await store.findInstance('i-1')).map((l) => l.endpoint)).to.deep.equal(['https://n1/vmm']);
      expect((await store.findInstance('i-2')).map((l) => l.vmmHost)).to.deep.equal(['node-1', 'node-2']);
      await store.registerVmm(
        { host: 'node-1', endpoint: 'https://n1/vmm', driver: 'qemu', healthy: true, lastSeen: 2 },
        [{ instanceId: 'i-3', state: 'paused' }],
      );
      expect(await store.findInstance('i-1')).to.have.length(0);
      expect((await store.findInstance('i-3'))[0]?.state).to.equal('paused');
    });

    it("records each instance's owner as its node reports it, replaced with each registration", async () => {
      const host = { host: 'node-1', endpoint: 'https://n1/vmm', driver: 'qemu', healthy: true, lastSeen: 1 };
      await store.registerVmm(host, [
        { instanceId: 'i-a', state: 'running', ownerId: 'alice' },
        { instanceId: 'i-b', state: 'running', ownerId: null },
      ]);
      expect((await store.findInstance('i-a'))[0]?.ownerId).to.equal('alice');
      expect(await store.instanceOwner('i-a', 'node-1')).to.equal('alice');
      expect(await store.instanceOwner('i-b', 'node-1')).to.equal(null);
      expect(await store.instanceOwner('i-a', 'node-2')).to.equal(null);
      await store.registerVmm({ ...host, lastSeen: 2 }, [{ instanceId: 'i-a', state: 'running', ownerId: 'bob' }]);
      expect(await store.instanceOwner('i-a', 'node-1')).to.equal('bob');
    });

    it('keeps what it acknowledged: another connection sees it at once', async () => {
      const v = volumeRecord();
      await store.insertVolume(v);
      const other = await fixture.another();
      try {
        expect((await other.getVolume(v.id))?.id).to.equal(v.id);
      } finally {
        await other.close();
      }
    });

    describe('races from several connections at once', () => {
      let connections: MetadataStore[];
      beforeEach(async () => {
        connections = [store, await fixture.another(), await fixture.another(), await fixture.another()];
      });
      afterEach(async () => {
        await Promise.all(connections.slice(1).map((c) => c.close()));
      });
      const on = (i: number): MetadataStore => connections[i % connections.length] as MetadataStore;

      it('admits exactly one of 100 concurrent read-write attachments of one volume', async () => {
        const v = volumeRecord();
        await store.insertVolume(v);
        const results = await Promise.all(
          Array.from({ length: 100 }, (_, i) => on(i).beginAttachment(att(v.id, `i-${i}`, 'rw'))),
        );
        expect(results.filter((r) => r.admitted)).to.have.length(1);
        expect(results.filter((r) => !r.admitted && r.reason === 'held-read-write')).to.have.length(99);
        expect(await store.attachmentsOf([v.id])).to.have.length(1);
      });

      it('never lets a delete and a snapshot of the same volume both win', async () => {
        for (let round = 0; round < 10; round++) {
          const v = volumeRecord();
          await store.insertVolume(v);
          const snap = snapshotRecord(v.id);
          const [deleted, snapped] = await Promise.all([
            on(round).transitionVolume(v.id, 'delete'),
            on(round + 1)
              .insertSnapshot(snap)
              .then((a) => a.admitted),
          ]);
          expect(deleted.changed && snapped, `round ${round}`).to.equal(false);
          expect(deleted.changed || snapped, `round ${round}: one of them wins`).to.equal(true);
        }
      });

      it('never lets an attach and a delete of the same volume both win', async () => {
        for (let round = 0; round < 10; round++) {
          const v = volumeRecord();
          await store.insertVolume(v);
          const [attached, deleted] = await Promise.all([
            on(round).beginAttachment(att(v.id, `i-${round}`, 'rw')),
            on(round + 1).transitionVolume(v.id, 'delete'),
          ]);
          expect(attached.admitted && deleted.changed, `round ${round}`).to.equal(false);
          expect(attached.admitted || deleted.changed, `round ${round}: one of them wins`).to.equal(true);
          const now = await store.getVolume(v.id);
          expect(now?.status).to.equal(attached.admitted ? 'in-use' : 'deleting');
        }
      });

      it('never lets a volume be made from a snapshot that is being deleted', async () => {
        for (let round = 0; round < 10; round++) {
          const v = volumeRecord();
          await store.insertVolume(v);
          const snap = snapshotRecord(v.id, { status: 'completed', progress: 100 });
          await store.insertSnapshot(snap);
          const [deleted, restored] = await Promise.all([
            on(round).transitionSnapshot(snap.id, 'delete'),
            on(round + 1)
              .insertVolume(volumeRecord({ snapshotId: snap.id, status: 'creating' }))
              .then((a) => a.admitted),
          ]);
          expect(deleted.changed && restored, `round ${round}`).to.equal(false);
          expect(deleted.changed || restored, `round ${round}: one of them wins`).to.equal(true);
        }
      });

      it('lets exactly one of 40 concurrent deletes from several connections win', async () => {
        const v = volumeRecord();
        await store.insertVolume(v);
        const outcomes = await Promise.all(
          Array.from({ length: 40 }, (_, i) => on(i).transitionVolume(v.id, 'delete')),
        );
        expect(outcomes.filter((o) => o.changed)).to.have.length(1);
      });
    });
  });
}
