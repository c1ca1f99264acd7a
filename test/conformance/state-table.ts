/**
 * The metadata store against the state table of src/core/state.ts, case by case: every transition
 * from every status, every guard with its related resource in every status, the creation rules, and
 * the read-write/read-only rule (modesCompatible) as the store's INSERT applies it. The SQL of a store
 * is derived from the table or written beside it; this suite is what says the two agree, so every
 * store implementation runs it.
 */
import { expect } from 'chai';
import type { AttachMode, SnapshotRecord } from '../../src/core/records.js';
import {
  ATTACHABLE_VOLUME_STATUSES,
  ATTACHMENT_STATUSES,
  ATTACHMENT_TRANSITIONS,
  GUARDS,
  modesCompatible,
  RESTORABLE_SNAPSHOT_STATUSES,
  SNAPSHOT_STATUSES,
  SNAPSHOT_TRANSITIONS,
  SNAPSHOTTABLE_VOLUME_STATUSES,
  VOLUME_STATUSES,
  VOLUME_TRANSITIONS,
  type Guard,
  type SnapshotStatus,
  type Transition,
  type VolumeStatus,
} from '../../src/core/state.js';
import type { InsertAdmission, MetadataStore, NewAttachment } from '../../src/frontend/store/metadata-store.js';
import { snapshotRecord, volumeRecord } from '../support/records.js';

export interface StoreFixture {
  readonly store: MetadataStore;
  /** Puts a row in a status directly, as no transition would: to reach every case of the table. */
  forceStatus(table: 'volumes' | 'snapshots' | 'attachments', id: string | number, status: string): Promise<void>;
  close(): Promise<void>;
}

/** What an insert answers when the creation rule allows it, or refuses it for the related resource's state. */
const admission = (allowed: boolean): InsertAdmission =>
  allowed ? { admitted: true } : { admitted: false, reason: 'state' };

const snapshot = (volumeId: string, status: SnapshotStatus = 'completed'): SnapshotRecord =>
  snapshotRecord(volumeId, { status });

let instances = 0;
const attachment = (volumeId: string, mode: AttachMode): NewAttachment => ({
  volumeId,
  instanceId: `i-${++instances}`,
  vmmHost: 'node-1',
  device: '/dev/vdb',
  mode,
  attachTime: new Date().toISOString(),
});

/** The transitions that name `guard`, with the resource they change. */
function guarded(guard: Guard): { kind: 'volume' | 'snapshot'; event: string; t: Transition<string> }[] {
  const all = [
    ...Object.entries(VOLUME_TRANSITIONS).map(([event, t]) => ({ kind: 'volume' as const, event, t })),
    ...Object.entries(SNAPSHOT_TRANSITIONS).map(([event, t]) => ({ kind: 'snapshot' as const, event, t })),
  ];
  return all.filter(({ t }) => (t as Transition<string>).unless?.includes(guard));
}

export function stateTableConformance(name: string, open: () => Promise<StoreFixture>): void {
  describe(`${name}: the state table`, function () {
    this.timeout(60_000);
    let f: StoreFixture;
    beforeEach(async () => {
      f = await open();
    });
    afterEach(async () => {
      await f.close();
    });

    it('moves a volume along every transition from exactly its `from` statuses', async () => {
      for (const [event, t] of Object.entries(VOLUME_TRANSITIONS) as [
        keyof typeof VOLUME_TRANSITIONS,
        Transition<VolumeStatus>,
      ][]) {
        for (const status of VOLUME_STATUSES) {
          const v = volumeRecord({ status });
          expect((await f.store.insertVolume(v)).admitted).to.equal(true);
          const o = await f.store.transitionVolume(v.id, event);
          const what = `volume ${event} from ${status}`;
          expect(o.changed, what).to.equal(t.from.includes(status));
          expect(o.changed ? o.record.status : o.current?.status, what).to.equal(o.changed ? t.to : status);
        }
      }
    });

    it('moves a snapshot along every transition from exactly its `from` statuses', async () => {
      const v = volumeRecord();
      await f.store.insertVolume(v);
      for (const [event, t] of Object.entries(SNAPSHOT_TRANSITIONS) as [
        keyof typeof SNAPSHOT_TRANSITIONS,
        Transition<SnapshotStatus>,
      ][]) {
        for (const status of SNAPSHOT_STATUSES) {
          const s = snapshot(v.id, status);
          expect((await f.store.insertSnapshot(s)).admitted).to.equal(true);
          const o = await f.store.transitionSnapshot(s.id, event);
          const what = `snapshot ${event} from ${status}`;
          expect(o.changed, what).to.equal(t.from.includes(status));
          expect(o.changed ? o.record.status : o.current?.status, what).to.equal(o.changed ? t.to : status);
        }
      }
    });

    it('moves an attachment along every transition from exactly its `from` statuses', async () => {
      for (const [event, t] of Object.entries(ATTACHMENT_TRANSITIONS) as [
        keyof typeof ATTACHMENT_TRANSITIONS,
        Transition<string>,
      ][]) {
        for (const status of ATTACHMENT_STATUSES) {
          const v = volumeRecord();
          await f.store.insertVolume(v);
          const admission = await f.store.beginAttachment(attachment(v.id, 'ro'));
          if (!admission.admitted) return expect.fail(`not admitted: ${admission.reason}`);
          await f.forceStatus('attachments', admission.attachment.id, status);
          const o = await f.store.transitionAttachment(admission.attachment.id, event);
          const what = `attachment ${event} from ${status}`;
          expect(o.changed, what).to.equal(t.from.includes(status));
          expect(o.changed ? o.record.status : o.current?.status, what).to.equal(o.changed ? t.to : status);
        }
      }
    });

    it('blocks each guarded transition exactly while a related resource is in a guard status, naming the guard', async () => {
      const checked: string[] = [];
      for (const [guard, spec] of Object.entries(GUARDS) as [Guard, (typeof GUARDS)[Guard]][]) {
        const related: readonly string[] =
          spec.relation === 'snapshotsOfVolume'
            ? SNAPSHOT_STATUSES
            : spec.relation === 'attachmentsOfVolume'
              ? ATTACHMENT_STATUSES
              : VOLUME_STATUSES;
        for (const { kind, event, t } of guarded(guard)) {
          for (const relatedStatus of related) {
            const owner = t.from[0] ?? expect.fail(`${event} has no from`);
            const id = await withRelated(f, spec.relation, relatedStatus);
            await f.forceStatus(kind === 'volume' ? 'volumes' : 'snapshots', id, owner);
            const o =
              kind === 'volume'
                ? await f.store.transitionVolume(id, event as keyof typeof VOLUME_TRANSITIONS)
                : await f.store.transitionSnapshot(id, event as keyof typeof SNAPSHOT_TRANSITIONS);
            const blocks = (spec.statuses as readonly string[]).includes(relatedStatus);
            const what = `${kind} ${event} from ${owner} with a related ${spec.relation} ${relatedStatus}`;
            expect(o.changed, what).to.equal(!blocks);
            if (!o.changed) expect(o.blockedBy, what).to.equal(guard);
            checked.push(`${guard}/${event}`);
          }
        }
      }
      for (const guard of Object.keys(GUARDS))
        expect(
          checked.some((c) => c.startsWith(`${guard}/`)),
          guard,
        ).to.equal(true);
    });

    it('applies the creation rules: snapshots, restores and attachments only from their statuses', async () => {
      for (const status of VOLUME_STATUSES) {
        const v = volumeRecord({ status });
        await f.store.insertVolume(v);
        const s = snapshot(v.id, 'pending');
        expect(await f.store.insertSnapshot(s), `snapshot of a ${status} volume`).to.deep.equal(
          admission(SNAPSHOTTABLE_VOLUME_STATUSES.includes(status)),
        );
        const a = await f.store.beginAttachment(attachment(v.id, 'ro'));
        expect(a.admitted, `attachment of a ${status} volume`).to.equal(ATTACHABLE_VOLUME_STATUSES.includes(status));
      }
      const source = volumeRecord();
      await f.store.insertVolume(source);
      for (const status of SNAPSHOT_STATUSES) {
        const s = snapshot(source.id, status);
        await f.store.insertSnapshot(s);
        const restored = volumeRecord({ snapshotId: s.id, status: 'creating' });
        expect(await f.store.insertVolume(restored), `volume from a ${status} snapshot`).to.deep.equal(
          admission(RESTORABLE_SNAPSHOT_STATUSES.includes(status)),
        );
      }
    });

    it('admits an attachment exactly when modesCompatible says so, counting only live attachments', async () => {
      const histories: readonly (readonly AttachMode[])[] = [[], ['ro'], ['rw'], ['ro', 'ro'], ['ro', 'ro', 'ro']];
      for (const existing of histories) {
        for (const wanted of ['ro', 'rw'] as const) {
          for (const endedToo of [false, true]) {
            const v = volumeRecord();
            await f.store.insertVolume(v);
            // An ended read-write attachment holds nothing.
            if (endedToo) {
              const ended = await f.store.beginAttachment(attachment(v.id, 'rw'));
              if (!ended.admitted) return expect.fail('not admitted');
              await f.store.endAttachment(ended.attachment.id, 'detached');
            }
            for (const mode of existing) {
              const a = await f.store.beginAttachment(attachment(v.id, mode));
              expect(a.admitted, `setting up ${existing.join(',')}`).to.equal(true);
            }
            const o = await f.store.beginAttachment(attachment(v.id, wanted));
            expect(o.admitted, `${wanted} beside [${existing.join(',')}]`).to.equal(modesCompatible(existing, wanted));
          }
        }
      }
    });
  });
}

/** A resource that has one related resource in `status`; returns the resource's ID. */
async function withRelated(
  f: StoreFixture,
  relation: (typeof GUARDS)[Guard]['relation'],
  status: string,
): Promise<string> {
  const v = volumeRecord();
  await f.store.insertVolume(v);
  if (relation === 'snapshotsOfVolume') {
    const s = snapshot(v.id, 'pending');
    await f.store.insertSnapshot(s);
    await f.forceStatus('snapshots', s.id, status);
    return v.id;
  }
  if (relation === 'attachmentsOfVolume') {
    const a = await f.store.beginAttachment(attachment(v.id, 'ro'));
    if (!a.admitted) return expect.fail('not admitted');
    await f.forceStatus('attachments', a.attachment.id, status);
    return v.id;
  }
  const s = snapshot(v.id, 'completed');
  await f.store.insertSnapshot(s);
  const restored = volumeRecord({ snapshotId: s.id, status: 'creating' });
  expect((await f.store.insertVolume(restored)).admitted).to.equal(true);
  await f.forceStatus('volumes', restored.id, status);
  return s.id;
}
