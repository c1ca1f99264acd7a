/**
 * Interop: Python zeep (Debian's python3-zeep, run as /usr/bin/python3) drives the whole life cycle
 * through zeep_lifecycle.py against the real frontend and Volume Delegate processes, trusting only
 * the cluster's CA file. The script checks every answer itself and prints one JSON line per step;
 * this test checks its exit status and what those lines say.
 *
 * Two clients, both with zeep's default strict parsing: built from the served WSDL (/vbs, with VBS's
 * extensions); and built from Amazon's own EC2 WSDL with only the service address changed, to the
 * strict EC2 endpoint (/ec2), which answers in exactly Amazon's shapes.
 *
 * Both sign as alice (BinarySignature rsa-sha256 + a Timestamp plugin), and zeep verifies every answer,
 * faults too, against the frontend's RSA certificate (HOME/certs/frontend.rsa.pem, which signs its
 * answers to requests signed with RSA): a life cycle that completes also proves that each answer
 * was signed by the frontend. A control run told to expect
 * another certificate fails at the first answer, so the check is known to be live.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { requireExternalFile } from '../support/external-file.js';
import { EC2_WSDL, REPO_ROOT } from '../support/repo.js';
import { startCluster, type Cluster } from '../support/services.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = join(REPO_ROOT, 'test', 'interop', 'zeep_lifecycle.py');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

type Line = Readonly<Record<string, unknown>>;

interface Run {
  readonly exitCode: number | null;
  readonly lines: readonly Line[];
  readonly stderr: string;
  readonly ms: number;
}

function runScript(args: readonly string[]): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      const lines = out
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l, i) => {
          try {
            return JSON.parse(l) as Line;
          } catch {
            return { step: 'unparsable', line: i, text: l };
          }
        });
      resolve({ exitCode: code, lines, stderr: err, ms: Date.now() - started });
    });
  });
}

function step(run: Run, name: string): Line {
  return (
    run.lines.find((l) => l['step'] === name) ??
    expect.fail(`no "${name}" line; output:\n${run.lines.map((l) => JSON.stringify(l)).join('\n')}`)
  );
}

function steps(run: Run, name: string): Line[] {
  return run.lines.filter((l) => l['step'] === name);
}

function expectCleanFault(line: Line, code: string): void {
  expect(line['faultcode']).to.equal(`soap:Client.${code}`);
  expect(line['code']).to.equal(code);
  expect(line['message']).to.equal(line['faultstring']);
  expect(line['requestId']).to.be.a('string').and.match(UUID);
  expect(line['faultstring'])
    .to.be.a('string')
    .and.not.match(/\n\s+at |\.(?:js|ts|py):\d+|node_modules|\/work\/|SQLITE|sqlite|stack/i);
}

/** Everything one complete life cycle must have shown the client. */
function expectLifecycle(run: Run, client: { wsdl: string; strict: boolean; address: string }): void {
  const failed = run.lines.find((l) => l['step'] === 'failed');
  expect(failed, `zeep_lifecycle.py failed: ${JSON.stringify(failed)}\n${run.stderr}`).to.equal(undefined);
  expect(run.exitCode, run.stderr).to.equal(0);
  expect(step(run, 'client')).to.deep.include(client);

  expect(step(run, 'zones')['zones']).to.deep.include({
    name: 'vbs-local-1a',
    state: 'available',
    region: 'vbs-local-1',
  });
  const created = step(run, 'create-volume');
  const vol = created['volumeId'];
  expect(vol)
    .to.be.a('string')
    .and.match(/^vol-[0-9a-f]{17}$/);
  expect(created).to.deep.include({ size: '1', zone: 'vbs-local-1a' });
  expect(created['snapshotId'] ?? '').to.equal('');
  expect(step(run, 'volume-available')['volumeId']).to.equal(vol);
  expect(step(run, 'describe-volume-by-id')).to.deep.include({
    volumeIds: [vol],
    size: '1',
    status: 'available',
    attachments: 0,
  });
  expect(step(run, 'describe-volume-by-filter')['volumeIds']).to.deep.equal([vol]);
  expect(step(run, 'describe-volume-by-filter-nomatch')['volumeIds']).to.deep.equal([]);
  expectCleanFault(step(run, 'attach-unknown-instance'), 'InvalidInstanceID.NotFound');
  expectCleanFault(step(run, 'detach-unattached'), 'IncorrectState');

  const snap = step(run, 'create-snapshot')['snapshotId'];
  expect(snap)
    .to.be.a('string')
    .and.match(/^snap-[0-9a-f]{17}$/);
  expect(step(run, 'create-snapshot')).to.deep.include({ volumeId: vol, volumeSize: '1', description: 'zeep interop' });
  expect(step(run, 'snapshot-completed')).to.deep.include({
    snapshotId: snap,
    status: 'completed',
    progress: '100%',
    volumeId: vol,
  });
  expect(step(run, 'describe-snapshot-by-filter')['snapshotIds']).to.deep.equal([snap]);

  const restored = step(run, 'create-volume-from-snapshot');
  const vol2 = restored['volumeId'];
  expect(vol2)
    .to.be.a('string')
    .and.match(/^vol-[0-9a-f]{17}$/)
    .and.not.equal(vol);
  expect(restored).to.deep.include({ size: '2', snapshotId: snap });
  expect(step(run, 'restored-volume-available')).to.deep.include({
    volumeId: vol2,
    size: '2',
    snapshotId: snap,
    status: 'available',
  });
  expect(step(run, 'describe-volume-by-snapshot-filter')['volumeIds']).to.deep.equal([vol2]);

  // The snapshot is deleted only after the volume made from it is available (line order).
  const order = run.lines.map((l) => l['step']);
  expect(order.indexOf('delete-snapshot')).to.be.above(order.indexOf('restored-volume-available'));
  expect(step(run, 'delete-snapshot')).to.deep.include({ snapshotId: snap, ret: true });
  expectCleanFault(step(run, 'snapshot-gone'), 'InvalidSnapshot.NotFound');

  expect(steps(run, 'delete-volume').map((l) => [l['volumeId'], l['ret']])).to.deep.equal([
    [vol2, true],
    [vol, true],
  ]);
  const gone = steps(run, 'volume-gone');
  expect(gone.map((l) => l['volumeId'])).to.deep.equal([vol, vol2]);
  for (const l of gone) expectCleanFault(l, 'InvalidVolume.NotFound');
  expect(step(run, 'volumes-listed-after-delete')['volumeIds']).to.not.include(vol).and.not.include(vol2);

  const unknown = step(run, 'unknown-volume-fault');
  expectCleanFault(unknown, 'InvalidVolume.NotFound');
  expect(unknown['faultstring']).to.equal("The volume 'vol-0123456789abcdef0' does not exist.");
  const done = step(run, 'done');
  expect(done['zeep']).to.be.a('string');
  // One signed request per call, and every answer verified against the frontend's certificate.
  expect(done['signed']).to.be.a('number').and.above(20);
  expect(done['verified']).to.equal(done['signed']);
}

describe('interop: Python zeep client', function () {
  this.timeout(40_000);
  let cluster: Cluster | undefined;
  let dir = '';
  let caFile = '';
  /** KEY CERT SERVER_CERT: alice's files as vbs-admin user add leaves them, and the frontend's certificate. */
  let signing: string[] = [];

  before(async function () {
    this.timeout(30_000);
    cluster = await startCluster();
    dir = mkdtempSync(join(tmpdir(), 'vbs-zeep-'));
    caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, cluster.caPem);
    const alice = join(cluster.home, 'users', 'alice');
    signing = [join(alice, 'alice.key'), join(alice, 'alice.pem'), join(cluster.home, 'certs', 'frontend.rsa.pem')];
  });

  after(async () => {
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const url = (): string => cluster?.frontendUrl ?? expect.fail('no cluster');

  it('built from the served WSDL, runs the whole life cycle', async () => {
    const run = await runScript([url(), caFile, ...signing]);
    expectLifecycle(run, { wsdl: 'served', strict: true, address: url() });
  });

  const ec2Url = (): string => cluster?.ec2Url ?? expect.fail('no cluster');

  it("built from Amazon's EC2 WSDL (zeep defaults: strict), pointed at the EC2 endpoint, runs the whole life cycle", async function () {
    const wsdl = requireExternalFile(this, EC2_WSDL);
    const run = await runScript([ec2Url(), caFile, ...signing, '--ec2-wsdl', wsdl]);
    expectLifecycle(run, { wsdl: 'ec2', strict: true, address: ec2Url() });
  });

  it('fails at the first answer when told to expect another signer than the frontend (control)', async () => {
    // The request is accepted (signed by alice); the answer is signed by the frontend, not by alice.
    const [key, cert] = signing;
    const run = await runScript([url(), caFile, key ?? '', cert ?? '', cert ?? '']);
    expect(run.exitCode).to.equal(1);
    expect(step(run, 'failed')).to.deep.include({
      at: 'zones',
      error: 'zeep.exceptions.SignatureVerificationFailed',
      signed: 1,
      verified: 0,
    });
  });
});
