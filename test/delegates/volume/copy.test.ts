import { expect } from 'chai';
import { mkdir, open, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ExecError, run } from '../../../src/delegates/exec.js';
import { copyFile, growFile } from '../../../src/delegates/volume/copy.js';
import { GiB, makeTempDir, MiB, prependPath, progressProblems, removeDir, writeRefusingFallocate } from './helpers.js';

/** A sparse file of `size` bytes with distinct data at its start, middle and end. */
async function makeImage(file: string, size: number): Promise<void> {
  const fh = await open(file, 'w');
  try {
    await fh.truncate(size);
    await fh.write(Buffer.from('HEAD-of-the-volume'), 0, 18, 0);
    await fh.write(Buffer.alloc(70000, 0xab), 0, 70000, Math.floor(size / 2) - 1234);
    await fh.write(Buffer.from('TAIL!'), 0, 5, size - 5);
  } finally {
    await fh.close();
  }
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

describe('volume/copy copyFile()', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await makeTempDir('copy');
  });
  afterEach(() => removeDir(dir));

  it('preserves the content byte for byte and the size', async () => {
    const src = path.join(dir, 'src.img');
    const dst = path.join(dir, 'dst.img');
    await makeImage(src, 32 * MiB + 3);
    const progress: number[] = [];
    await copyFile(src, dst, (p) => progress.push(p));
    const [a, b] = await Promise.all([readFile(src), readFile(dst)]);
    expect(b.length).to.equal(32 * MiB + 3);
    expect(b.subarray(0, 18).toString()).to.equal('HEAD-of-the-volume');
    expect(b.subarray(b.length - 5).toString()).to.equal('TAIL!');
    expect(b.equals(a)).to.equal(true);
    expect(progressProblems(progress)).to.deep.equal([]);
  });

  it('copies a fully written file whole', async () => {
    const src = path.join(dir, 'dense.img');
    const dst = path.join(dir, 'dense-copy.img');
    const data = Buffer.alloc(3 * MiB);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + 3) & 0xff;
    await writeFile(src, data);
    await copyFile(src, dst, () => undefined);
    expect((await readFile(dst)).equals(data)).to.equal(true);
  });

  it('copies a 1 GiB fallocated volume without writing its unwritten extents', async () => {
    const src = path.join(dir, 'thick.img');
    const dst = path.join(dir, 'thick-copy.img');
    await run(['fallocate', '-l', String(GiB), src]);
    expect((await stat(src)).blocks * 512).to.be.at.least(GiB);
    const progress: number[] = [];
    const started = Date.now();
    await copyFile(src, dst, (p) => progress.push(p));
    const elapsed = Date.now() - started;
    const st = await stat(dst);
    expect(st.size).to.equal(GiB);
    expect(st.blocks * 512).to.be.below(MiB);
    expect(progressProblems(progress)).to.deep.equal([]);
    // cp 9.1 alone read the unwritten extents, as zeros (0.25 s/GiB warm, up to 3.9 s/GiB on fresh
    // page cache); the extent map skips them. More in extent-copy.test.ts.
    expect(elapsed).to.be.below(1000);
  });

  it('copies a 1 GiB sparse volume in well under a second, allocating only its data', async () => {
    const src = path.join(dir, 'sparse.img');
    const dst = path.join(dir, 'sparse-copy.img');
    await makeImage(src, GiB);
    const started = Date.now();
    await copyFile(src, dst, () => undefined);
    const elapsed = Date.now() - started;
    const st = await stat(dst);
    expect(st.size).to.equal(GiB);
    expect(st.blocks * 512).to.be.below(MiB);
    expect(elapsed).to.be.below(1000);
    const fh = await open(dst, 'r');
    try {
      const tail = Buffer.alloc(5);
      await fh.read(tail, 0, 5, GiB - 5);
      expect(tail.toString()).to.equal('TAIL!');
    } finally {
      await fh.close();
    }
  });

  it('writes into an existing empty destination without replacing its inode (Lustre layout)', async () => {
    const src = path.join(dir, 'src.img');
    const dst = path.join(dir, 'striped.img');
    await makeImage(src, 4 * MiB);
    await writeFile(dst, '');
    const inode = (await stat(dst)).ino;
    await copyFile(src, dst, () => undefined);
    expect((await stat(dst)).ino).to.equal(inode);
    expect((await readFile(dst)).equals(await readFile(src))).to.equal(true);
  });

  it('fails, creating nothing, when the source is missing', async () => {
    const dst = path.join(dir, 'x.img');
    const error = await rejection(copyFile(path.join(dir, 'none.img'), dst, () => undefined));
    expect(error).to.be.instanceOf(Error);
    expect((error as NodeJS.ErrnoException).code).to.equal('ENOENT');
    let exists = true;
    await stat(dst).catch(() => (exists = false));
    expect(exists).to.equal(false);
  });

  it('fails with ExecError when cp fails', async () => {
    const src = path.join(dir, 'src.img');
    await makeImage(src, MiB);
    const error = await rejection(copyFile(src, path.join(dir, 'no-dir', 'dst.img'), () => undefined));
    expect(error).to.be.instanceOf(ExecError);
    expect((error as ExecError).exitCode).to.equal(1);
    expect((error as ExecError).stderr).to.match(/No such file or directory/);
  });

  it('treats a source name starting with a dash as a file, not an option', async () => {
    const src = path.join(dir, '--help');
    await writeFile(src, 'not an option');
    const dst = path.join(dir, 'dash-copy');
    await copyFile(src, dst, () => undefined);
    expect(await readFile(dst, 'utf8')).to.equal('not an option');
  });
});

describe('volume/copy growFile()', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await makeTempDir('grow');
  });
  afterEach(() => removeDir(dir));

  const small = 2 * MiB + 3;

  it('sparse: grows with a hole, keeps the data', async () => {
    const file = path.join(dir, 'v.img');
    await makeImage(file, small);
    const before = await readFile(file);
    await growFile(file, 64 * MiB, 'sparse');
    const st = await stat(file);
    expect(st.size).to.equal(64 * MiB);
    expect(st.blocks * 512).to.be.below(2 * MiB);
    const after = await readFile(file);
    expect(after.subarray(0, small).equals(before)).to.equal(true);
    expect(after.subarray(small).every((b) => b === 0)).to.equal(true);
  });

  it('thick: allocates the whole new size, keeps the data', async () => {
    const file = path.join(dir, 'v.img');
    await makeImage(file, small);
    const before = await readFile(file);
    await growFile(file, 16 * MiB, 'thick');
    const st = await stat(file);
    expect(st.size).to.equal(16 * MiB);
    expect(st.blocks * 512).to.be.at.least(16 * MiB);
    expect((await readFile(file)).subarray(0, small).equals(before)).to.equal(true);
  });

  it('thick: falls back to a plain size change where fallocate is not supported', async () => {
    const bin = path.join(dir, 'bin');
    await mkdir(bin);
    const log = path.join(dir, 'fallocate.log');
    await writeRefusingFallocate(bin, log);
    const file = path.join(dir, 'v.img');
    await makeImage(file, small);
    const restore = prependPath(bin);
    try {
      await growFile(file, 16 * MiB, 'thick');
    } finally {
      restore();
    }
    expect((await readFile(log, 'utf8')).trim()).to.equal(`-l ${16 * MiB} ${file}`);
    const st = await stat(file);
    expect(st.size).to.equal(16 * MiB);
    expect(st.blocks * 512).to.be.below(4 * MiB);
  });

  it('zero: writes zeros from the old end to the new size', async () => {
    const file = path.join(dir, 'v.img');
    await makeImage(file, small);
    const before = await readFile(file);
    const allocatedBefore = (await stat(file)).blocks * 512;
    await growFile(file, 11 * MiB + 1, 'zero');
    const st = await stat(file);
    expect(st.size).to.equal(11 * MiB + 1);
    // The grown range is really written, not a hole.
    expect(st.blocks * 512 - allocatedBefore).to.be.at.least(11 * MiB + 1 - small - 4096);
    const after = await readFile(file);
    expect(after.subarray(0, small).equals(before)).to.equal(true);
    expect(after.subarray(small).every((b) => b === 0)).to.equal(true);
  });

  it('never shrinks', async () => {
    const file = path.join(dir, 'v.img');
    await makeImage(file, small);
    for (const type of ['sparse', 'thick', 'zero'] as const) {
      const error = await rejection(growFile(file, small - 1, type));
      expect(error, type).to.be.instanceOf(RangeError);
    }
    expect((await stat(file)).size).to.equal(small);
  });

  it('leaves a file of the requested size as it is', async () => {
    const file = path.join(dir, 'v.img');
    await makeImage(file, small);
    const before = await readFile(file);
    await growFile(file, small, 'zero');
    expect((await readFile(file)).equals(before)).to.equal(true);
  });
});
