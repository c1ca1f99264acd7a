/**
 * The vbs CLI as a user runs it: the real binary in a child process against a real frontend and
 * volume delegate on loopback, checking what it prints and the exit status it ends with.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { CLI_BIN } from '../support/repo.js';
import { freePort, startCluster, type Cluster } from '../support/services.js';
import { ifMade } from '../support/if-made.js';

interface Run {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

interface VolumeJson {
  volumeId: string;
  status: string;
  snapshotId: string;
  size: string;
}
interface SnapshotJson {
  snapshotId: string;
  status: string;
  progress: string;
  description?: string;
}

function run(args: readonly string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI_BIN, ...args], { env, timeout: 20_000 }, (error, stdout, stderr) => {
      const status = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ status, stdout, stderr });
    });
  });
}

function expectNoStack(r: Run): void {
  expect(r.stderr).not.to.match(/^\s+at /m);
  expect(r.stderr.trim().split('\n')).to.have.length.of.at.most(3);
}

const VOL_ID = /\bvol-[0-9a-f]{8,}\b/;
const SNAP_ID = /\bsnap-[0-9a-f]{8,}\b/;

describe('vbs CLI', function () {
  this.timeout(30_000);
  let cluster: Cluster;
  let env: NodeJS.ProcessEnv;
  const vbs = (...args: string[]): Promise<Run> => run(args, env);
  let volumeId = '';
  let snapshotId = '';

  before(async () => {
    cluster = await startCluster();
    // The CA comes from $VBS_HOME/certs/ca.pem, as for a user on the frontend's own machine.
    // Requests are signed as alice, whose files vbs-admin would have given her.
    env = {
      ...process.env,
      VBS_HOME: cluster.home,
      VBS_ENDPOINT: cluster.frontendUrl,
      VBS_CA: '',
      VBS_CERT: join(cluster.home, 'users', 'alice', 'alice.pem'),
      VBS_KEY: join(cluster.home, 'users', 'alice', 'alice.key'),
    };
  });

  after(async () => {
    await ifMade(cluster)?.stop();
  });

  it('lists the availability zones', async () => {
    const r = await vbs('describe-zones');
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^ZONE\s+STATE\s+REGION/);
    expect(r.stdout).to.match(/vbs-local-1a\s+available/);
  });

  it('create-volume --wait prints the volume available', async () => {
    const r = await vbs('create-volume', '--size', '1', '--wait');
    expect(r.status, r.stderr).to.equal(0);
    const [header, row] = r.stdout.trim().split('\n');
    expect(header).to.match(/^VOLUME ID\s+SIZE\s+STATUS\s+TYPE\s+ZONE\s+SNAPSHOT\s+CREATED\s+ATTACHMENTS$/);
    expect(row).to.match(/^vol-[0-9a-f]+\s+1 GiB\s+available\s+sparse\s+vbs-local-1a\s/);
    volumeId = VOL_ID.exec(row ?? '')?.[0] ?? '';
    // stderr is not a terminal here: plain progress lines, ending with the end state.
    expect(r.stderr).to.include(`${volumeId}: available`);
    expect(r.stderr).not.to.include('\r');
  });

  it('describe-volumes prints an aligned table, and JSON with --json', async () => {
    const table = await vbs('describe-volumes');
    expect(table.status, table.stderr).to.equal(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).to.match(/^VOLUME ID/);
    const row = lines.find((l) => l.startsWith(volumeId));
    expect(row).to.match(/\savailable\s/);
    expect(row?.indexOf('1 GiB')).to.equal(lines[0]?.indexOf('SIZE'));

    const json = await vbs('describe-volumes', volumeId, '--json');
    expect(json.status, json.stderr).to.equal(0);
    const parsed = JSON.parse(json.stdout) as { requestId: string; volumeSet: { item: VolumeJson[] } };
    expect(parsed.requestId).to.be.a('string');
    expect(parsed.volumeSet.item).to.have.length(1);
    expect(parsed.volumeSet.item[0]).to.include({ volumeId, status: 'available', size: '1' });
  });

  it('describe-volumes --filter selects by EC2 filters', async () => {
    const hit = await vbs('describe-volumes', '--filter', 'status=available,creating', '--filter', 'size=1', '--json');
    const miss = await vbs('describe-volumes', '--filter', 'status=error', '--json');
    expect(hit.status, hit.stderr).to.equal(0);
    expect(miss.status, miss.stderr).to.equal(0);
    const ids = (out: string): string[] =>
      ((JSON.parse(out) as { volumeSet: { item?: VolumeJson[] } }).volumeSet.item ?? []).map((v) => v.volumeId);
    expect(ids(hit.stdout)).to.include(volumeId);
    expect(ids(miss.stdout)).not.to.include(volumeId);
  });

  it('create-snapshot --wait reaches completed with 100%', async () => {
    const r = await vbs('create-snapshot', volumeId, '--description', 'cli test', '--wait');
    expect(r.status, r.stderr).to.equal(0);
    const row = r.stdout.trim().split('\n')[1] ?? '';
    expect(row).to.match(/\scompleted\s+100%\s/);
    expect(row).to.include('cli test');
    snapshotId = SNAP_ID.exec(row)?.[0] ?? '';
    expect(r.stderr).to.include(`${snapshotId}: completed 100%`);

    const described = await vbs('describe-snapshots', snapshotId, '--json');
    const snap = (JSON.parse(described.stdout) as { snapshotSet: { item: SnapshotJson[] } }).snapshotSet.item[0];
    expect(snap).to.include({ snapshotId, status: 'completed', progress: '100%', description: 'cli test' });
  });

  it('create-volume --snapshot makes a volume from the snapshot', async () => {
    const r = await vbs('create-volume', '--snapshot', snapshotId, '--wait', '--json');
    expect(r.status, r.stderr).to.equal(0);
    const v = (JSON.parse(r.stdout) as { volumeSet: { item: VolumeJson[] } }).volumeSet.item[0];
    expect(v).to.include({ snapshotId, status: 'available', size: '1' });
    const del = await vbs('delete-volume', v?.volumeId ?? '', '--wait');
    expect(del.status, del.stderr).to.equal(0);
  });

  it('delete-snapshot removes the snapshot', async () => {
    const r = await vbs('delete-snapshot', snapshotId);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.include(snapshotId);
    const gone = await vbs('describe-snapshots', snapshotId);
    expect(gone.status).to.equal(1);
    expect(gone.stderr).to.match(/^vbs: InvalidSnapshot\.NotFound: /);
  });

  it('delete-volume --wait follows the volume until it is gone', async () => {
    const r = await vbs('delete-volume', volumeId, '--wait');
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.equal(`${volumeId} deleted\n`);
    const list = await vbs('describe-volumes', '--json');
    expect(list.stdout).not.to.include(volumeId);
  });

  it('a fault exits 1 with the EC2 code and request ID on stderr, and no stack trace', async () => {
    const r = await vbs('describe-volumes', 'vol-00000000000000000');
    expect(r.status).to.equal(1);
    expect(r.stdout).to.equal('');
    expect(r.stderr).to.match(/^vbs: InvalidVolume\.NotFound: .*vol-00000000000000000.* \(request [\w-]+\)\n$/);
    expectNoStack(r);
  });

  it('bad usage exits 2 with a short usage, before contacting anything', async () => {
    for (const args of [
      ['create-volume'],
      ['create-volume', '--size', 'big'],
      ['delete-volume'],
      ['delete-volume', 'vol-1', 'vol-2'],
      ['frobnicate'],
      ['describe-volumes', '--no-such-option'],
      ['describe-volumes', '--wait'],
      ['describe-volumes', '--filter', 'status'],
      ['attach-volume', 'vol-1', '--instance', 'i-1'],
      ['create-volume', '--size', '1', '--type', 'fast'],
      [],
    ]) {
      const r = await vbs(...args);
      expect(r.status, `vbs ${args.join(' ')}: ${r.stderr}`).to.equal(2);
      expect(r.stdout).to.equal('');
      expect(r.stderr).to.match(/^vbs: .+\nUsage: vbs /);
      expectNoStack(r);
    }
  });

  it('--help prints usage on stdout and exits 0', async () => {
    const general = await vbs('--help');
    expect(general.status).to.equal(0);
    for (const c of [
      'create-volume',
      'describe-volumes',
      'delete-volume',
      'create-snapshot',
      'describe-snapshots',
      'delete-snapshot',
      'attach-volume',
      'detach-volume',
      'describe-zones',
    ]) {
      expect(general.stdout).to.include(c);
    }
    const one = await vbs('create-volume', '--help');
    expect(one.status).to.equal(0);
    expect(one.stdout).to.match(/^Usage: vbs create-volume /);
    expect(one.stdout).to.include('--snapshot');
  });

  it('an endpoint with nothing listening gives one clear line and exit 1', async () => {
    const port = await freePort();
    const r = await vbs('--endpoint', `https://127.0.0.1:${port}/vbs`, 'describe-volumes');
    expect(r.status).to.equal(1);
    expect(r.stdout).to.equal('');
    expect(r.stderr).to.match(
      new RegExp(`^vbs: cannot reach https://127\\.0\\.0\\.1:${port}/vbs: .*ECONNREFUSED.*\\n$`),
    );
    expectNoStack(r);
  });

  it('an expired certificate of your own gives one clear line and exit 1, and sends nothing', async () => {
    const keys = forge.pki.rsa.generateKeyPair(2048);
    const cert = forge.pki.createCertificate();
    cert.publicKey = keys.publicKey;
    cert.serialNumber = '01';
    cert.validity.notBefore = new Date(Date.now() - 30 * 86_400_000);
    cert.validity.notAfter = new Date(Date.now() - 86_400_000);
    cert.setSubject([{ name: 'commonName', value: 'alice' }]);
    cert.setIssuer([{ name: 'commonName', value: 'alice' }]);
    cert.sign(keys.privateKey, forge.md.sha256.create());
    const dir = mkdtempSync(join(tmpdir(), 'vbs-expired-'));
    try {
      writeFileSync(join(dir, 'alice.pem'), forge.pki.certificateToPem(cert), { mode: 0o600 });
      writeFileSync(join(dir, 'alice.key'), forge.pki.privateKeyToPem(keys.privateKey), { mode: 0o600 });
      const r = await vbs('describe-volumes', '--cert', join(dir, 'alice.pem'), '--key', join(dir, 'alice.key'));
      expect(r.status).to.equal(1);
      expect(r.stderr).to.match(/^vbs: your signing certificate \(CN=alice\) expired on \d{4}-\d\d-\d\d.*renew it\n$/);
      expectNoStack(r);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a missing CA file gives one clear line and exit 1', async () => {
    const r = await vbs('describe-zones', '--ca', join(cluster.home, 'no-such-ca.pem'));
    expect(r.status).to.equal(1);
    expect(r.stderr).to.match(/^vbs: cannot read CA certificate .*no-such-ca\.pem/);
    expectNoStack(r);
  });
});
