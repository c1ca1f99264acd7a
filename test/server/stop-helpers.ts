/** What the graceful-stop tests share: signalling a service by its PID and watching it exit, and its processes. */
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import type { ServiceProcess } from '../support/services.js';

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** From the signal to the exit. */
  readonly afterMs: number;
}

/**
 * Sends `signal` to the service's own PID (not its group) and waits for it to exit; SIGKILL after
 * `killAfterMs`, so that a service that does not stop cannot outlive the test.
 */
export async function signalAndWait(
  service: ServiceProcess,
  signal: NodeJS.Signals,
  killAfterMs: number,
): Promise<Exit> {
  const child = service.child;
  if (child.exitCode !== null || child.signalCode !== null) expect.fail(`${service.name} is not running`);
  const exited = new Promise<Exit>((resolve) => {
    const at = Date.now();
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.once('exit', (code, sig) => {
      clearTimeout(timer);
      resolve({ code, signal: sig, afterMs: Date.now() - at });
    });
  });
  process.kill(child.pid ?? expect.fail('no PID'), signal);
  return exited;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A process of this machine: its PID, parent and command line. */
export interface ProcessInfo {
  readonly pid: number;
  readonly ppid: number;
  readonly argv: readonly string[];
}

/** Every process /proc shows now (those that end while it is read are left out). */
export function processes(): ProcessInfo[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .flatMap((d) => {
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        // pid (comm) state ppid ...: comm may hold spaces and parentheses, so read after the last ')'.
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').filter(Boolean);
        return [{ pid: Number(d), ppid, argv }];
      } catch {
        return [];
      }
    });
}
