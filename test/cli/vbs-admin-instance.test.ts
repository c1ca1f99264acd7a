/**
 * vbs-admin instance set-owner / instance list as an administrator runs them: the real binary in a
 * child process, on a metadata store the frontend's own SqliteStore made and keeps open (a running
 * frontend), which must see each assignment at once. The end-to-end effect on AttachVolume and
 * DetachVolume, per driver, is test/vmm/instance-owners.test.ts.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { SqliteStore } from '../../src/frontend/store/sqlite-store.js';
import { REPO_ROOT } from '../support/repo.js';
import { tempDir } from '../security/truststore/helpers.js';

const ADMIN_BIN = join(REPO_ROOT, 'dist', 'src', 'cli', 'vbs-admin.js');

interface Run {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

interface Listed {
  instanceId: string;
  vmmHost: string;
  state: string | null;
  ownerId: string | null;
  source: string | null;
  reportedOwnerId: string | null;
}

function run(home: string, args: readonly string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [ADMIN_BIN, '--home', home, ...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ status: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

const host = (
  name: string,
): { host: string; endpoint: string; driver: string; healthy: boolean; lastSeen: number } => ({
  host: name,
  endpoint: `https://127.0.0.1:1/${name}`,
  driver: 'qemu',
  healthy: true,
  lastSeen: 1,
});

describe('vbs-admin instance set-owner / list', () => {
  let home: string;
  let store: SqliteStore;

  beforeEach(async () => {
    home = tempDir('vbs-admin-instance-');
    store = new SqliteStore(join(home, 'vbs.sqlite'));
    await store.registerVmm(host('node-1'), [
      { instanceId: 'i-alice0000000001', state: 'running', ownerId: 'alice' },
      { instanceId: 'i-nobody000000001', state: 'running', ownerId: null },
      { instanceId: 'i-twice0000000001', state: 'running', ownerId: 'alice' },
    ]);
    await store.registerVmm(host('node-2'), [{ instanceId: 'i-twice0000000001', state: 'running', ownerId: 'bob' }]);
  });
  afterEach(async () => {
    await store.close();
    rmSync(home, { recursive: true, force: true });
  });

  const owners = async (id: string): Promise<(string | null)[]> => (await store.findInstance(id)).map((l) => l.ownerId);

  it("lists each instance with its owner and who said so, and an assignment wins over the node's report at once", async () => {
    const before = JSON.parse((await run(home, ['instance', 'list', '--json'])).stdout) as Listed[];
    expect(before.map((r) => [r.instanceId, r.vmmHost, r.ownerId, r.source])).to.deep.equal([
      ['i-alice0000000001', 'node-1', 'alice', 'node'],
      ['i-nobody000000001', 'node-1', null, null],
      ['i-twice0000000001', 'node-1', 'alice', 'node'],
      ['i-twice0000000001', 'node-2', 'bob', 'node'],
    ]);
    const set = await run(home, ['instance', 'set-owner', 'i-alice0000000001', '--owner', 'carol']);
    expect(set).to.include({ status: 0, stderr: '' });
    expect(set.stdout).to.equal(
      'i-alice0000000001 on node-1 belongs to carol now (before: alice, as its node reports it); running frontends apply it from their next request.\n',
    );
    expect(await owners('i-alice0000000001')).to.deep.equal(['carol']);
    expect(await store.instanceOwner('i-alice0000000001', 'node-1')).to.equal('carol');
    // The node registers again, still saying alice: the admin's word stays.
    await store.registerVmm(host('node-1'), [{ instanceId: 'i-alice0000000001', state: 'running', ownerId: 'alice' }]);
    expect(await owners('i-alice0000000001')).to.deep.equal(['carol']);
    const table = (await run(home, ['instance', 'list'])).stdout;
    expect(table).to.match(/^i-alice0000000001\s+node-1\s+running\s+carol\s+admin\s+alice$/m);
    // An instance no node reports now keeps its assignment, and is listed as not registered.
    await store.registerVmm(host('node-1'), []);
    expect(await owners('i-alice0000000001')).to.deep.equal([]);
    expect((await run(home, ['instance', 'list'])).stdout).to.match(
      /^i-alice0000000001\s+node-1\s+not registered\s+carol\s+admin\s+-$/m,
    );
    await store.registerVmm(host('node-1'), [{ instanceId: 'i-alice0000000001', state: 'running', ownerId: null }]);
    expect(await owners('i-alice0000000001')).to.deep.equal(['carol']);
  });

  it('gives an instance nobody owned to a user, and needs --node for an ID two nodes report', async () => {
    expect((await run(home, ['instance', 'set-owner', 'i-nobody000000001', '--owner', 'bob'])).status).to.equal(0);
    expect(await owners('i-nobody000000001')).to.deep.equal(['bob']);
    const ambiguous = await run(home, ['instance', 'set-owner', 'i-twice0000000001', '--owner', 'carol']);
    expect(ambiguous.status).to.equal(2);
    expect(ambiguous.stderr).to.include('runs on several nodes; name one with --node (node-1, node-2)');
    expect(await owners('i-twice0000000001')).to.deep.equal(['alice', 'bob']);
    const one = await run(home, ['instance', 'set-owner', 'i-twice0000000001', '--node', 'node-2', '--owner', 'carol']);
    expect(one.status).to.equal(0);
    expect(one.stdout).to.include('(before: bob, as its node reports it)');
    expect(await owners('i-twice0000000001')).to.deep.equal(['alice', 'carol']);
  });

  it('refuses what it cannot do, with the reason and no stack trace, changing nothing', async () => {
    const cases: [readonly string[], number, string][] = [
      [['i-alice0000000001'], 2, 'missing --owner USER'],
      [['i-alice0000000001', '--owner', 'frontend'], 2, 'reserved for a VBS service identity'],
      [['i-alice0000000001', '--owner', 'not a name'], 2, 'invalid user name'],
      [['../etc/passwd', '--owner', 'bob'], 2, 'is not an instance ID'],
      [['i-alice0000000001', '--owner', 'bob', '--node', 'node-2'], 1, 'no instance i-alice0000000001 on node-2'],
      [['i-unknown00000001', '--owner', 'bob'], 1, "no instance i-unknown00000001 in the frontend's registry"],
    ];
    for (const [args, status, message] of cases) {
      const r = await run(home, ['instance', 'set-owner', ...args]);
      expect({ args, status: r.status }).to.deep.equal({ args, status });
      expect(r.stderr).to.include(message);
      expect(r.stderr).not.to.match(/^\s+at /m);
    }
    expect(await owners('i-alice0000000001')).to.deep.equal(['alice']);
    const missing = await run(home, ['instance', 'list', '--database', join(home, 'none.sqlite')]);
    expect(missing.status).to.equal(1);
    expect(missing.stderr).to.include('no metadata store at');
  });
});
