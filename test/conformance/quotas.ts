/**
 * The metadata store's quota checks (MetadataStore.insertVolume / insertSnapshot with defaults), case
 * by case: each limit reached exactly, other owners untouched, every status but the deleted tombstone
 * counted, an owner's override before the default (raising, lowering, or back to the default), the
 * related resource's state reported before a quota, and concurrent inserts that never pass a limit.
 * Every store runs it (a PostgreSQL store must pass the concurrent case with its own locking).
 */
import { expect } from 'chai';
import {
  HIDDEN_SNAPSHOT_STATUSES,
  HIDDEN_VOLUME_STATUSES,
  SNAPSHOT_STATUSES,
  VOLUME_STATUSES,
} from '../../src/core/state.js';
import type { QuotaKind, QuotaLimits } from '../../src/frontend/store/metadata-store.js';
import { snapshotRecord, volumeRecord } from '../support/records.js';
import type { StoreFixture } from './state-table.js';

export interface QuotaFixture extends StoreFixture {
  /** What `vbs-admin quota set` does: a number sets a limit, null returns it to the default. */
  setQuota(ownerId: string, changes: Partial<Record<QuotaKind, number | null>>): Promise<void>;
}

const NONE: QuotaLimits = { volumes: null, gib: null, snapshots: null };
const limits = (over: Partial<QuotaLimits>): QuotaLimits => ({ ...NONE, ...over });

export function quotaConformance(name: string, open: () => Promise<QuotaFixture>): void {
  describe(`${name}: quotas`, function () {
    this.timeout(60_000);
    let f: QuotaFixture;
    beforeEach(async () => {
      f = await open();
    });
    afterEach(async () => {
      await f.close();
    });

    const insertVolume = (
      defaults: QuotaLimits | undefined,
      over: Parameters<typeof volumeRecord>[0] = {},
    ): ReturnType<QuotaFixture['store']['insertVolume']> => f.store.insertVolume(volumeRecord(over), defaults);

    it('admits volumes up to the limit of their number, then refuses with the limit and what is held', async () => {
      const defaults = limits({ volumes: 3 });
      for (let i = 0; i < 3; i++) expect((await insertVolume(defaults)).admitted).to.equal(true);
      expect(await insertVolume(defaults)).to.deep.equal({
        admitted: false,
        reason: 'quota',
        quota: 'volumes',
        limit: 3,
        used: 3,
      });
      expect(await f.store.findVolumes({ ownerId: 'alice' })).to.have.length(3);
      // Another owner has a quota of its own.
      expect((await insertVolume(defaults, { ownerId: 'bob' })).admitted).to.equal(true);
    });

    it('admits volumes up to their total GiB exactly', async () => {
      const defaults = limits({ gib: 10 });
      expect((await insertVolume(defaults, { sizeGiB: 4 })).admitted).to.equal(true);
      expect(await insertVolume(defaults, { sizeGiB: 7 })).to.deep.equal({
        admitted: false,
        reason: 'quota',
        quota: 'gib',
        limit: 10,
        used: 4,
      });
      expect((await insertVolume(defaults, { sizeGiB: 6 })).admitted).to.equal(true);
      expect(await insertVolume(defaults, { sizeGiB: 1 })).to.deep.include({ reason: 'quota', quota: 'gib', used: 10 });
    });

    it('counts a volume in every status but the deleted tombstone', async () => {
      const defaults = limits({ volumes: 1, gib: 1 });
      for (const status of VOLUME_STATUSES) {
        const owner = `user-${status}`;
        const first = volumeRecord({ ownerId: owner });
        expect((await f.store.insertVolume(first, defaults)).admitted).to.equal(true);
        await f.forceStatus('volumes', first.id, status);
        const counted = !HIDDEN_VOLUME_STATUSES.includes(status);
        expect((await insertVolume(defaults, { ownerId: owner })).admitted, `after a ${status} volume`).to.equal(
          !counted,
        );
      }
    });

    it('admits snapshots up to their number, counting every status but the deleted tombstone', async () => {
      const defaults = limits({ snapshots: 1 });
      for (const status of SNAPSHOT_STATUSES) {
        const ownerId = `user-${status}`;
        const v = volumeRecord({ ownerId });
        await f.store.insertVolume(v);
        const first = snapshotRecord(v.id, { ownerId });
        expect((await f.store.insertSnapshot(first, defaults)).admitted).to.equal(true);
        await f.forceStatus('snapshots', first.id, status);
        const counted = !HIDDEN_SNAPSHOT_STATUSES.includes(status);
        expect(
          await f.store.insertSnapshot(snapshotRecord(v.id, { ownerId }), defaults),
          `after a ${status} snapshot`,
        ).to.deep.equal(
          counted ? { admitted: false, reason: 'quota', quota: 'snapshots', limit: 1, used: 1 } : { admitted: true },
        );
      }
    });

    it("takes the owner's override before the default, field by field, and the default back when it is cleared", async () => {
      const defaults = limits({ volumes: 1, gib: 100 });
      await f.setQuota('alice', { volumes: 2 });
      expect((await insertVolume(defaults)).admitted).to.equal(true);
      expect((await insertVolume(defaults)).admitted).to.equal(true);
      expect(await insertVolume(defaults)).to.deep.include({ reason: 'quota', quota: 'volumes', limit: 2 });
      // The GiB limit is still the default.
      await f.setQuota('alice', { volumes: 10 });
      expect(await insertVolume(defaults, { sizeGiB: 99 })).to.deep.include({ quota: 'gib', limit: 100, used: 2 });
      // Lowering below what is held refuses new ones and keeps the old.
      await f.setQuota('alice', { volumes: 0 });
      expect(await insertVolume(defaults)).to.deep.include({ quota: 'volumes', limit: 0, used: 2 });
      expect(await f.store.findVolumes({ ownerId: 'alice' })).to.have.length(2);
      // Cleared: the default again (1, which alice is past).
      await f.setQuota('alice', { volumes: null });
      expect(await insertVolume(defaults)).to.deep.include({ quota: 'volumes', limit: 1, used: 2 });
      // No limit by default: only the override limits.
      await f.setQuota('bob', { volumes: 1 });
      expect((await insertVolume(undefined, { ownerId: 'bob' })).admitted).to.equal(true);
      expect(await insertVolume(undefined, { ownerId: 'bob' })).to.deep.include({ quota: 'volumes', limit: 1 });
    });

    it("reports the related resource's state before a quota", async () => {
      const v = volumeRecord({ status: 'creating' });
      await f.store.insertVolume(v);
      expect(await f.store.insertSnapshot(snapshotRecord(v.id), limits({ snapshots: 0 }))).to.deep.equal({
        admitted: false,
        reason: 'state',
      });
      expect(
        await insertVolume(limits({ volumes: 0 }), { snapshotId: 'snap-00000000000000000', status: 'creating' }),
      ).to.deep.equal({ admitted: false, reason: 'state' });
    });

    it('never lets concurrent inserts pass a limit together', async () => {
      const defaults = limits({ volumes: 7, gib: 40, snapshots: 5 });
      const volumes = await Promise.all(Array.from({ length: 50 }, () => insertVolume(defaults, { sizeGiB: 5 })));
      expect(volumes.filter((a) => a.admitted)).to.have.length(7);
      const held = await f.store.findVolumes({ ownerId: 'alice' });
      expect(held).to.have.length(7);
      const v = held[0];
      if (!v) return expect.fail('no volume');
      const snaps = await Promise.all(
        Array.from({ length: 50 }, () => f.store.insertSnapshot(snapshotRecord(v.id), defaults)),
      );
      expect(snaps.filter((a) => a.admitted)).to.have.length(5);
      expect(await f.store.findSnapshots({ ownerId: 'alice' })).to.have.length(5);
    });
  });
}
