/**
 * The demo's two virtual machines: the project's tiny real Linux guest (Debian's kernel and busybox,
 * test/support/tiny-guest.ts) under QEMU with TCG, so the demo runs on machines without KVM. Each
 * guest's QMP socket is put in the VMM Delegate's qemuSocketDir, which is all it takes for VBS to find
 * it. Commands run in a guest are shown with the guest's name as the prompt, then their output.
 */
import { execFile } from 'node:child_process';
import {
  ensureTinyGuestImages,
  startTinyGuest,
  type GuestResult,
  type TinyGuest,
  type TinyGuestImages,
} from '../../test/support/tiny-guest.js';
import { transcript } from './narrator.js';
import { isRunning, signal, waitUntilGone } from './procs.js';

export type { TinyGuest };

/** QEMU's version line, or an error saying how to install it. */
export function qemuVersion(): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('qemu-system-x86_64', ['--version'], { timeout: 10_000 }, (err, stdout) => {
      if (err) {
        reject(
          new Error(
            `qemu-system-x86_64 is needed (${err.message.split('\n')[0] ?? ''}); install the Debian package qemu-system-x86 (bash scripts/test-deps.sh does)`,
          ),
        );
        return;
      }
      resolve(stdout.split('\n')[0] ?? '');
    });
  });
}

/** The guest's kernel and initrd (built once by scripts/build-tiny-guest.sh into var/guest). */
export function guestImages(): Promise<TinyGuestImages> {
  return ensureTinyGuestImages();
}

export function bootGuest(qemuSocketDir: string, id: string): Promise<TinyGuest> {
  return startTinyGuest(qemuSocketDir, id, { hotplugPorts: 4, bootTimeoutMs: 60_000 });
}

/** Runs a command in the guest and shows it as typed at the guest's shell, with its output. */
export async function inGuest(guest: TinyGuest, cmd: string, timeoutMs = 20_000): Promise<GuestResult> {
  const r = await guest.exec(cmd, timeoutMs);
  transcript(`[${guest.id}]#`, cmd, r.output);
  return r;
}

/** Stops a guest by its QEMU PID (SIGTERM, SIGKILL if it lingers); resolves with whether it is gone. */
export async function stopGuest(guest: TinyGuest): Promise<boolean> {
  signal(guest.pid, 'SIGTERM');
  if ((await waitUntilGone([guest.pid], 5_000)).length > 0) signal(guest.pid, 'SIGKILL');
  await guest.stop(); // reaps it and removes its QMP socket
  return !isRunning(guest.pid);
}
