import { expect } from 'chai';
import { statfs } from 'node:fs/promises';
import { capacity } from '../../../src/delegates/volume/capacity.js';
import { FIXTURE_BIN, makeTempDir, MiB, prependPath, removeDir, setEnv } from './helpers.js';

describe('volume/capacity capacity()', () => {
  let dir: string;
  before(async () => {
    dir = await makeTempDir('cap');
  });
  after(() => removeDir(dir));

  it('uses statfs on a POSIX root, counting only space available to non-root', async () => {
    const [result, st] = await Promise.all([capacity(dir, false), statfs(dir)]);
    expect(result.totalBytes).to.equal(st.blocks * st.bsize);
    expect(Math.abs(result.freeBytes - st.bavail * st.bsize)).to.be.below(256 * MiB);
    expect(result.freeBytes).to.be.at.most(st.bfree * st.bsize);
  });

  it('asks lfs df on a Lustre root', async () => {
    const restorePath = prependPath(FIXTURE_BIN);
    const restoreEnv = setEnv({ FAKE_LFS_AVAIL_KB: '4096' });
    try {
      const result = await capacity(dir, true);
      expect(result.freeBytes).to.equal(4096 * 1024);
    } finally {
      restoreEnv();
      restorePath();
    }
  });
});
