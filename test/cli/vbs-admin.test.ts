/**
 * vbs-admin as an administrator runs it: the real binary in a child process on a temporary
 * VBS_HOME, checking the files it writes, what it prints, its exit status, and that a TrustStore
 * opened beforehand (a running service) sees its changes at once.
 */
import { expect } from 'chai';
import { execFile, execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';
import { keyMatchesCertificate } from '../../src/security/ca/certificate-authority.js';
import { TrustStore } from '../../src/security/truststore/trust-store.js';
import { REPO_ROOT } from '../support/repo.js';
import { tempDir } from '../security/truststore/helpers.js';

const ADMIN_BIN = join(REPO_ROOT, 'dist', 'src', 'cli', 'vbs-admin.js');

interface Run {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

interface ListedJson {
  userId: string;
  status: string;
  source: string;
  fingerprint: string;
}

function run(args: readonly string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [ADMIN_BIN, ...args], { env, timeout: 30_000 }, (error, stdout, stderr) => {
      const status = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ status, stdout, stderr });
    });
  });
}

function expectNoStack(r: Run): void {
  expect(r.stderr).not.to.match(/^\s+at /m);
  expect(r.stderr.trim().split('\n')).to.have.length.of.at.most(3);
}

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

/** node-forge types a subject's fields as any. */
function commonName(cert: forge.pki.Certificate | undefined): unknown {
  return (cert?.subject.getField('CN') as forge.pki.CertificateField | null | undefined)?.value;
}

function openP12(path: string, password: string): { key: forge.pki.PrivateKey; cert: forge.pki.Certificate } {
  const p12 = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(readFileSync(path).toString('binary')), password);
  const keyOid = forge.pki.oids['pkcs8ShroudedKeyBag'] ?? '';
  const certOid = forge.pki.oids['certBag'] ?? '';
  const keyBag = p12.getBags({ bagType: keyOid })[keyOid]?.[0];
  const certBag = p12.getBags({ bagType: certOid })[certOid]?.find((b) => commonName(b.cert) !== 'VBS local CA');
  if (!keyBag?.key || !certBag?.cert) throw new Error('p12 without key or certificate');
  return { key: keyBag.key, cert: certBag.cert };
}

describe('vbs-admin CLI', function () {
  this.timeout(60_000);
  let home: string;
  let work: string;
  let env: NodeJS.ProcessEnv;
  const admin = (...args: string[]): Promise<Run> => run(args, env);

  before(() => {
    home = tempDir('vbs-admin-home-');
    work = tempDir('vbs-admin-work-');
    env = { ...process.env, VBS_HOME: home };
    delete env['VBS_DEBUG'];
  });

  after(() => {
    rmSync(home, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  it('refuses user commands before the CA exists', async () => {
    const r = await admin('user', 'list');
    expect(r.status).to.equal(1);
    expect(r.stderr).to.match(/no VBS CA .*vbs-admin ca init/);
    expectNoStack(r);
  });

  it('ca init creates the CA once and prints its fingerprint', async () => {
    const first = await admin('ca', 'init');
    expect(first.status, first.stderr).to.equal(0);
    const fp = new X509Certificate(readFileSync(join(home, 'certs', 'ca.pem'))).fingerprint256;
    expect(first.stdout)
      .to.match(/Created the VBS CA/)
      .and.to.include(fp);
    expect(mode(join(home, 'certs', 'ca-key.pem'))).to.equal(0o600);
    expect(existsSync(join(home, 'trust.sqlite'))).to.equal(true);
    const again = await admin('ca', 'init');
    expect(again.status).to.equal(0);
    expect(again.stdout)
      .to.match(/already exists/)
      .and.to.include(fp);
  });

  it('user add writes the key (0600), the certificate and a PKCS#12 that opens', async () => {
    const r = await admin('user', 'add', 'alice');
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/EMPTY password/);
    const dir = join(home, 'users', 'alice');
    const [key, cert, p12] = ['alice.key', 'alice.pem', 'alice.p12'].map((f) => join(dir, f)) as [
      string,
      string,
      string,
    ];
    expect([mode(key), mode(cert), mode(p12)]).to.deep.equal([0o600, 0o644, 0o600]);
    const certPem = readFileSync(cert, 'utf8');
    expect(new X509Certificate(certPem).subject).to.equal('CN=alice');
    expect(keyMatchesCertificate(readFileSync(key, 'utf8'), certPem)).to.equal(true);
    const bundle = openP12(p12, '');
    expect(forge.pki.certificateToPem(bundle.cert).replace(/\r/g, '')).to.equal(certPem.replace(/\r/g, ''));
    expect(keyMatchesCertificate(forge.pki.privateKeyToPem(bundle.key), certPem)).to.equal(true);
    // openssl reads it too (the format any importer expects).
    execFileSync('openssl', ['pkcs12', '-in', p12, '-passin', 'pass:', '-noout']);

    const again = await admin('user', 'add', 'alice', '--out', join(work, 'alice2'));
    expect(again.status).to.equal(1);
    expect(again.stderr).to.match(/already has an active certificate/);
    expectNoStack(again);
  });

  it('user add honours --out and --p12-password', async () => {
    const out = join(work, 'bob');
    const r = await admin('user', 'add', 'bob', '--out', out, '--p12-password', 's3cret', '--json');
    expect(r.status, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout)).to.include({ userId: 'bob', p12Password: 'set', status: 'active' });
    expect(commonName(openP12(join(out, 'bob.p12'), 's3cret').cert)).to.equal('bob');
    expect(() => openP12(join(out, 'bob.p12'), 'wrong')).to.throw();
  });

  it('user enroll signs an openssl CSR; the key stays with the user', async () => {
    const keyPath = join(work, 'carol.key');
    const csrPath = join(work, 'carol.csr');
    execFileSync(
      'openssl',
      ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', csrPath, '-subj', '/CN=carol'],
      { stdio: 'ignore' },
    );
    const out = join(work, 'carol.pem');
    const r = await admin('user', 'enroll', '--csr', csrPath, '--out', out);
    expect(r.status, r.stderr).to.equal(0);
    const certPem = readFileSync(out, 'utf8');
    expect(new X509Certificate(certPem).subject).to.equal('CN=carol');
    expect(keyMatchesCertificate(readFileSync(keyPath, 'utf8'), certPem)).to.equal(true);
    expect(
      new X509Certificate(certPem).checkIssued(new X509Certificate(readFileSync(join(home, 'certs', 'ca.pem')))),
    ).to.equal(true);

    // Without --out, the certificate goes to stdout.
    const erinCsr = join(work, 'erin.csr');
    execFileSync(
      'openssl',
      [
        'req',
        '-new',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        join(work, 'erin.key'),
        '-out',
        erinCsr,
        '-subj',
        '/CN=erin',
      ],
      { stdio: 'ignore' },
    );
    const toStdout = await admin('user', 'enroll', '--csr', erinCsr);
    expect(toStdout.status, toStdout.stderr).to.equal(0);
    expect(new X509Certificate(toStdout.stdout).subject).to.equal('CN=erin');
    expect(toStdout.stderr).to.match(/Enrolled erin/);
  });

  it("user trust adds a self-signed certificate, but not over an enrolled user's name", async () => {
    const certPath = join(work, 'dave.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        join(work, 'dave.key'),
        '-out',
        certPath,
        '-subj',
        '/CN=dave',
        '-days',
        '30',
      ],
      { stdio: 'ignore' },
    );
    const r = await admin('user', 'trust', '--cert', certPath);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/Trusted the certificate of dave \(added by hand, self-signed\)/);

    const fakePath = join(work, 'fake-alice.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        join(work, 'fake.key'),
        '-out',
        fakePath,
        '-subj',
        '/CN=alice',
        '-days',
        '30',
      ],
      { stdio: 'ignore' },
    );
    const refused = await admin('user', 'trust', '--cert', fakePath);
    expect(refused.status).to.equal(1);
    expect(refused.stderr).to.match(/user "alice" already has an active certificate with another key/);
    expectNoStack(refused);
  });

  it('user list prints a table and JSON', async () => {
    const table = await admin('user', 'list');
    expect(table.status, table.stderr).to.equal(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).to.match(/^USER\s+STATUS\s+SOURCE\s+NOT AFTER\s+ADDED\s+FINGERPRINT/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 3).join(' '))).to.deep.equal([
      'alice active ca',
      'bob active ca',
      'carol active ca',
      'dave active manual',
      'erin active ca',
    ]);
    const json = await admin('user', 'list', '--json');
    const rows = JSON.parse(json.stdout) as ListedJson[];
    expect(rows.map((x) => x.userId)).to.deep.equal(['alice', 'bob', 'carol', 'dave', 'erin']);
    expect(rows.every((x) => /^[0-9a-f]{64}$/.test(x.fingerprint))).to.equal(true);
  });

  it('user revoke takes effect at once in a store that is already open (a running service)', async () => {
    const service = new TrustStore(join(home, 'trust.sqlite'), readFileSync(join(home, 'certs', 'ca.pem'), 'utf8'));
    try {
      const der = new X509Certificate(readFileSync(join(home, 'users', 'alice', 'alice.pem'))).raw;
      expect(service.resolveUser(der)?.userId).to.equal('alice');
      const r = await admin('user', 'revoke', 'alice');
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/Revoked 1 certificate of alice/);
      expect(service.resolveUser(der)).to.equal(undefined);
    } finally {
      service.close();
    }
    const again = await admin('user', 'revoke', 'alice');
    expect(again.status).to.equal(1);
    const rows = JSON.parse((await admin('user', 'list', '--json')).stdout) as ListedJson[];
    expect(rows.find((x) => x.userId === 'alice')?.status).to.equal('revoked');
  });

  it('exits 2 on usage errors, with the usage and no stack trace', async () => {
    const cases: string[][] = [
      [],
      ['user'],
      ['frob'],
      ['user', 'frob'],
      ['user', 'add'],
      ['user', 'add', 'bad name'],
      ['user', 'add', 'frontend'],
      ['user', 'add', 'x', 'y'],
      ['user', 'add', 'x', '--bogus'],
      ['user', 'add', 'x', '--days', 'ten'],
      ['user', 'enroll'],
      ['user', 'trust'],
      ['user', 'revoke', 'bob', '--fingerprint', 'xyz'],
      ['ca', 'init', 'extra'],
    ];
    for (const args of cases) {
      const r = await admin(...args);
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).to.equal(2);
      expect(r.stderr, args.join(' ')).to.match(/^vbs-admin: .*\nUsage: vbs-admin/);
      expectNoStack(r);
    }
    const help = await admin('user', 'add', '--help');
    expect(help.status).to.equal(0);
    expect(help.stdout).to.match(/^Usage: vbs-admin user add NAME/);
  });

  it('exits 1 on failures, with one line and no stack trace', async () => {
    for (const args of [
      ['user', 'revoke', 'nobody'],
      ['user', 'trust', '--cert', join(work, 'missing.pem')],
      ['user', 'enroll', '--csr', join(work, 'dave.pem')],
    ]) {
      const r = await admin(...args);
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).to.equal(1);
      expect(r.stderr.trim().split('\n'), args.join(' ')).to.have.length(1);
      expectNoStack(r);
    }
  });
});
