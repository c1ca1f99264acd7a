/**
 * HAProxy (Debian's haproxy) as the documented production shape puts it in front of the frontends:
 * TCP mode (TLS goes through untouched, so WS-Security and the clients' CA checks are end to end),
 * round robin, health checks, and a connection refused by one backend tried on the next. It runs
 * in the foreground inside a test host, as a child of the test, stopped by its PID.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestHost } from './netns.js';

export interface Backend {
  readonly name: string;
  readonly address: string;
  readonly port: number;
}

export interface HaproxyOptions {
  readonly port: number;
  readonly backends: readonly Backend[];
  /**
   * An HTTPS path that answers 200 while the backend can serve (its health check); without one,
   * a backend is up while it accepts TCP connections.
   */
  readonly healthPath?: string;
  /** The CA that the backends' certificates must chain to, for the HTTPS health check. */
  readonly caFile?: string;
}

export interface Haproxy {
  readonly address: string;
  readonly port: number;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

export function haproxyConfig(address: string, options: HaproxyOptions): string {
  const check = options.healthPath
    ? `check inter 300ms fall 2 rise 1 check-ssl verify required ca-file ${options.caFile ?? ''}`
    : 'check inter 300ms fall 2 rise 1';
  return [
    'global',
    '  maxconn 4096',
    'defaults',
    '  mode tcp',
    '  timeout connect 1s',
    '  timeout client 60s',
    '  timeout server 60s',
    // A backend that refuses the connection is not the client's problem: try another.
    '  retries 2',
    '  option redispatch',
    'frontend vbs',
    `  bind ${address}:${options.port}`,
    '  default_backend frontends',
    'backend frontends',
    '  balance roundrobin',
    ...(options.healthPath ? [`  option httpchk GET ${options.healthPath}`, '  http-check expect status 200'] : []),
    ...options.backends.map((b) => `  server ${b.name} ${b.address}:${b.port} ${check}`),
    '',
  ].join('\n');
}

export async function startHaproxy(host: TestHost, options: HaproxyOptions): Promise<Haproxy> {
  const dir = mkdtempSync(join(tmpdir(), 'vbs-haproxy-'));
  const config = join(dir, 'haproxy.cfg');
  writeFileSync(config, haproxyConfig(host.address, options), { mode: 0o600 });
  const child = host.spawn('haproxy', ['-db', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Up when it accepts on its port (checked from inside its host).
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`haproxy exited: ${stderr}`);
    try {
      host.run('bash', ['-c', `exec 3<>/dev/tcp/${host.address}/${options.port}`]);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`haproxy did not listen: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    address: host.address,
    port: options.port,
    process: child,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
