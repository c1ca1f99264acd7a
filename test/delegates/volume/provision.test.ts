import { expect } from 'chai';
import { mkdir, open, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { provisionFile, VOLUME_TYPES } from '../../../src/delegates/volume/provision.js';
import { makeTempDir, MiB, prependPath, progressProblems, removeDir, writeRefusingFallocate } from './helpers.js';

async function isAllZero(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(MiB);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) return true;
      if (buf.subarray(0, bytesRead).some((b) => b !== 0)) return false;
    }
  } finally {
    await fh.close();
  }
}

describe('volume/provision provisionFile()', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await makeTempDir('prov');
  });
  afterEach(() => removeDir(dir));

  it('knows exactly the three volume types', () => {
    expect([...VOLUME_TYPES].sort()).to.deep.equal(['sparse', 'thick', 'zero']);
  });

  it('sparse: exact size, almost nothing allocated', async () => {
    const file = path.join(dir, 'sparse.img');
    const progress: number[] = [];
    await provisionFile(file, 1024 * MiB, 'sparse', (p) => progress.push(p));
    const st = await stat(file);
    expect(st.size).to.equal(1024 * MiB);
    expect(st.blocks * 512).to.be.below(MiB);
    expect(progressProblems(progress)).to.deep.equal([]);
  });

  it('thick: exact size, every block allocated', async () => {
    const file = path.join(dir, 'thick.img');
    await provisionFile(file, 64 * MiB + 4096, 'thick', () => undefined);
    const st = await stat(file);
    expect(st.size).to.equal(64 * MiB + 4096);
    expect(st.blocks * 512).to.be.at.least(64 * MiB + 4096);
  });

  it('zero: writes zeros over whatever was there, allocates it all, reports progress to 100', async () => {
    const file = path.join(dir, 'zero.img');
    await writeFile(file, 'garbage that must be overwritten');
    const progress: number[] = [];
    await provisionFile(file, 8 * MiB, 'zero', (p) => progress.push(p));
    const st = await stat(file);
    expect(st.size).to.equal(8 * MiB);
    expect(st.blocks * 512).to.be.at.least(8 * MiB);
    expect(await isAllZero(file)).to.equal(true);
    expect(progress[0]).to.equal(0);
    expect(progressProblems(progress)).to.deep.equal([]);
  });

  it("zero: handles a size that is not a multiple of dd's 4 MiB block", async () => {
    const file = path.join(dir, 'odd.img');
    const size = 5 * MiB + 12345;
    await provisionFile(file, size, 'zero', () => undefined);
    const st = await stat(file);
    expect(st.size).to.equal(size);
    expect(st.blocks * 512).to.be.at.least(size);
    expect(await isAllZero(file)).to.equal(true);
  });

  it("zero: runs the paper's dd and reports progress from the growing file while it runs", async () => {
    // A dd that records its arguments and writes the file in four steps, 300 ms apart,
    // so that the 250 ms polling has something to see whatever the disk speed.
    const bin = path.join(dir, 'bin');
    await mkdir(bin);
    const log = path.join(dir, 'dd.log');
    const slowDd = [
      '#!/bin/sh',
      `printf '%s\\n' "$*" >> '${log}'`,
      'for a in "$@"; do case "$a" in of=*) of="${a#of=}";; count=*) count="${a#count=}";; esac; done',
      'for step in 1 2 3 4; do',
      '  /usr/bin/dd if=/dev/zero of="$of" bs=1M count=$((count * step)) conv=notrunc status=none || exit 1',
      '  sleep 0.3',
      'done',
      '',
    ].join('\n');
    await writeFile(path.join(bin, 'dd'), slowDd, { mode: 0o755 });
    const file = path.join(dir, 'slow.img');
    const progress: number[] = [];
    const restore = prependPath(bin);
    try {
      await provisionFile(file, 8 * MiB, 'zero', (p) => progress.push(p));
    } finally {
      restore();
    }
    expect((await readFile(log, 'utf8')).trim()).to.equal(`if=/dev/zero of=${file} bs=4M count=2 conv=notrunc,fsync`);
    expect(progressProblems(progress)).to.deep.equal([]);
    expect(progress.filter((p) => p > 0 && p < 100).length, JSON.stringify(progress)).to.be.at.least(2);
    expect((await stat(file)).size).to.equal(8 * MiB);
  });

  it('keeps an existing empty file (the inode lfs setstripe made) for every type', async () => {
    for (const type of VOLUME_TYPES) {
      const file = path.join(dir, `pre-${type}.img`);
      await writeFile(file, '');
      const before = await stat(file);
      await provisionFile(file, 4 * MiB, type, () => undefined);
      const after = await stat(file);
      expect(after.ino, type).to.equal(before.ino);
      expect(after.size, type).to.equal(4 * MiB);
    }
  });

  it('refuses to shrink an existing larger file', async () => {
    const file = path.join(dir, 'big.img');
    await writeFile(file, Buffer.alloc(8192, 7));
    let error: unknown;
    await provisionFile(file, 4096, 'sparse', () => undefined).catch((e: unknown) => (error = e));
    expect(error).to.be.instanceOf(Error);
    expect((await readFile(file)).length).to.equal(8192);
  });

  it('rejects invalid sizes and types before touching the disk', async () => {
    const file = path.join(dir, 'bad.img');
    for (const size of [-1, 1.5, Number.NaN, 2 ** 60]) {
      let error: unknown;
      await provisionFile(file, size, 'sparse', () => undefined).catch((e: unknown) => (error = e));
      expect(error, String(size)).to.be.instanceOf(RangeError);
    }
    let error: unknown;
    await provisionFile(file, 4096, 'thin' as never, () => undefined).catch((e: unknown) => (error = e));
    expect(error).to.be.instanceOf(RangeError);
    let exists = true;
    await stat(file).catch(() => (exists = false));
    expect(exists).to.equal(false);
  });

  it('thick: falls back to writing zeros where fallocate is not supported', async () => {
    const bin = path.join(dir, 'bin');
    const log = path.join(dir, 'fallocate.log');
    await mkdir(bin);
    await writeRefusingFallocate(bin, log);
    const file = path.join(dir, 'zfs.img');
    const progress: number[] = [];
    const restore = prependPath(bin);
    try {
      await provisionFile(file, 6 * MiB, 'thick', (p) => progress.push(p));
    } finally {
      restore();
    }
    expect((await readFile(log, 'utf8')).trim()).to.equal(`-l ${6 * MiB} ${file}`);
    const st = await stat(file);
    expect(st.size).to.equal(6 * MiB);
    expect(st.blocks * 512).to.be.at.least(6 * MiB);
    expect(await isAllZero(file)).to.equal(true);
    expect(progressProblems(progress)).to.deep.equal([]);
  });

  it('stops dd when the signal aborts', async () => {
    const file = path.join(dir, 'aborted.img');
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('operator abort')), 150);
    const started = Date.now();
    let error: unknown;
    await provisionFile(file, 1024 * MiB, 'zero', () => undefined, controller.signal).catch(
      (e: unknown) => (error = e),
    );
    expect(error).to.be.instanceOf(Error);
    expect((error as Error).message).to.equal('operator abort');
    expect(Date.now() - started).to.be.below(2000);
    expect((await stat(file)).size).to.be.below(1024 * MiB);
  });
});
