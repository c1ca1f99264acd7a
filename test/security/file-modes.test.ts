/**
 * Every file VBS writes is this user's only: databases (metadata store, trust store, journals) with
 * their -wal and -shm, logs, keys, volume and snapshot files are 0600, directories 0700. Checked on a
 * cluster that has been used (volumes, a snapshot, a deletion, a vbs-admin quota change), while it
 * runs (the -wal and -shm files exist then) and after it stopped; and files an older VBS made 0644
 * are made 0600 when they are opened again.
 *
 * The one exception is certificates (*.pem holding a CERTIFICATE): public by nature, they stay 0644,
 * inside 0700 directories, so no other user reaches them either. Files the test harness writes
 * itself (the services' config files, the stderr it captures) are not VBS's and are left out.
 */
import Database from 'better-sqlite3';
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { chmodSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Journal } from '../../src/delegates/volume/journal.js';
import { SqliteStore } from '../../src/frontend/store/sqlite-store.js';
import { createLogger } from '../../src/log.js';
import { openTrustDatabase } from '../../src/security/truststore/schema.js';
import { ec2Client, waitForSnapshot, waitForVolume, type Ec2Client } from '../support/ec2-client.js';
import { ifMade } from '../support/if-made.js';
import { FAKE_BIN, REPO_ROOT } from '../support/repo.js';
import { startCluster, type Cluster } from '../support/services.js';

const ZONE = 'vbs-local-1a';
const ADMIN_BIN = join(REPO_ROOT, 'dist', 'src', 'cli', 'vbs-admin.js');

/** What the test harness writes into the home, not VBS: config files and captured stderr. */
function writtenByHarness(path: string): boolean {
  return /^[^/]+\.json$/.test(path) || path.endsWith('.stderr') || path.endsWith('.before-restart');
}

function isCertificate(file: string): boolean {
  return file.endsWith('.pem') && readFileSync(file, 'utf8').startsWith('-----BEGIN CERTIFICATE-----');
}

/** Every entry under `home` whose mode breaks the rule, as "path mode". */
function looseEntries(home: string): string[] {
  const loose: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const rel = relative(home, path);
      const st = lstatSync(path);
      const mode = st.mode & 0o777;
      if (st.isDirectory()) {
        if (mode !== 0o700) loose.push(`${rel}/ ${mode.toString(8)}`);
        walk(path);
      } else if (st.isFile() && !writtenByHarness(rel)) {
        const allowed = isCertificate(path) ? [0o600, 0o644] : [0o600];
        if (!allowed.includes(mode)) loose.push(`${rel} ${mode.toString(8)}`);
      }
    }
  };
  walk(home);
  return loose;
}

function listed(home: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      out.push(relative(home, path));
      if (lstatSync(path).isDirectory()) walk(path);
    }
  };
  walk(home);
  return out;
}

const mode = (path: string): number => lstatSync(path).mode & 0o777;

describe('file modes: everything VBS writes is private', function () {
  this.timeout(120_000);

  describe('a cluster that has been used', () => {
    let cluster: Cluster;
    let client: Ec2Client;
    before(async () => {
      cluster = await startCluster({ vmms: [{}], frontend: { workers: 2 } });
      client = ec2Client(cluster);
    });
    after(async () => {
      ifMade(client)?.close();
      await ifMade(cluster)?.stop();
    });

    it('has every database with its -wal and -shm, log and volume file 0600 and every directory 0700', async () => {
      const ids: string[] = [];
      for (const volumeType of ['sparse', 'thick', 'zero'] as const) {
        const { volumeId } = await client.call('CreateVolume', { size: '1', availabilityZone: ZONE, volumeType });
        expect(await waitForVolume(client, volumeId, ['available', 'error'], 60_000)).to.equal('available');
        ids.push(volumeId);
      }
      const { snapshotId } = await client.call('CreateSnapshot', { volumeId: ids[0] ?? '' });
      expect(await waitForSnapshot(client, snapshotId, ['completed', 'error'], 60_000)).to.equal('completed');
      await client.call('DeleteVolume', { volumeId: ids[1] ?? '' });
      const quota = await new Promise<number>((resolve) => {
        execFile(
          process.execPath,
          [ADMIN_BIN, 'quota', 'set', 'alice', '--volumes', '50'],
          { env: { ...process.env, VBS_HOME: cluster.home } },
          (error) => resolve(error === null ? 0 : 1),
        );
      });
      expect(quota).to.equal(0);

      const files = listed(cluster.home);
      // What the rule is checked on: the databases while open (so with -wal and -shm), the logs.
      for (const f of [
        'vbs.sqlite',
        'vbs.sqlite-wal',
        'vbs.sqlite-shm',
        'trust.sqlite',
        'volume-delegate-vd-1.journal',
        'volume-delegate-vd-1.journal-wal',
        'volume-delegate-vd-1.journal-shm',
        'frontend.log',
        'vd-1.log',
        'vmm-1.log',
        'certs/ca-key.pem',
        `volumes/volumes/${ids[0] ?? ''}.img`,
        `volumes/snapshots/${snapshotId}.img`,
      ])
        expect(files, f).to.include(f);
      expect(looseEntries(cluster.home), 'while running').to.deep.equal([]);

      // After a graceful stop too (stop() keeps the home while VBS_KEEP_TEST_HOME is set).
      const keep = process.env['VBS_KEEP_TEST_HOME'];
      process.env['VBS_KEEP_TEST_HOME'] = '1';
      try {
        await cluster.stop();
      } finally {
        if (keep === undefined) delete process.env['VBS_KEEP_TEST_HOME'];
        else process.env['VBS_KEEP_TEST_HOME'] = keep;
      }
      expect(looseEntries(cluster.home), 'after the stop').to.deep.equal([]);
      if (keep === undefined) rmSync(cluster.home, { recursive: true, force: true });
    });
  });

  describe('a Volume Delegate on Lustre (fake lfs, which makes its files 0644 as lfs does)', () => {
    let cluster: Cluster;
    let client: Ec2Client;
    let state: string;
    before(async () => {
      state = mkdtempSync(join(tmpdir(), 'vbs-modes-lfs-'));
      cluster = await startCluster({
        delegate: () => ({ lustre: 'on' }),
        env: { PATH: `${FAKE_BIN}:${process.env['PATH'] ?? ''}`, FAKE_LFS_STATE: state },
      });
      client = ec2Client(cluster);
    });
    after(async () => {
      ifMade(client)?.close();
      await ifMade(cluster)?.stop();
      if (ifMade(state) !== undefined) rmSync(state, { recursive: true, force: true });
    });

    it('has the volume and snapshot files laid out by lfs setstripe 0600', async () => {
      const { volumeId } = await client.call('CreateVolume', {
        size: '1',
        availabilityZone: ZONE,
        volumeType: 'thick',
      });
      expect(await waitForVolume(client, volumeId, ['available', 'error'], 60_000)).to.equal('available');
      const { snapshotId } = await client.call('CreateSnapshot', { volumeId });
      expect(await waitForSnapshot(client, snapshotId, ['completed', 'error'], 60_000)).to.equal('completed');
      expect(mode(join(cluster.home, 'volumes', 'volumes', `${volumeId}.img`))).to.equal(0o600);
      expect(mode(join(cluster.home, 'volumes', 'snapshots', `${snapshotId}.img`))).to.equal(0o600);
      expect(looseEntries(cluster.home)).to.deep.equal([]);
    });
  });

  describe('with umask 0 (modes are set, not left to the umask)', () => {
    let dir: string;
    let umask: number;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'vbs-modes-'));
      umask = process.umask(0);
    });
    afterEach(() => {
      process.umask(umask);
      rmSync(dir, { recursive: true, force: true });
    });

    it('makes new databases with their -wal and -shm, and a log, 0600 in new directories 0700', async () => {
      const store = new SqliteStore(join(dir, 'a', 'vbs.sqlite'));
      const trust = openTrustDatabase(join(dir, 'b', 'trust.sqlite'));
      const journal = new Journal(join(dir, 'c', 'd', 'vd-1.journal'));
      const logger = createLogger('test', { file: join(dir, 'e', 'f', 'x.log') });
      logger.info('hello');
      await new Promise<void>((resolve) => {
        logger.on('finish', () => resolve());
        logger.end();
      });
      expect(listed(dir)).to.include.members(['a/vbs.sqlite-wal', 'a/vbs.sqlite-shm', 'c/d/vd-1.journal-wal']);
      expect(looseEntries(dir)).to.deep.equal([]);
      await store.close();
      trust.close();
      journal.close();
    });
  });

  describe('files an older VBS made 0644', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'vbs-modes-'));
    });
    afterEach(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    /** A WAL database as SQLite makes it with the default umask: the file and its -wal/-shm 0644. */
    function looseDatabase(file: string): Database.Database {
      const db = new Database(file);
      db.pragma('journal_mode = WAL');
      db.exec('CREATE TABLE t (x)');
      for (const f of [file, `${file}-wal`, `${file}-shm`]) chmodSync(f, 0o644);
      return db;
    }

    it('makes the metadata store, the trust store and a journal 0600 with their -wal and -shm', async () => {
      const opened: { name: string; open: (file: string) => () => Promise<void> | void }[] = [
        {
          name: 'vbs.sqlite',
          open: (file) => {
            const store = new SqliteStore(file);
            return () => store.close();
          },
        },
        {
          name: 'trust.sqlite',
          open: (file) => {
            const db = openTrustDatabase(file);
            return () => db.close();
          },
        },
        {
          name: 'volume-delegate-vd-1.journal',
          open: (file) => {
            const journal = new Journal(file);
            return () => journal.close();
          },
        },
      ];
      for (const { name, open } of opened) {
        const file = join(dir, name);
        // Held open, as a crashed older VBS leaves its -wal and -shm.
        const old = looseDatabase(file);
        const close = open(file);
        for (const f of [file, `${file}-wal`, `${file}-shm`]) expect(mode(f), f).to.equal(0o600);
        await close();
        old.close();
      }
    });

    it('makes a log file 0600, and a new one 0600 in a directory it makes 0700', async () => {
      const old = join(dir, 'old.log');
      writeFileSync(old, '', { mode: 0o644 });
      chmodSync(old, 0o644);
      const fresh = join(dir, 'logs', 'new.log');
      for (const file of [old, fresh]) {
        const logger = createLogger('test', { file });
        logger.info('hello');
        await new Promise<void>((resolve) => {
          logger.on('finish', () => resolve());
          logger.end();
        });
        expect(mode(file), file).to.equal(0o600);
        expect(readFileSync(file, 'utf8')).to.include('"message":"hello"');
      }
      expect(mode(join(dir, 'logs'))).to.equal(0o700);
    });
  });
});
