import { expect } from 'chai';
import { existsSync, writeFileSync } from 'node:fs';
import { mkdir, open, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { provisionFile, VOLUME_TYPES } from '../../../src/delegates/volume/provision.js';
import { waitFor } from '../../support/wait.js';
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

/** A fake dd that the tests below put first on PATH: `body` after lines that log its arguments and PID. */
async function writeFakeDd(dir: string, body: readonly string[]): Promise<string> {
  const bin = path.join(dir, 'bin');
  await mkdir(bin);
  const script = [
    '#!/bin/sh',
    `printf '%s\\n' "$*" >> '${path.join(dir, 'dd.log')}'`,
    `echo $$ >> '${path.join(dir, 'dd.pids')}'`,
    'for a in "$@"; do case "$a" in of=*) of="${a#of=}";; count=*) count="${a#count=}";; esac; done',
    ...body,
    '',
  ].join('\n');
  await writeFile(path.join(bin, 'dd'), script, { mode: 0o755 });
  return bin;
}

/**
 * Shell lines that wait until file `flag` exists (double-quoted: it may name a shell variable): how
 * a fake dd is held until the test lets it go.
 * The 20 s bound only keeps a fake from outliving a test that failed before releasing it.
 */
function waitForFlag(flag: string): string[] {
  return [
    'i=0',
    `while [ ! -e "${flag}" ]; do`,
    `  i=$((i + 1)); [ $i -gt 400 ] && { echo "dd: never released (${flag})" >&2; exit 1; }`,
    '  sleep 0.05',
    'done',
  ];
}

/** The fake dds' PIDs, from dd.pids. */
async function fakePids(dir: string): Promise<number[]> {
  const text = await readFile(path.join(dir, 'dd.pids'), 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).map(Number);
}

/** Kills, by PID, any fake dd a failed test left running (one whose command line still names `dir`). */
async function stopFakes(dir: string): Promise<void> {
  for (const pid of await fakePids(dir)) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    try {
      if (cmdline.includes(dir)) process.kill(pid, 'SIGKILL');
    } catch {
      // It ended between the look and the kill.
    }
  }
}

describe('volume/provision provisionFile()', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await makeTempDir('prov');
  });
  afterEach(async () => {
    await stopFakes(dir);
    await removeDir(dir);
  });

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
    // A dd that writes the file a quarter at a time and, after each of the first three quarters,
    // waits until the test has been told that progress: however fast or slow the disk and the
    // 250 ms polling are, each quarter is there to be seen, and nothing runs ahead of it.
    const seen = (quarter: number): string => path.join(dir, `seen-${quarter}`);
    const bin = await writeFakeDd(dir, [
      'for quarter in 1 2 3 4; do',
      '  /usr/bin/dd if=/dev/zero of="$of" bs=1M count=$((count * quarter)) conv=notrunc status=none || exit 1',
      '  [ "$quarter" = 4 ] && exit 0',
      ...waitForFlag(`${path.join(dir, 'seen-')}$quarter`).map((l) => `  ${l}`),
      'done',
    ]);
    const file = path.join(dir, 'slow.img');
    const progress: number[] = [];
    const onProgress = (p: number): void => {
      progress.push(p);
      for (const quarter of [1, 2, 3]) {
        if (p >= quarter * 25 && !existsSync(seen(quarter))) writeFileSync(seen(quarter), '');
      }
    };
    const restore = prependPath(bin);
    try {
      await provisionFile(file, 8 * MiB, 'zero', onProgress);
    } finally {
      restore();
    }
    expect((await readFile(path.join(dir, 'dd.log'), 'utf8')).trim()).to.equal(
      `if=/dev/zero of=${file} bs=4M count=2 conv=notrunc,fsync`,
    );
    expect(progressProblems(progress)).to.deep.equal([]);
    // While held after quarter n the file is exactly n quarters long, and held until n*25 was reported.
    expect(progress, JSON.stringify(progress)).to.include.members([25, 50, 75]);
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
    // A dd that writes 4 MiB and then never finishes: the abort below provably comes while it runs.
    const running = path.join(dir, 'running');
    const bin = await writeFakeDd(dir, [
      '/usr/bin/dd if=/dev/zero of="$of" bs=4M count=1 conv=notrunc status=none || exit 1',
      `: > '${running}'`,
      ...waitForFlag(path.join(dir, 'never')),
    ]);
    const file = path.join(dir, 'aborted.img');
    const controller = new AbortController();
    const restore = prependPath(bin);
    let error: unknown;
    try {
      const work = provisionFile(file, 1024 * MiB, 'zero', () => undefined, controller.signal).then(
        () => undefined,
        (e: unknown) => e,
      );
      try {
        await waitFor(
          'the fake dd running',
          () => existsSync(running),
          (r) => r,
          10_000,
        );
      } finally {
        controller.abort(new Error('operator abort'));
        error = await work;
      }
    } finally {
      restore();
    }
    expect(error).to.be.instanceOf(Error);
    expect((error as Error).message).to.equal('operator abort');
    // provisionFile returned only once its dd was gone: killed, as left alone it would still be waiting.
    const [pid] = await fakePids(dir);
    expect(pid, 'the fake dd ran').to.be.a('number');
    expect(existsSync(`/proc/${String(pid)}`), `dd (PID ${String(pid)}) still runs`).to.equal(false);
    expect((await stat(file)).size).to.equal(4 * MiB);
  });
});
