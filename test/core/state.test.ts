import { expect } from 'chai';
import {
  ATTACHMENT_STATUSES,
  ATTACHMENT_TRANSITIONS,
  GUARD_REFUSAL,
  GUARDS,
  LIVE_ATTACHMENT_STATUSES,
  phaseOf,
  SNAPSHOT_CREATION,
  VOLUME_CREATION,
  VOLUME_DELETION,
  SNAPSHOT_STATUSES,
  SNAPSHOT_TRANSITIONS,
  VOLUME_STATUSES,
  VOLUME_TRANSITIONS,
  allows,
  refusalFor,
  type Transition,
  type VolumeStatus,
  type SnapshotStatus,
} from '../../src/core/state.js';

function checkTable<S extends string>(statuses: readonly S[], table: Record<string, Transition<S>>): void {
  for (const [event, t] of Object.entries(table)) {
    expect(t.from.length, event).to.be.greaterThan(0);
    for (const s of t.from) expect(statuses, `${event} from`).to.include(s);
    expect(statuses, `${event} to`).to.include(t.to);
  }
}

describe('state table', () => {
  it('names only real statuses', () => {
    checkTable(VOLUME_STATUSES, VOLUME_TRANSITIONS);
    checkTable(SNAPSHOT_STATUSES, SNAPSHOT_TRANSITIONS);
    checkTable(ATTACHMENT_STATUSES, ATTACHMENT_TRANSITIONS);
  });

  it('lets a volume be deleted only when available, in error, or still being made (which the delete stops)', () => {
    const allowed = VOLUME_STATUSES.filter((s) => allows<VolumeStatus>(VOLUME_TRANSITIONS.delete, s));
    expect(allowed).to.deep.equal(['creating', 'available', 'error']);
  });

  it('refuses deleting an in-use volume with VolumeInUse and other states with IncorrectState', () => {
    expect(refusalFor<VolumeStatus>(VOLUME_TRANSITIONS.delete, 'in-use')).to.equal('VolumeInUse');
    expect(refusalFor<VolumeStatus>(VOLUME_TRANSITIONS.delete, 'creating')).to.equal('IncorrectState');
    expect(refusalFor<VolumeStatus>(VOLUME_TRANSITIONS.delete, 'deleting')).to.equal('IncorrectState');
  });

  it('guards volume deletion against snapshots in progress and attachments, snapshot deletion against volumes being made', () => {
    expect(VOLUME_TRANSITIONS.delete.unless).to.include.members(['volumeHasPendingSnapshot', 'volumeHasAttachment']);
    expect(SNAPSHOT_TRANSITIONS.delete.unless).to.include('snapshotHasCreatingVolume');
    expect(GUARD_REFUSAL.volumeHasPendingSnapshot).to.equal('IncorrectState');
    expect(GUARD_REFUSAL.volumeHasAttachment).to.equal('VolumeInUse');
  });

  it('ends a job only from its running status, so a late report cannot revive a deleted resource', () => {
    for (const s of VOLUME_STATUSES) {
      expect(allows<VolumeStatus>(VOLUME_TRANSITIONS.provisioned, s), s).to.equal(s === 'creating');
    }
    for (const s of SNAPSHOT_STATUSES) {
      expect(allows<SnapshotStatus>(SNAPSHOT_TRANSITIONS.copied, s), s).to.equal(s === 'pending');
    }
  });

  it('has no way out of deleted', () => {
    const out = Object.values(VOLUME_TRANSITIONS).filter((t) => (t.from as readonly string[]).includes('deleted'));
    expect(out).to.have.length(0);
  });

  it('guards on real statuses of the related resource; a live attachment is any but detached', () => {
    expect(LIVE_ATTACHMENT_STATUSES).to.deep.equal(['attaching', 'attached', 'detaching']);
    expect(GUARDS.volumeHasPendingSnapshot).to.deep.equal({ relation: 'snapshotsOfVolume', statuses: ['pending'] });
    expect(GUARDS.snapshotHasCreatingVolume).to.deep.equal({ relation: 'volumesFromSnapshot', statuses: ['creating'] });
    expect(GUARDS.volumeHasAttachment.relation).to.equal('attachmentsOfVolume');
  });

  it('tells a waiting client whether an operation is under way, done or failed', () => {
    const phases = (op: typeof VOLUME_CREATION, statuses: readonly string[]): string[] =>
      statuses.map((s) => `${s}:${phaseOf(op, s)}`);
    expect(phases(VOLUME_CREATION, VOLUME_STATUSES)).to.deep.equal([
      'creating:pending',
      'available:done',
      'in-use:done',
      'deleting:failed',
      'deleted:failed',
      'error:failed',
    ]);
    expect(phases(VOLUME_DELETION, ['deleting', 'deleted', 'available', 'error'])).to.deep.equal([
      'deleting:pending',
      'deleted:done',
      'available:failed',
      'error:failed',
    ]);
    expect(phases(SNAPSHOT_CREATION, SNAPSHOT_STATUSES)).to.deep.equal([
      'pending:pending',
      'completed:done',
      'error:failed',
      'deleting:failed',
      'deleted:failed',
    ]);
  });
});
