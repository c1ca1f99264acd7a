/**
 * A small file system of the test's own (a tmpfs mounted on a fresh directory), to fill up on
 * purpose: how a test makes a database's disk full while the service keeps running. Needs root, as
 * the rest of the suite does (it installs Debian packages); unmounted by the test, also on failure.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TinyFs {
  readonly dir: string;
  /** Takes all the space that is left, with one file. */
  fill(): void;
  /** Gives the space back. */
  unfill(): void;
  unmount(): void;
}

export function mountTinyFs(sizeMiB: number): TinyFs {
  const dir = mkdtempSync(join(tmpdir(), 'vbs-tinyfs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m,mode=0700`, 'tmpfs', dir]);
  const filler = join(dir, 'filler');
  return {
    dir,
    fill: () => {
      try {
        writeFileSync(filler, Buffer.alloc(sizeMiB * 1024 * 1024));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
      }
    },
    unfill: () => rmSync(filler, { force: true }),
    unmount: () => {
      execFileSync('umount', [dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
