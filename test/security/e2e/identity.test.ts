/**
 * Identity and ownership end to end, through the REAL running services (startCluster, two Volume
 * Delegates): the user ID is the signing certificate's CN and is what the frontend records as owner;
 * users see only their own volumes and snapshots, the configured admin sees and acts on all; a
 * certificate trusted by hand (vbs-admin user trust, self-signed) works at once for its CN; SHA-1
 * signatures are refused by default; and the service endpoints accept only the services they should:
 * a Volume Delegate only the frontend, the frontend's callback only a delegate reporting as itself.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { schema as delegateSchema } from '../../../src/generated/volume-delegate.js';
import { schema as frontendSchema, type AmazonEC2PortTypeOperations } from '../../../src/generated/frontend.js';
import { SoapClient } from '../../../src/soap/client.js';
import { encodeElement } from '../../../src/soap/encode.js';
import { signedAs, type Signer } from '../../../src/security/wssec/sign.js';
import { ec2Client, faultOf, waitForSnapshot, waitForVolume, type Ec2Client } from '../../support/ec2-client.js';
import { REPO_ROOT } from '../../support/repo.js';
import { envelope } from '../../support/raw-soap.js';
import { startCluster, type Cluster } from '../../support/services.js';
import { waitFor } from '../../support/wait.js';
import { craft, RSA_SHA1, SHA1 } from '../wssec/craft.js';
import { zeepRequest } from '../wssec/interop-tools.js';
import { answerOf, ec2Body, expectSignedFault, post, signedPost, ZONE } from './e2e-helpers.js';
import { signedBy } from './signed-answer.js';

const run = promisify(execFile);
const ADMIN_BIN = join(REPO_ROOT, 'dist', 'src', 'cli', 'vbs-admin.js');

function commonName(certPem: string): string | undefined {
  return /(?:^|\n)CN=([^\n]*)/.exec(new X509Certificate(certPem).subject)?.[1];
}

function delegateBody(element: string, value: object): string {
  return encodeElement(delegateSchema, element, value);
}

/** The cp the services would run without the fake below: the first on PATH. */
function realCp(): string {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    try {
      accessSync(join(dir, 'cp'), constants.X_OK);
      return join(dir, 'cp');
    } catch {
      // not in this directory
    }
  }
  throw new Error('no cp on PATH');
}

/**
 * Writes, in `dir`, a `cp` for the services' PATH that runs the real one, except for a copy from a
 * volume file for which `dir` holds "hold-<volume ID>": that one first writes "held-<volume ID>"
 * (its PID and its parent's, the delegate's) and waits for "release-<volume ID>". A snapshot copy
 * starts with `cp --reflink=always` (src/delegates/volume/copy.ts), so a held volume's snapshot is
 * still copying, whatever the disk's speed, until the test releases it. The 60 s bound only keeps
 * a fake from outliving a test that failed before releasing it; the delegate also kills it on stop.
 */
function writeHoldingCp(dir: string): void {
  const script = [
    '#!/bin/sh',
    `ctl='${dir}'`,
    "held=''",
    'for a in "$@"; do',
    '  case "$a" in',
    '    *.img) name=${a##*/}; name=${name%.img}; if [ -e "$ctl/hold-$name" ]; then held=$name; fi ;;',
    '  esac',
    'done',
    'if [ -n "$held" ]; then',
    '  echo "$$ $PPID" > "$ctl/held-$held.part" && mv "$ctl/held-$held.part" "$ctl/held-$held"',
    '  i=0',
    '  while [ ! -e "$ctl/release-$held" ]; do',
    '    i=$((i + 1)); [ $i -gt 1200 ] && { echo "cp: never released ($held)" >&2; exit 1; }',
    '    sleep 0.05',
    '  done',
    'fi',
    `exec '${realCp()}' "$@"`,
    '',
  ].join('\n');
  writeFileSync(join(dir, 'cp'), script, { mode: 0o755 });
}

/** What the fake cp wrote when it began holding the copy from `volumeId`. */
function heldCopy(dir: string, volumeId: string): { pid: number; parentPid: number } | undefined {
  const file = join(dir, `held-${volumeId}`);
  if (!existsSync(file)) return undefined;
  const [pid, parentPid] = readFileSync(file, 'utf8').trim().split(' ').map(Number);
  return pid !== undefined && parentPid !== undefined ? { pid, parentPid } : undefined;
}

describe('security e2e: identity and ownership', function () {
  this.timeout(60_000);
  // Undefined when before() failed: the tests then say so, and after() stops only what started.
  let cluster: Cluster | undefined;
  const live = (): Cluster => cluster ?? expect.fail('no cluster');
  /** Where the holding cp (writeHoldingCp) is, and its hold-, held- and release- files. */
  let fakeCpDir: string | undefined;
  const clients: Ec2Client[] = [];
  let alice: Ec2Client;
  let bob: Ec2Client;
  let admin: Ec2Client;
  const made = { aliceVolume: '', aliceSnapshot: '', bobVolume: '', bobSnapshot: '' };

  const serviceSigner = (name: string): Signer => ({
    certPem: readFileSync(join(live().home, 'certs', `${name}.pem`), 'utf8'),
    keyPem: readFileSync(join(live().home, 'certs', `${name}-key.pem`), 'utf8'),
  });
  const volumeIds = async (c: Ec2Client): Promise<string[]> =>
    ((await c.call('DescribeVolumes', { volumeSet: {} })).volumeSet.item ?? []).map((v) => v.volumeId).sort();
  const snapshotIds = async (c: Ec2Client): Promise<string[]> =>
    ((await c.call('DescribeSnapshots', { snapshotSet: {} })).snapshotSet.item ?? []).map((s) => s.snapshotId).sort();
  const newVolume = async (c: Ec2Client): Promise<string> => {
    const id = (await c.call('CreateVolume', { size: '1', availabilityZone: ZONE })).volumeId;
    await waitForVolume(c, id, ['available']);
    return id;
  };
  const newSnapshot = async (c: Ec2Client, volumeId: string): Promise<string> => {
    const id = (await c.call('CreateSnapshot', { volumeId })).snapshotId;
    await waitForSnapshot(c, id, ['completed']);
    return id;
  };

  before(async function () {
    this.timeout(60_000);
    fakeCpDir = mkdtempSync(join(tmpdir(), 'vbs-holding-cp-'));
    writeHoldingCp(fakeCpDir);
    // First on every service's PATH; it only passes through to the real cp until a test holds a copy.
    const c = await startCluster({
      delegates: 2,
      env: { PATH: `${fakeCpDir}${delimiter}${process.env['PATH'] ?? ''}` },
    });
    cluster = c;
    alice = ec2Client(c, 'alice');
    bob = ec2Client(c, 'bob');
    admin = ec2Client(c, 'admin');
    clients.push(alice, bob, admin);
    [made.aliceVolume, made.bobVolume] = await Promise.all([newVolume(alice), newVolume(bob)]);
    [made.aliceSnapshot, made.bobSnapshot] = await Promise.all([
      newSnapshot(alice, made.aliceVolume),
      newSnapshot(bob, made.bobVolume),
    ]);
  });

  after(async () => {
    for (const c of clients) c.close();
    await cluster?.stop();
    if (fakeCpDir !== undefined) rmSync(fakeCpDir, { recursive: true, force: true });
  });

  it('alice and bob each see only their own volumes and snapshots', async () => {
    expect(await volumeIds(alice)).to.deep.equal([made.aliceVolume]);
    expect(await snapshotIds(alice)).to.deep.equal([made.aliceSnapshot]);
    expect(await volumeIds(bob)).to.deep.equal([made.bobVolume]);
    expect(await snapshotIds(bob)).to.deep.equal([made.bobSnapshot]);
    expect(
      (await faultOf(alice.call('DescribeVolumes', { volumeSet: { item: [{ volumeId: made.bobVolume }] } }))).code,
    ).to.equal('InvalidVolume.NotFound');
    expect(
      (await faultOf(bob.call('DescribeSnapshots', { snapshotSet: { item: [{ snapshotId: made.aliceSnapshot }] } })))
        .code,
    ).to.equal('InvalidSnapshot.NotFound');
  });

  it("records as a snapshot's ownerId the CN of the certificate that signed the request", async () => {
    const owner = async (c: Ec2Client, id: string): Promise<string | undefined> =>
      (await c.call('DescribeSnapshots', { snapshotSet: { item: [{ snapshotId: id }] } })).snapshotSet.item?.[0]
        ?.ownerId;
    expect(commonName(live().users.alice.certPem)).to.equal('alice');
    expect(await owner(alice, made.aliceSnapshot)).to.equal(commonName(live().users.alice.certPem));
    expect(await owner(bob, made.bobSnapshot)).to.equal(commonName(live().users.bob.certPem));
    // The admin sees the owners as recorded, and can filter on them.
    expect(await owner(admin, made.aliceSnapshot)).to.equal('alice');
    const byOwner = await admin.call('DescribeSnapshots', {
      snapshotSet: {},
      filterSet: { item: [{ name: 'owner-id', valueSet: { item: [{ value: 'bob' }] } }] },
    });
    expect((byOwner.snapshotSet.item ?? []).map((s) => s.snapshotId)).to.deep.equal([made.bobSnapshot]);
  });

  it("lets the configured admin see both users' resources and act on them", async () => {
    expect(await volumeIds(admin)).to.include.members([made.aliceVolume, made.bobVolume]);
    expect(await snapshotIds(admin)).to.include.members([made.aliceSnapshot, made.bobSnapshot]);
    // A snapshot of alice's volume, taken by the admin, is alice's (she sees it).
    const taken = (await admin.call('CreateSnapshot', { volumeId: made.aliceVolume, description: 'by admin' }))
      .snapshotId;
    await waitForSnapshot(admin, taken, ['completed']);
    expect(await snapshotIds(alice)).to.include(taken);
    expect(await snapshotIds(bob)).to.not.include(taken);
    // The admin deletes bob's snapshot and volume; bob sees them gone.
    expect((await admin.call('DeleteSnapshot', { snapshotId: made.bobSnapshot })).return).to.equal(true);
    expect((await admin.call('DeleteVolume', { volumeId: made.bobVolume })).return).to.equal(true);
    expect(
      (await faultOf(bob.call('DescribeSnapshots', { snapshotSet: { item: [{ snapshotId: made.bobSnapshot }] } })))
        .code,
    ).to.equal('InvalidSnapshot.NotFound');
    expect(
      (await faultOf(bob.call('DescribeVolumes', { volumeSet: { item: [{ volumeId: made.bobVolume }] } }))).code,
    ).to.equal('InvalidVolume.NotFound');
    expect(await volumeIds(alice)).to.deep.equal([made.aliceVolume]);
  });

  it('accepts a self-signed certificate trusted by hand (vbs-admin user trust) for its CN, carol, at once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vbs-carol-'));
    let carol: SoapClient<AmazonEC2PortTypeOperations> | undefined;
    try {
      const certFile = join(dir, 'carol.pem');
      const keyFile = join(dir, 'carol.key');
      await run('openssl', [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-subj',
        '/CN=carol',
        '-days',
        '2',
        '-keyout',
        keyFile,
        '-out',
        certFile,
      ]);
      const creds = { certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8') };
      carol = new SoapClient<AmazonEC2PortTypeOperations>(frontendSchema, 'AmazonEC2PortType', {
        url: live().frontendUrl,
        caPem: live().caPem,
        envelope: signedAs(creds),
      });
      // Not yet trusted: refused.
      expect((await faultOf(carol.call('DescribeVolumes', { volumeSet: {} }))).code).to.equal('AuthFailure');
      const trusted = await run(process.execPath, [ADMIN_BIN, 'user', 'trust', '--cert', certFile], {
        env: { ...process.env, VBS_HOME: live().home },
      });
      expect(trusted.stdout).to.match(/Trusted the certificate of carol \(added by hand, self-signed\)/);
      // The running frontend accepts carol at once; what she makes is hers.
      expect(await volumeIds(carol)).to.deep.equal([]);
      const c = carol;
      const volume = (await c.call('CreateVolume', { size: '1', availabilityZone: ZONE })).volumeId;
      await waitForVolume(c, volume, ['available']);
      const snapshot = (await c.call('CreateSnapshot', { volumeId: volume })).snapshotId;
      const described = (await c.call('DescribeSnapshots', { snapshotSet: { item: [{ snapshotId: snapshot }] } }))
        .snapshotSet.item?.[0];
      expect(described?.ownerId).to.equal('carol');
      expect(await volumeIds(carol)).to.deep.equal([volume]);
      expect(await volumeIds(alice)).to.not.include(volume);
      expect(await volumeIds(admin)).to.include(volume);
    } finally {
      carol?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses rsa-sha1 signatures (zeep's default; and crafted) with AuthFailure by default", async () => {
    const before = await volumeIds(admin);
    const zeepSha1 = await zeepRequest(live().users.alice, true);
    expect(zeepSha1).to.include('xmldsig#rsa-sha1');
    expect(await expectSignedFault(live(), await post(live(), zeepSha1, 'CreateVolume'), 'AuthFailure')).to.equal(
      'The signature method uses SHA-1, which this service does not accept; use SHA-256.',
    );
    const crafted = craft({
      signer: live().users.alice,
      body: ec2Body('CreateVolume', { size: '1', availabilityZone: ZONE }),
      signatureMethod: RSA_SHA1,
      digestMethod: SHA1,
    });
    expect(await expectSignedFault(live(), await post(live(), crafted, 'CreateVolume'), 'AuthFailure')).to.match(
      /SHA-1/,
    );
    // Control: zeep with rsa-sha256 gets past authentication (its zone "zone-a" is then unknown).
    const zeepSha256 = answerOf(await post(live(), await zeepRequest(live().users.alice), 'CreateVolume'));
    expect(zeepSha256.code).to.equal('InvalidZone.NotFound');
    expect(await volumeIds(admin)).to.deep.equal(before);
  });

  it('a Volume Delegate refuses a request signed by a user, or by another service, and accepts the frontend', async () => {
    const config = JSON.parse(readFileSync(join(live().home, 'vd-1.json'), 'utf8')) as { port: number };
    const url = `https://127.0.0.1:${config.port}/volume-delegate`;
    const body = delegateBody('DescribeCapacity', {});
    const delegateCert = serviceSigner('volume-delegate-vd-1').certPem;
    for (const [who, signer] of [
      ['alice', live().users.alice],
      ['admin', live().users.admin],
      ['vd-2', serviceSigner('volume-delegate-vd-2')],
    ] as const) {
      const raw = await signedPost(live(), signer, body, 'DescribeCapacity', url);
      expect(answerOf(raw), `${who}: ${raw.body}`).to.deep.include({
        element: 'Fault',
        code: 'AuthFailure',
        message: 'The signing certificate is not enrolled with this service.',
      });
      expect(signedBy(raw.body, delegateCert), 'the delegate signs its faults').to.equal('signed:signer');
    }
    expect(answerOf(await post(live(), envelope(body), 'DescribeCapacity', url))).to.deep.include({
      element: 'Fault',
      code: 'AuthFailure',
    });
    const frontend = await signedPost(live(), serviceSigner('frontend'), body, 'DescribeCapacity', url);
    expect(answerOf(frontend)).to.deep.include({ status: 200, element: 'DescribeCapacityResponse' });
  });

  it("the frontend's callback refuses a ReportJob signed by a user, or by vd-1 claiming to be vd-2; the VMM registry refuses both", async () => {
    const callbackUrl = `${live().frontendUrl}/callback`;
    const report = (delegateId: string, resourceId: string): string =>
      delegateBody('ReportJob', {
        delegateId,
        jobId: 'job-0123456789abcdef0',
        resourceId,
        outcome: 'failed',
        progress: 0,
        message: 'forged',
      });
    expect(
      await expectSignedFault(
        live(),
        await signedPost(live(), live().users.alice, report('vd-1', made.aliceVolume), 'ReportJob', callbackUrl),
        'AuthFailure',
      ),
    ).to.equal('The signing certificate is not enrolled with this service.');
    const vd1 = serviceSigner('volume-delegate-vd-1');
    expect(
      await expectSignedFault(
        live(),
        await signedPost(live(), vd1, report('vd-2', made.aliceVolume), 'ReportJob', callbackUrl),
        'AuthFailure',
      ),
    ).to.equal('A Volume Delegate may report only its own jobs.');
    // Control: vd-1 reporting as itself is heard (a report on a volume that does not exist changes nothing).
    const own = answerOf(
      await signedPost(live(), vd1, report('vd-1', 'vol-0123456789abcdef0'), 'ReportJob', callbackUrl),
    );
    expect(own).to.deep.include({ status: 200, element: 'ReportJobResponse' });
    expect(
      (await alice.call('DescribeVolumes', { volumeSet: { item: [{ volumeId: made.aliceVolume }] } })).volumeSet
        .item?.[0]?.status,
    ).to.equal('available');
    // The VMM registry, beside it, takes neither a user nor a Volume Delegate (authentication comes before the body is read).
    const register = '<t:RegisterVmm xmlns:t="urn:vbs:vmm-delegate:2026-11"/>';
    for (const signer of [live().users.alice, vd1]) {
      expect(
        await expectSignedFault(
          live(),
          await signedPost(live(), signer, register, 'RegisterVmm', `${live().frontendUrl}/vmm-registry`),
          'AuthFailure',
        ),
      ).to.equal('The signing certificate is not enrolled with this service.');
    }
  });

  it("a service certificate is not a user: the frontend's and a delegate's are refused on /vbs and /ec2", async () => {
    const body = ec2Body('DescribeVolumes', { volumeSet: {} });
    for (const service of ['frontend', 'volume-delegate-vd-1']) {
      for (const url of [live().frontendUrl, live().ec2Url]) {
        expect(
          await expectSignedFault(
            live(),
            await signedPost(live(), serviceSigner(service), body, 'DescribeVolumes', url),
            'AuthFailure',
          ),
        ).to.equal('The signing certificate is not enrolled with this service.');
      }
    }
  });

  // Found failing: the callback checks only that the signer is the delegate it claims to be, not that
  // the job it reports on is one that delegate runs (the frontend records each job's delegate).
  it("the frontend's callback does not let a Volume Delegate, reporting as itself, finish another delegate's job", async () => {
    const c = live();
    const control = fakeCpDir ?? expect.fail('no fake cp');
    const callbackUrl = `${c.frontendUrl}/callback`;
    const volume = await newVolume(alice);
    // The snapshot's copy waits in the fake cp until released below: the forged report provably
    // comes while the owner is still copying.
    writeFileSync(join(control, `hold-${volume}`), '');
    let snapshot = '';
    try {
      snapshot = (await alice.call('CreateSnapshot', { volumeId: volume })).snapshotId;
      const held = await waitFor(
        `the copy of ${volume} held by the fake cp`,
        () => heldCopy(control, volume),
        (h) => h !== undefined,
        20_000,
      );
      // The owner is the fake cp's parent; the frontend must have recorded that same delegate.
      const ownerProcess =
        c.delegates.find((d) => d.child.pid === held?.parentPid) ??
        expect.fail(`the held cp's parent (PID ${String(held?.parentPid)}) is not a Volume Delegate`);
      const owner = ownerProcess.name;
      // The log line may reach the file a moment after the answer (the logger writes behind).
      const started = await waitFor(
        `the frontend's "snapshot started" line for ${snapshot}`,
        () => c.logLines(c.frontend).find((l) => l['message'] === 'snapshot started' && l['snapshotId'] === snapshot),
        (l) => l !== undefined,
        10_000,
      );
      expect(started?.['delegateId'], JSON.stringify(started)).to.equal(owner);
      const other = owner === 'vd-1' ? 'vd-2' : 'vd-1';
      // Even with the job's own ID: the job was offered to the owner, not to the other delegate.
      const jobId = started?.['jobId'];
      expect(jobId, JSON.stringify(started)).to.be.a('string');
      const forged = delegateBody('ReportJob', {
        delegateId: other,
        jobId,
        resourceId: snapshot,
        outcome: 'succeeded',
        progress: 100,
      });
      await signedPost(c, serviceSigner(`volume-delegate-${other}`), forged, 'ReportJob', callbackUrl);
      const status = (await alice.call('DescribeSnapshots', { snapshotSet: { item: [{ snapshotId: snapshot }] } }))
        .snapshotSet.item?.[0]?.status;
      expect(status, `${other} completed ${owner}'s snapshot ${snapshot} while ${owner} was still copying`).to.equal(
        'pending',
      );
      // And the owner was: its copy is still held, not ended by anything the forged report set off.
      expect(existsSync(`/proc/${String(held?.pid)}`), 'the held cp still runs').to.equal(true);
    } finally {
      writeFileSync(join(control, `release-${volume}`), '');
    }
    // Released, the owner's own copy finishes the snapshot.
    await waitForSnapshot(alice, snapshot, ['completed']);
  });
});
