/**
 * The one place where the demo runs the `vbs` client (dist/src/cli/vbs.js, in a child process with an
 * argv array, as a user's shell would run it). Which VBS it talks to comes from the environment the
 * demo shows the user once (`export VBS_HOME=… VBS_ENDPOINT=…`), so every command reads exactly as a
 * user types it. When requests are signed, the client's credentials are added here and nowhere else:
 * the CLI finds an admin's certificate under $VBS_HOME by itself, and should `vbs-server all` print
 * credentials (VBS_CERT=… / VBS_KEY=…) in its banner, credentialsFromBanner passes them through.
 */
import { spawn } from 'node:child_process';
import { CLI_BIN } from '../../test/support/repo.js';
import { signal } from './procs.js';

export interface VbsConnection {
  /** Environment for every `vbs` command: VBS_HOME, VBS_ENDPOINT and any credentials. */
  readonly env: Readonly<Record<string, string>>;
  /** Options put before the command word (none today; --cert/--key would go here). */
  readonly globalArgs: readonly string[];
}

export interface VbsRun {
  /** The command as typed: `vbs create-volume --size 1 --wait`. */
  readonly typed: readonly string[];
  readonly status: number;
  /** stdout and stderr together, in the order they arrived (progress, table, or the error line). */
  readonly output: string;
  readonly ms: number;
}

/** VBS_CERT=/VBS_KEY= assignments in what vbs-server printed (none yet: request signing is coming). */
export function credentialsFromBanner(banner: string): Record<string, string> {
  const found: Record<string, string> = {};
  for (const m of banner.matchAll(/\b(VBS_CERT|VBS_KEY)=("[^"]+"|'[^']+'|\S+)/g)) {
    const [, name = '', value = ''] = m;
    found[name] = value.replace(/^["']|["']$/g, '');
  }
  return found;
}

export function connectionTo(home: string, endpoint: string, banner: string): VbsConnection {
  return { env: { VBS_HOME: home, VBS_ENDPOINT: endpoint, ...credentialsFromBanner(banner) }, globalArgs: [] };
}

/** The environment of a child: the demo's own, without any VBS_* the user had set for another VBS. */
function childEnv(connection: VbsConnection): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('VBS_')) env[k] = v;
  return { ...env, ...connection.env };
}

/** Runs `vbs ARGS...`; resolves whatever its exit status (a refusal may be what a step shows). */
export function runVbs(connection: VbsConnection, args: readonly string[], timeoutMs = 60_000): Promise<VbsRun> {
  const typed = ['vbs', ...connection.globalArgs, ...args];
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_BIN, ...connection.globalArgs, ...args], {
      env: childEnv(connection),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString('utf8');
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString('utf8');
    });
    const timer = setTimeout(() => {
      if (child.pid !== undefined) signal(child.pid, 'SIGKILL');
      reject(new Error(`'${typed.join(' ')}' did not finish within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code, sig) => {
      clearTimeout(timer);
      resolve({ typed, status: code ?? (sig ? 128 : 1), output, ms: Date.now() - started });
    });
  });
}
