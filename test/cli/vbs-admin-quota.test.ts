/**
 * vbs-admin quota set / show as an administrator runs them: the real binary in a child process, on
 * a home whose metadata store a frontend made (a SqliteStore, as the frontend opens it), with the
 * frontend's config deciding the database and the defaults; and a store opened beforehand (a running
 * frontend) applying an override on its next insert.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/frontend/store/sqlite-store.js';
import { snapshotRecord, volumeRecord } from '../support/records.js';
import { REPO_ROOT } from '../support/repo.js';

const ADMIN_BIN = join(REPO_ROOT, 'dist', 'src', 'cli', 'vbs-admin.js');

interface Run {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(home: string, args: readonly string[]): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, VBS_HOME: home };
  delete env['VBS_DEBUG'];
  return new Promise((resolve) => {
    execFile(process.execPath, [ADMIN_BIN, ...args], { env, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ status: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

const DEFAULTS = { volumes: 5000, gib: 20480, snapshots: 10000 };

describe('vbs-admin quota', function () {
  this.timeout(60_000);
  let home: string;
  let store: SqliteStore;
  const admin = (...args: string[]): Promise<Run> => run(home, args);

  beforeEach(async () => {
    home = mkdtempSync(join(tmpdir(), 'vbs-admin-quota-'));
    store = new SqliteStore(join(home, 'vbs.sqlite'));
    const v = volumeRecord({ sizeGiB: 3 });
    await store.insertVolume(v);
    await store.insertVolume(volumeRecord({ sizeGiB: 4, status: 'error' }));
    await store.insertVolume(volumeRecord({ sizeGiB: 50, status: 'deleted' }));
    await store.insertSnapshot(snapshotRecord(v.id));
  });
  afterEach(async () => {
    await store.close();
    rmSync(home, { recursive: true, force: true });
  });

  it("shows the frontend's defaults and what the user holds (deleted resources not counted)", async () => {
    const r = await admin('quota', 'show', 'alice');
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout.split('\n').map((l) => l.split(/\s{2,}/))).to.deep.equal([
      ['Quota of alice:'],
      ['QUOTA', 'LIMIT', 'SET BY', 'HELD'],
      ['volumes', '5000', 'default', '2'],
      ['gib', '20480', 'default', '7'],
      ['snapshots', '10000', 'default', '1'],
      [''],
    ]);
  });

  it('sets overrides that a running store applies on its next insert, and returns them to the default', async () => {
    const set = await admin('quota', 'set', 'alice', '--volumes', '2', '--gib=100', '--json');
    expect(set.status, set.stderr).to.equal(0);
    expect(JSON.parse(set.stdout)).to.deep.include({
      userId: 'alice',
      quotas: [
        { kind: 'volumes', limit: 2, setBy: 'override', held: 2 },
        { kind: 'gib', limit: 100, setBy: 'override', held: 7 },
        { kind: 'snapshots', limit: 10000, setBy: 'default', held: 1 },
      ],
    });
    expect(await store.insertVolume(volumeRecord(), DEFAULTS)).to.deep.equal({
      admitted: false,
      reason: 'quota',
      quota: 'volumes',
      limit: 2,
      used: 2,
    });
    // Another user keeps the defaults.
    expect((await store.insertVolume(volumeRecord({ ownerId: 'bob' }), DEFAULTS)).admitted).to.equal(true);

    const lowered = await admin('quota', 'set', 'alice', '--volumes', '1');
    expect(lowered.stdout).to.include('alice holds more volumes than its limit: new ones are refused.');
    const back = await admin('quota', 'set', 'alice', '--volumes', 'default', '--gib', 'default');
    expect(back.status, back.stderr).to.equal(0);
    expect(back.stdout).to.match(/volumes\s+5000\s+default\s+2/);
    expect((await store.insertVolume(volumeRecord(), DEFAULTS)).admitted).to.equal(true);
  });

  it("reads the database and the defaults from the frontend's config (HOME/frontend.json, or --config)", async () => {
    writeFileSync(join(home, 'frontend.json'), JSON.stringify({ quotaVolumes: 3, quotaSnapshots: null }));
    expect((await admin('quota', 'show', 'alice')).stdout)
      .to.match(/volumes\s+3\s+default/)
      .and.match(/snapshots\s+none/);
    const elsewhere = join(home, 'elsewhere');
    const other = new SqliteStore(join(elsewhere, 'meta.sqlite'));
    await other.close();
    const config = join(home, 'other.json');
    writeFileSync(config, JSON.stringify({ database: join(elsewhere, 'meta.sqlite'), quotaGiB: 9 }));
    const r = await admin('quota', 'show', 'alice', '--config', config, '--json');
    expect(r.status, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout)).to.deep.include({
      database: join(elsewhere, 'meta.sqlite'),
      quotas: [
        { kind: 'volumes', limit: 5000, setBy: 'default', held: 0 },
        { kind: 'gib', limit: 9, setBy: 'default', held: 0 },
        { kind: 'snapshots', limit: 10000, setBy: 'default', held: 0 },
      ],
    });
  });

  it('refuses bad arguments (exit 2) and a home without a metadata store (exit 1), changing nothing', async () => {
    for (const args of [
      ['quota', 'set', 'alice'],
      ['quota', 'set', 'alice', '--volumes', 'ten'],
      ['quota', 'set', 'alice', '--gib=-1'],
      ['quota', 'set', 'alice', '--snapshots', '1.5'],
      ['quota', 'set', 'frontend', '--volumes', '1'],
      ['quota', 'show'],
    ]) {
      const r = await admin(...args);
      expect(r.status, args.join(' ')).to.equal(2);
      expect(r.stderr).to.match(/^vbs-admin: /);
    }
    expect((await admin('quota', 'show', 'alice')).stdout).to.match(/volumes\s+5000\s+default/);
    const empty = mkdtempSync(join(tmpdir(), 'vbs-admin-quota-empty-'));
    try {
      const r = await run(empty, ['quota', 'set', 'alice', '--volumes', '1']);
      expect(r.status).to.equal(1);
      expect(r.stderr).to.include(`no metadata store at ${join(empty, 'vbs.sqlite')}: start the frontend once`);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
