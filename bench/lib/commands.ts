/**
 * Why: the baselines (dd, cp) and the file-system set-up (mkfs, losetup, mount) must run as plain
 * programs with argv arrays, never through a shell, and be timed the same way every time: the clock
 * covers exactly the program's run, and a failure stops the benchmark with the program's stderr
 * instead of producing a fast, wrong figure. They run asynchronously (execFile, not spawnSync): a
 * blocked event loop misses the services closing idle keep-alive connections, and the next SOAP call
 * then fails on a dead socket ("socket hang up").
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { since } from './stats.js';

export class CommandError extends Error {
  override readonly name = 'CommandError';
}

/** Runs argv to completion and returns its stdout; throws on a non-zero exit or a missing program. */
export function run(argv: readonly [string, ...string[]]): Promise<string> {
  const [file, ...args] = argv;
  return new Promise((resolve, reject) => {
    execFile(file, args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new CommandError(`${argv.join(' ')}: ${error.message.split('\n')[0] ?? ''}: ${stderr.trim()}`));
      else resolve(stdout);
    });
  });
}

/** Runs argv and returns how long it took, in milliseconds. */
export async function timed(argv: readonly [string, ...string[]]): Promise<number> {
  const start = performance.now();
  await run(argv);
  return since(start);
}

/** Flushes every dirty page so that one measurement does not pay for the previous one's writes. */
export async function syncAll(): Promise<void> {
  await run(['sync']);
}

/**
 * Empties the page cache (root only), so that each copy reads its source from disk as a cold
 * snapshot would. Returns false when this process may not do it; the caller records that.
 */
export async function dropCaches(): Promise<boolean> {
  await syncAll();
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3\n');
    return true;
  } catch {
    return false;
  }
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** The file-system type holding `path`, as findmnt names it (ext4, xfs...). */
export async function fsTypeOf(path: string): Promise<string> {
  try {
    return (await run(['findmnt', '-n', '-o', 'FSTYPE', '-T', path])).trim() || 'unknown';
  } catch {
    return 'unknown';
  }
}
