import { expect } from 'chai';
import { readFile, stat, statfs, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ExecError, run } from '../../../src/delegates/exec.js';
import {
  DEFAULT_LAYOUT,
  isLustre,
  lustreFreeBytes,
  parseLfsDfSummary,
  setStripe,
} from '../../../src/delegates/volume/lustre.js';
import { FIXTURE_BIN, makeTempDir, MiB, prependPath, removeDir, setEnv } from './helpers.js';

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

describe('volume/lustre (with the fake lfs)', () => {
  let dir: string;
  let log: string;
  const restores: Array<() => void> = [];

  beforeEach(async () => {
    dir = await makeTempDir('lustre');
    log = path.join(dir, 'lfs.log');
    restores.push(prependPath(FIXTURE_BIN));
    restores.push(setEnv({ FAKE_LFS_LOG: log, FAKE_LFS_STATE: path.join(dir, 'lfs-state') }));
  });
  afterEach(async () => {
    while (restores.length > 0) restores.pop()?.();
    await removeDir(dir);
  });

  const calls = async (): Promise<string[][]> =>
    (await readFile(log, 'utf8'))
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as string[]);

  it("has the paper's default layout: 4 MiB stripes over 2 OSTs", () => {
    expect(DEFAULT_LAYOUT).to.deep.equal({ stripeSizeBytes: 4 * MiB, stripeCount: 2 });
  });

  it('setStripe runs lfs setstripe -S -c and creates the empty file with that layout', async () => {
    const file = path.join(dir, 'vol-1');
    await setStripe(file, DEFAULT_LAYOUT);
    expect(await calls()).to.deep.equal([['setstripe', '-S', String(4 * MiB), '-c', '2', file]]);
    expect((await stat(file)).size).to.equal(0);
    expect((await run(['lfs', 'getstripe', '-S', file])).stdout).to.equal(String(4 * MiB));
    expect((await run(['lfs', 'getstripe', '-c', file])).stdout).to.equal('2');
  });

  it('setStripe passes a non-default layout through', async () => {
    const file = path.join(dir, 'vol-2');
    await setStripe(file, { stripeSizeBytes: MiB, stripeCount: 1 });
    expect((await run(['lfs', 'getstripe', '-S', file])).stdout).to.equal(String(MiB));
    expect((await run(['lfs', 'getstripe', '-c', file])).stdout).to.equal('1');
  });

  it('an lfs failure surfaces as ExecError: the file already has a layout', async () => {
    const file = path.join(dir, 'vol-3');
    await setStripe(file, DEFAULT_LAYOUT);
    const e = (await rejection(setStripe(file, DEFAULT_LAYOUT))) as ExecError;
    expect(e).to.be.instanceOf(ExecError);
    expect(e.exitCode).to.equal(17);
    expect(e.stderr).to.equal(`lfs setstripe: setstripe error for '${file}': stripe already set`);
  });

  it('an lfs failure surfaces as ExecError: a file that already holds data', async () => {
    const file = path.join(dir, 'has-data');
    await writeFile(file, 'data');
    const e = (await rejection(setStripe(file, DEFAULT_LAYOUT))) as ExecError;
    expect(e.exitCode).to.equal(17);
    expect(e.stderr).to.match(/stripe already set/);
  });

  it('an lfs failure surfaces as ExecError: the directory does not exist', async () => {
    const e = (await rejection(setStripe(path.join(dir, 'no-dir', 'vol'), DEFAULT_LAYOUT))) as ExecError;
    expect(e).to.be.instanceOf(ExecError);
    expect(e.exitCode).to.equal(2);
    expect(e.stderr).to.match(/cannot expand: No such file or directory \(2\)/);
  });

  it('setStripe refuses a layout lfs would refuse, without running it', async () => {
    for (const layout of [
      { stripeSizeBytes: 3_000_000, stripeCount: 2 },
      { stripeSizeBytes: 0, stripeCount: 2 },
      { stripeSizeBytes: 4 * MiB, stripeCount: 0 },
      { stripeSizeBytes: 4 * MiB, stripeCount: 1.5 },
    ]) {
      expect(await rejection(setStripe(path.join(dir, 'bad'), layout)), JSON.stringify(layout)).to.be.instanceOf(
        RangeError,
      );
    }
    let logged = true;
    await stat(log).catch(() => (logged = false));
    expect(logged).to.equal(false);
  });

  it('the fake answers malformed options as lfs does (usage error, exit 4)', async () => {
    const e = (await rejection(
      run(['lfs', 'setstripe', '-S', '3000000', '-c', '2', path.join(dir, 'x')]),
    )) as ExecError;
    expect(e.exitCode).to.equal(4);
    expect(e.stderr).to.match(/^lfs setstripe setstripe: invalid stripe size '3000000'/);
    const unknown = (await rejection(run(['lfs', 'frobnicate']))) as ExecError;
    expect(unknown.exitCode).to.equal(1);
    expect(unknown.stderr).to.equal("lfs: 'frobnicate' is not a valid command. See 'lfs --list-commands'.");
  });

  it('lustreFreeBytes reads the filesystem_summary of lfs df, from the real df numbers', async () => {
    const [result, st] = await Promise.all([lustreFreeBytes(dir), statfs(dir)]);
    expect(await calls()).to.deep.equal([['df', dir]]);
    expect(result.totalBytes).to.equal(st.blocks * st.bsize);
    // Other processes write meanwhile: allow some drift.
    expect(Math.abs(result.freeBytes - st.bavail * st.bsize)).to.be.below(256 * MiB);
  });

  it('lustreFreeBytes reports a full file system (FAKE_LFS_AVAIL_KB)', async () => {
    restores.push(setEnv({ FAKE_LFS_AVAIL_KB: '1536' }));
    const result = await lustreFreeBytes(dir);
    expect(result.freeBytes).to.equal(1536 * 1024);
    expect(result.totalBytes).to.be.above(result.freeBytes);
  });

  it('lustreFreeBytes surfaces lfs errors as ExecError', async () => {
    const e = (await rejection(lustreFreeBytes(path.join(dir, 'missing')))) as ExecError;
    expect(e).to.be.instanceOf(ExecError);
    expect(e.exitCode).to.equal(2);
    expect(e.stderr).to.equal(`error: invalid path '${path.join(dir, 'missing')}': No such file or directory`);
  });

  it('isLustre is false for the local test file system', async () => {
    expect(await isLustre(dir)).to.equal(false);
  });
});

describe('volume/lustre parseLfsDfSummary()', () => {
  const table = [
    'UUID                   1K-blocks        Used   Available Use% Mounted on',
    'lustre-MDT0000_UUID      1828696       35716     1622524   3% /mnt/lustre[MDT:0]',
    'lustre-OST0000_UUID      1819884       36032     1674348   3% /mnt/lustre[OST:0]',
    'lustre-OST0001_UUID      1819884       36032     1674348   3% /mnt/lustre[OST:1]',
    '',
    'filesystem_summary:      3639768       72064     3348696   3% /mnt/lustre',
    '',
  ].join('\n');

  it('takes total and Available from the summary line, in KiB', () => {
    expect(parseLfsDfSummary(table)).to.deep.equal({ totalBytes: 3639768 * 1024, freeBytes: 3348696 * 1024 });
  });

  it('fails clearly when there is no summary (e.g. a path not on Lustre prints nothing)', () => {
    expect(() => parseLfsDfSummary('')).to.throw(/no filesystem_summary line/);
    expect(() => parseLfsDfSummary(table.split('\n').slice(0, 4).join('\n'))).to.throw(/no filesystem_summary line/);
  });

  it('refuses human-readable numbers rather than misreading them', () => {
    expect(() => parseLfsDfSummary('filesystem_summary:         5.2G      663.0M        4.6G  13% /users')).to.throw(
      /1K-block/,
    );
  });
});
