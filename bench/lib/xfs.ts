/**
 * Why: the work disk is ext4, which cannot clone files, and VBS's snapshots are meant to become
 * near-free where the file system can (reflink). To measure that here, a benchmark gets a
 * loop-mounted XFS with reflink on a sparse image file, and the machine gets everything back
 * afterwards (unmount, detach the loop device, remove the image), whether the benchmark passed,
 * failed or was interrupted (Ctrl-C), since a leaked loop device or image would outlive this process.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './commands.js';

/** Runs fn with a fresh XFS (reflink=1) mounted at a temporary directory, imageBytes large (sparse). */
export async function withXfs<T>(imageBytes: number, fn: (mountPoint: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'vbs-bench-xfs-'));
  const image = join(dir, 'xfs.img');
  const mountPoint = join(dir, 'mnt');
  let loop: string | undefined;
  let mounted = false;
  // On a signal the services may still hold files open: unmount lazily, then leave.
  const onSignal = (signal: NodeJS.Signals): void => {
    if (mounted) spawnSync('umount', ['-l', mountPoint], { stdio: 'ignore' });
    if (loop !== undefined) spawnSync('losetup', ['-d', loop], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
    process.stderr.write(`bench: ${signal}: XFS unmounted and removed\n`);
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    writeFileSync(image, '');
    truncateSync(image, imageBytes);
    await run(['mkfs.xfs', '-q', '-m', 'reflink=1', image]);
    loop = (await run(['losetup', '-f', '--show', image])).trim();
    mkdirSync(mountPoint);
    await run(['mount', '-t', 'xfs', loop, mountPoint]);
    mounted = true;
    return await fn(mountPoint);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    const problems: string[] = [];
    if (mounted) {
      try {
        await run(['umount', mountPoint]);
      } catch (e) {
        problems.push(String(e));
      }
    }
    if (loop !== undefined) {
      try {
        await run(['losetup', '-d', loop]);
      } catch (e) {
        problems.push(String(e));
      }
    }
    if (problems.length === 0) rmSync(dir, { recursive: true, force: true });
    // Do not hide the benchmark's own error behind a clean-up error; do say what was left behind.
    else process.stderr.write(`bench: XFS clean-up incomplete, left ${dir}: ${problems.join('; ')}\n`);
  }
}
