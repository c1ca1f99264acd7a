/**
 * A throwaway PostgreSQL server of the test's own: Debian's postgresql 15 binaries, a data directory
 * made by initdb in a fresh temporary directory, listening on 127.0.0.1 and a private unix socket
 * directory only, stopped by the test by its postmaster's PID and removed, also when a test fails.
 * initdb refuses to run as root, so the server runs as the `postgres` user Debian's package makes;
 * trust authentication is enough for a server nobody else can reach (127.0.0.1, a port of our
 * choosing, a socket in a 0700 directory). ~1 s to start here.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './services.js';

export interface PostgresServer {
  /** postgres://vbs@127.0.0.1:PORT/DB for a database made by createDatabase. */
  url(database: string): string;
  readonly port: number;
  /** The postmaster's PID: what the chaos tests stop and kill. */
  readonly pid: number;
  /** A fresh empty database owned by the server's superuser `vbs`. */
  createDatabase(name: string): void;
  /** psql as the superuser, for a test to look or to break things on purpose. */
  psql(database: string, sql: string): string;
  /** kill -9 of the server and all its processes, as when its host dies; returns when they are gone. */
  kill(): void;
  /** Starts it again after a kill, on the same port and data. */
  restart(): void;
  stop(): void;
}

function binDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  const bin = versions.map((v) => join(root, v, 'bin')).find((d) => existsSync(join(d, 'initdb')));
  if (!bin)
    throw new Error(
      'PostgreSQL server binaries not found under /usr/lib/postgresql (scripts/test-deps.sh installs them)',
    );
  return bin;
}

function ids(user: string): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

/** Alive and not a zombie waiting to be reaped (pg_ctl's children are not ours to reap). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        return (
          readFileSync(`/proc/${name}/stat`, 'utf8')
            .replace(/^.*\) /s, '')
            .split(' ')[1] === String(pid)
        );
      } catch {
        return false;
      }
    })
    .map(Number);
}

const live = new Set<PostgresServer>();
// A test run that ends without its after() hooks (a crash, Ctrl-C) still stops its servers.
process.once('exit', () => {
  for (const s of live) s.stop();
});

export async function startPostgres(): Promise<PostgresServer> {
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), 'vbs-pg-'));
  const data = join(dir, 'data');
  const sockets = join(dir, 'run');
  mkdirSync(sockets, { mode: 0o700 });
  const { uid, gid } = ids('postgres');
  chownSync(dir, uid, gid);
  chownSync(sockets, uid, gid);
  const asPostgres = (cmd: string, args: string[]): string => {
    const r = spawnSync('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args], { encoding: 'utf8', cwd: dir });
    if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${r.stderr || r.stdout}`);
    return r.stdout;
  };
  asPostgres('initdb', ['-D', data, '-U', 'vbs', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const port = await freePort();
  const options = [
    `-p ${port}`,
    `-k ${sockets}`,
    '-c listen_addresses=127.0.0.1',
    '-c max_connections=200',
    // A test server: durability of the machine is not what is tested here, the protocol is.
    '-c fsync=off',
    '-c full_page_writes=off',
  ].join(' ');
  const start = (): void => {
    asPostgres('pg_ctl', ['-D', data, '-w', '-t', '30', '-l', join(dir, 'server.log'), '-o', options, 'start']);
  };
  const pidOf = (): number => Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  start();
  let stopped = false;
  const server: PostgresServer = {
    port,
    get pid() {
      return pidOf();
    },
    url: (database) => `postgres://vbs@127.0.0.1:${port}/${database}`,
    createDatabase: (name) => {
      if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new Error(`not a database name: ${name}`);
      asPostgres('psql', [
        '-h',
        sockets,
        '-p',
        String(port),
        '-U',
        'vbs',
        '-d',
        'postgres',
        '-qc',
        `CREATE DATABASE ${name}`,
      ]);
    },
    psql: (database, sql) =>
      asPostgres('psql', ['-h', sockets, '-p', String(port), '-U', 'vbs', '-d', database, '-qAtc', sql]),
    kill: () => {
      const pid = pidOf();
      const all = [pid, ...childrenOf(pid)];
      for (const p of all) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      const deadline = Date.now() + 5000;
      while (all.some(running) && Date.now() < deadline) spawnSync('sleep', ['0.02']);
    },
    restart: () => {
      if (existsSync(join(data, 'postmaster.pid')) && running(pidOf())) return;
      // Its backends notice the postmaster's death and exit; until they have, the shared memory is theirs.
      const deadline = Date.now() + 10_000;
      for (;;) {
        try {
          start();
          return;
        } catch (e) {
          if (Date.now() > deadline) throw e;
          spawnSync('sleep', ['0.1']);
        }
      }
    },
    stop: () => {
      if (stopped) return;
      stopped = true;
      live.delete(server);
      try {
        const pid = pidOf();
        process.kill(pid, 'SIGQUIT'); // immediate shutdown; it is a throwaway
        const deadline = Date.now() + 5000;
        while (running(pid)) {
          if (Date.now() > deadline) {
            process.kill(pid, 'SIGKILL');
            break;
          }
          spawnSync('sleep', ['0.02']);
        }
      } catch {
        // no postmaster.pid or no such process: already down
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  live.add(server);
  return server;
}
