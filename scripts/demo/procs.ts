/**
 * What the demo knows about processes, read from /proc: a process's children (to learn the PIDs of
 * the services `vbs-server all` forks, so they can be checked after it stops), whether a PID still
 * runs, and its command line. A zombie counts as gone: it runs nothing and holds no socket, and an
 * orphan's zombie may linger in a container whose init does not reap.
 */
import { readdirSync, readFileSync } from 'node:fs';

interface Stat {
  readonly state: string;
  readonly ppid: number;
}

/** /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces and parentheses. */
function statOf(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '?', ppid: Number(fields[1]) };
}

export function isRunning(pid: number): boolean {
  const stat = statOf(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
}

/** The argv of a running process ([] when it is gone). */
export function argvOf(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      .split('\0')
      .filter((a) => a !== '');
  } catch {
    return [];
  }
}

function allPids(): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
}

export function childrenOf(parent: number): number[] {
  return allPids().filter((pid) => statOf(pid)?.ppid === parent && isRunning(pid));
}

/** Running processes whose command line mentions `text` (e.g. the demo's temporary home). */
export function processesMentioning(text: string): number[] {
  return allPids().filter((pid) => pid !== process.pid && isRunning(pid) && argvOf(pid).some((a) => a.includes(text)));
}

/** Polls until none of `pids` runs; resolves with those still running when the time is up. */
export async function waitUntilGone(pids: readonly number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = pids.filter(isRunning);
    if (left.length === 0 || Date.now() >= deadline) return left;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Sends a signal by PID, ignoring a process that is already gone. */
export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}
