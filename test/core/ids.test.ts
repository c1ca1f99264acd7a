import { expect } from 'chai';
import { isId, isInstanceId, newId } from '../../src/core/ids.js';

describe('IDs', () => {
  it('makes volume and snapshot IDs in EC2 current form, and reads the 2010 form too', () => {
    expect(newId('vol')).to.match(/^vol-[0-9a-f]{17}$/);
    expect(newId('snap')).to.match(/^snap-[0-9a-f]{17}$/);
    expect(isId('vol', 'vol-0123abcd')).to.equal(true);
    expect(isId('vol', 'vol-0123ABCD')).to.equal(false);
    expect(isId('snap', 'vol-0123abcd')).to.equal(false);
  });

  it('takes instance IDs of 1 to 64 name characters, never starting with "-", "." or "_"', () => {
    for (const ok of ['i-1', 'web1', 'a', 'vm_2.test-3', 'a'.repeat(64)]) expect(isInstanceId(ok), ok).to.equal(true);
    for (const bad of ['', '-f', '--all', '.x', '_x', 'a b', 'a/b', 'é', 'a'.repeat(65), 'a;b'])
      expect(isInstanceId(bad), bad).to.equal(false);
  });
});
