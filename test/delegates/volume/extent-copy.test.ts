/*
 * copyFile() on real files: a snapshot must cost the data written, not the
 * volume's size. On this ext4 disk the clone is refused, so these exercise the
 * extent-aware copy, and its fallback to cp when filefrag fails or prints what
 * it does not recognise. Spies on cp and filefrag show which path was taken.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { run } from '../../../src/delegates/exec.js';
import { copyFile } from '../../../src/delegates/volume/copy.js';
import { fileSystemName, logLines, makeFiemapTempDir, sha256, writeFakeFilefrag, writeSpy } from './extent-helpers.js';
import { GiB, MiB, prependPath, progressProblems, removeDir } from './helpers.js';

/** Writes `length` random bytes at each offset, without fsync: they stay in the page cache for now. */
async function writeRandom(file: string, offsets: readonly number[], length: number): Promise<void> {
  const fh = await open(file, 'r+');
  try {
    for (const offset of offsets) await fh.write(randomBytes(length), 0, length, offset);
  } finally {
    await fh.close();
  }
}

async function allocated(file: string): Promise<number> {
  return (await stat(file)).blocks * 512;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

/** A thick volume with 64 MiB of data in 4 regions, spread and not block-aligned. */
async function makeThickWithData(file: string, size: number): Promise<void> {
  await run(['fallocate', '-l', String(size), file]);
  await writeRandom(
    file,
    [0, 1, 2, 3].map((i) => Math.floor((i * size) / 4) + 37 * MiB + 4097),
    16 * MiB,
  );
  await run(['sync', file]);
}

describe('volume/copy copyFile() through the extent map', function () {
  this.timeout(120_000);
  let dir: string;
  let bin: string;
  let cpLog: string;
  let filefragLog: string;
  let restorePath: () => void;

  beforeEach(async () => {
    dir = await makeFiemapTempDir('extent');
    bin = path.join(dir, 'bin');
    await mkdir(bin);
    cpLog = path.join(dir, 'cp.log');
    filefragLog = path.join(dir, 'filefrag.log');
    await writeSpy(bin, 'cp', cpLog);
    restorePath = prependPath(bin);
  });
  afterEach(async () => {
    restorePath();
    await removeDir(dir);
  });

  /** The cp invocations that read the whole source: the fallback. */
  const cpFallbacks = async (): Promise<string[]> =>
    (await logLines(cpLog)).filter((l) => l.includes('--sparse=always'));

  it('works on ext4, XFS or btrfs, not tmpfs', async () => {
    expect(await fileSystemName(dir)).to.be.a('string');
  });

  it('copies a 3 GiB fallocated volume in well under a second, allocating nothing', async () => {
    await writeSpy(bin, 'filefrag', filefragLog);
    const src = path.join(dir, 'thick.img');
    const dst = path.join(dir, 'thick-copy.img');
    await run(['fallocate', '-l', String(3 * GiB), src]);
    expect(await allocated(src)).to.be.at.least(3 * GiB);
    const progress: number[] = [];
    const started = Date.now();
    await copyFile(src, dst, (p) => progress.push(p));
    const elapsed = Date.now() - started;
    expect((await stat(dst)).size).to.equal(3 * GiB);
    expect(await allocated(dst)).to.be.below(MiB);
    expect(elapsed).to.be.below(500);
    expect(progressProblems(progress)).to.deep.equal([]);
    expect(await cpFallbacks()).to.deep.equal([]);
    expect(await logLines(filefragLog)).to.deep.equal([`-s -v -- ${src}`]);
  });

  it('copies a 1 GiB thick volume with 64 MiB of data byte for byte, allocating about the data', async () => {
    const src = path.join(dir, 'data.img');
    const dst = path.join(dir, 'data-copy.img');
    await makeThickWithData(src, GiB);
    const progress: number[] = [];
    await copyFile(src, dst, (p) => progress.push(p));
    expect((await stat(dst)).size).to.equal(GiB);
    expect(await sha256(dst)).to.equal(await sha256(src));
    const bytes = await allocated(dst);
    expect(bytes).to.be.at.least(64 * MiB);
    expect(bytes).to.be.below(65 * MiB);
    expect(await cpFallbacks()).to.deep.equal([]);
    // 16 chunks of 4 MiB: progress moves in steps, never back, and ends at 100.
    expect(progressProblems(progress)).to.deep.equal([]);
    expect(progress.length).to.be.at.least(10);
  });

  it('copies a sparse volume with data at its start and its very end', async () => {
    const src = path.join(dir, 'sparse.img');
    const dst = path.join(dir, 'sparse-copy.img');
    const size = 256 * MiB + 12345;
    await writeFile(src, '');
    const fh = await open(src, 'r+');
    await fh.truncate(size);
    await fh.close();
    await writeRandom(src, [0, size - MiB], MiB);
    await copyFile(src, dst, () => undefined);
    expect((await stat(dst)).size).to.equal(size);
    expect(await sha256(dst)).to.equal(await sha256(src));
    expect(await allocated(dst)).to.be.below(3 * MiB);
    expect(await cpFallbacks()).to.deep.equal([]);
  });

  it('copies data still only in the page cache, over unwritten extents and over holes', async () => {
    // Without filefrag -s, FIEMAP maps these ranges as unwritten (thick) and the copy would skip them.
    const thick = path.join(dir, 'thick.img');
    await run(['fallocate', '-l', String(64 * MiB), thick]);
    await run(['sync', thick]);
    const sparse = path.join(dir, 'sparse.img');
    await writeFile(sparse, '');
    const fh = await open(sparse, 'r+');
    await fh.truncate(64 * MiB);
    await fh.close();
    for (const src of [thick, sparse]) {
      await writeRandom(src, [MiB, 20 * MiB + 3, 64 * MiB - 5000], 4000);
      const dst = `${src}.copy`;
      await copyFile(src, dst, () => undefined);
      expect(await sha256(dst), src).to.equal(await sha256(src));
    }
    expect(await cpFallbacks()).to.deep.equal([]);
  });

  it('overwrites what an existing destination held, holes included, and keeps its inode', async () => {
    const src = path.join(dir, 'src.img');
    const dst = path.join(dir, 'old.img');
    await run(['fallocate', '-l', String(16 * MiB), src]);
    await writeRandom(src, [4 * MiB], MiB);
    await writeFile(dst, Buffer.alloc(20 * MiB, 0xff));
    const inode = (await stat(dst)).ino;
    await copyFile(src, dst, () => undefined);
    expect((await stat(dst)).ino).to.equal(inode);
    expect((await readFile(dst)).equals(await readFile(src))).to.equal(true);
  });

  it('copies an empty file, and makes a new copy readable by its owner only', async () => {
    const empty = path.join(dir, 'empty.img');
    await writeFile(empty, '', { mode: 0o644 });
    await copyFile(empty, `${empty}.copy`, () => undefined);
    expect((await stat(`${empty}.copy`)).size).to.equal(0);
    const src = path.join(dir, 'open.img');
    await writeFile(src, randomBytes(MiB), { mode: 0o644 });
    await copyFile(src, `${src}.copy`, () => undefined);
    expect((await stat(`${src}.copy`)).mode & 0o777).to.equal(0o600);
    expect(await cpFallbacks()).to.deep.equal([]);
  });

  it('stops when aborted, with the abort reason, leaving no half-made copy', async () => {
    const src = path.join(dir, 'data.img');
    const dst = path.join(dir, 'copy.img');
    await makeThickWithData(src, 256 * MiB);
    const abort = new AbortController();
    const progress: number[] = [];
    const onProgress = (p: number): void => {
      progress.push(p);
      if (p > 0) abort.abort();
    };
    const error = await rejection(copyFile(src, dst, onProgress, abort.signal));
    expect((error as Error).name).to.equal('AbortError');
    expect(progress[progress.length - 1]).to.be.below(100);
    expect(
      await stat(dst).then(
        () => 'exists',
        () => 'gone',
      ),
    ).to.equal('gone');
  });

  describe('falls back to cp, still byte for byte', () => {
    const cases: ReadonlyArray<{ what: string; body: readonly string[] }> = [
      {
        what: 'when filefrag fails',
        body: [`echo "$f: FIBMAP/FIEMAP unsupported" >&2`, 'exit 1'],
      },
      {
        what: 'when filefrag prints an older format (e2fsprogs 1.41)',
        body: [
          'echo "Filesystem type is: ef53"',
          `echo "File size of $f is $(stat -c %s "$f") (4096 blocks, blocksize 4096)"`,
          'echo " ext logical physical expected length flags"',
          'echo "   0       0  7209474            4096 unwritten,eof"',
          'echo "$f: 1 extent found"',
        ],
      },
      {
        what: 'when the map does not account for the blocks the file holds',
        body: [
          'echo "Filesystem type is: ef53"',
          `echo "File size of $f is $(stat -c %s "$f") (4096 blocks of 4096 bytes)"`,
          'echo "$f: 0 extents found"',
        ],
      },
    ];
    for (const { what, body } of cases) {
      it(what, async () => {
        await writeFakeFilefrag(bin, filefragLog, body);
        const src = path.join(dir, 'data.img');
        const dst = path.join(dir, 'data-copy.img');
        await run(['fallocate', '-l', String(16 * MiB), src]);
        await writeRandom(src, [MiB + 7, 9 * MiB], 2 * MiB);
        const progress: number[] = [];
        await copyFile(src, dst, (p) => progress.push(p));
        expect(await logLines(filefragLog)).to.have.length(1);
        expect(await cpFallbacks()).to.have.length(1);
        expect(await sha256(dst)).to.equal(await sha256(src));
        expect(progressProblems(progress)).to.deep.equal([]);
      });
    }

    it('when the file name holds a line break, which filefrag would echo', async () => {
      await writeSpy(bin, 'filefrag', filefragLog);
      const src = path.join(dir, 'two\nlines.img');
      await writeFile(src, randomBytes(MiB));
      await copyFile(src, `${src}.copy`, () => undefined);
      expect(await logLines(filefragLog)).to.deep.equal([]);
      expect(await cpFallbacks()).to.have.length(1);
      expect(await sha256(`${src}.copy`)).to.equal(await sha256(src));
    });
  });
});
