import { expect } from 'chai';
import { newId, isId, requireVolumeId, requireSnapshotId } from '../../src/core/ids.js';
import { snapshotFilePath, volumeFilePath } from '../../src/core/paths.js';

describe('IDs and paths', () => {
  it('makes EC2-shaped IDs that it accepts again', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newId('vol')));
    expect(ids.size).to.equal(1000);
    for (const id of ids) expect(id).to.match(/^vol-[0-9a-f]{17}$/);
    expect(isId('snap', newId('snap'))).to.equal(true);
  });

  it('accepts the 2010 8-digit form and refuses anything else', () => {
    expect(isId('vol', 'vol-0123abcd')).to.equal(true);
    for (const bad of [
      'vol-',
      'vol-0123ABCD',
      'vol-0123abc',
      'snap-0123abcd',
      'vol-0123abcd/../x',
      ' vol-0123abcd',
      'vol-0123abcd\n',
    ]) {
      expect(isId('vol', bad), JSON.stringify(bad)).to.equal(false);
    }
    expect(() => requireVolumeId('vol-xyz'))
      .to.throw()
      .with.property('code', 'InvalidVolumeID.Malformed');
    expect(() => requireSnapshotId('vol-0123abcd'))
      .to.throw()
      .with.property('code', 'InvalidSnapshotID.Malformed');
  });

  it('builds paths only from valid IDs', () => {
    expect(volumeFilePath('vol-0123abcd')).to.equal('volumes/vol-0123abcd.img');
    expect(snapshotFilePath('snap-0123456789abcdef0')).to.equal('snapshots/snap-0123456789abcdef0.img');
    expect(() => volumeFilePath('../../etc/passwd')).to.throw();
    expect(() => volumeFilePath('snap-0123abcd')).to.throw();
    expect(() => snapshotFilePath('snap-0123abcd/../../x')).to.throw();
  });
});
