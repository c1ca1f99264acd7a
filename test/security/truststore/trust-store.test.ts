/**
 * The SQLite trust store as the request path and vbs-admin use it: CA-issued and hand-added
 * certificates, names and their owners, dates, and revocation made by another connection (as
 * vbs-admin in another process would) seen on the very next resolveUser.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import forge from 'node-forge';
import {
  createCa,
  generateKeyPair,
  issueCertificate,
  type CaMaterial,
} from '../../../src/security/ca/certificate-authority.js';
import { fingerprintOf } from '../../../src/security/truststore/certificate-facts.js';
import { TrustStore } from '../../../src/security/truststore/trust-store.js';
import { DAY_MS, makeCertificate, tempDir } from './helpers.js';

function derOf(pem: string): Buffer {
  return new X509Certificate(pem).raw;
}

function csrFor(cn: string): string {
  const pair = generateKeyPair();
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(pair.publicKeyPem);
  csr.setSubject([{ shortName: 'CN', value: cn }]);
  csr.sign(forge.pki.privateKeyFromPem(pair.privateKeyPem), forge.md.sha256.create());
  return forge.pki.certificationRequestToPem(csr);
}

describe('TrustStore', function () {
  this.timeout(60_000);
  let dir: string;
  let file: string;
  let ca: CaMaterial;
  let otherCa: CaMaterial;
  let store: TrustStore;
  const opened: TrustStore[] = [];
  const open = (options = {}): TrustStore => {
    const s = new TrustStore(file, ca.certPem, options);
    opened.push(s);
    return s;
  };

  before(() => {
    ca = createCa('VBS local CA');
    otherCa = createCa('VBS local CA'); // same name, other key: only the signature tells them apart
  });

  beforeEach(() => {
    dir = tempDir('vbs-trust-');
    file = join(dir, 'trust.sqlite');
    store = open();
  });

  afterEach(() => {
    for (const s of opened.splice(0)) s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates a versioned schema', () => {
    const db = new Database(file, { readonly: true });
    try {
      expect(db.pragma('user_version', { simple: true })).to.equal(1);
      const columns = (db.prepare('PRAGMA table_info(certificates)').all() as { name: string }[]).map((c) => c.name);
      expect(columns).to.include.members([
        'fingerprint',
        'user_id',
        'pem',
        'source',
        'serial',
        'not_before',
        'not_after',
        'added_at',
        'revoked_at',
      ]);
    } finally {
      db.close();
    }
  });

  it('resolves a CA-issued certificate with the user ID = its CN', () => {
    const issued = store.issueUser('alice', ca);
    expect(issued.record).to.include({ userId: 'alice', source: 'ca', status: 'active', revokedAt: null });
    expect(issued.record.fingerprint).to.equal(fingerprintOf(derOf(issued.certPem)));
    const trusted = store.resolveUser(derOf(issued.certPem));
    expect(trusted?.userId).to.equal('alice');
    expect(trusted?.x509.raw.equals(derOf(issued.certPem))).to.equal(true);
    expect(new X509Certificate(issued.certPem).keyUsage).to.deep.equal(['1.3.6.1.5.5.7.3.2']);
    expect(store.resolveUser(makeCertificate({ cn: 'stranger' }).der)).to.equal(undefined);
  });

  it('enrolls a CSR: the CSR CN becomes the user ID', () => {
    const enrolled = store.enrollCsr(csrFor('carol@example.org'), ca);
    expect(store.resolveUser(derOf(enrolled.certPem))?.userId).to.equal('carol@example.org');
    expect(() => store.enrollCsr(csrFor('bad name'), ca)).to.throw(/invalid user name/);
    expect(() => store.enrollCsr('not a csr', ca)).to.throw(/CSR refused/);
  });

  it('sees a revocation made through another TrustStore on the same file at once', () => {
    const alice = derOf(store.issueUser('alice', ca).certPem);
    expect(store.resolveUser(alice)?.userId).to.equal('alice');
    const admin = open(); // as vbs-admin, in another process, would
    expect(admin.revokeUser('alice')).to.equal(1);
    expect(store.resolveUser(alice)).to.equal(undefined);
    expect(admin.revokeUser('alice')).to.equal(0);
    // Additions too: a user enrolled by the admin is accepted by the running service at once.
    const bob = derOf(admin.issueUser('bob', ca).certPem);
    expect(store.resolveUser(bob)?.userId).to.equal('bob');
    // And a revoked certificate can never be trusted again.
    expect(() => admin.trustManual(new X509Certificate(alice).toString())).to.throw(
      /revoked .* cannot be trusted again/,
    );
  });

  it("revokes all of a user's certificates, or one by fingerprint", () => {
    const one = store.issueUser('erin', ca);
    const two = store.issueUser('erin', ca, { sameUser: true });
    expect(store.revokeCertificate(one.record.fingerprint)).to.equal(true);
    expect(store.resolveUser(derOf(one.certPem))).to.equal(undefined);
    expect(store.resolveUser(derOf(two.certPem))?.userId).to.equal('erin');
    expect(store.revokeUser('erin')).to.equal(1);
    expect(store.list().map((r) => r.status)).to.deep.equal(['revoked', 'revoked']);
  });

  it("refuses a self-signed certificate reusing an enrolled user's CN unless sameUser is given", () => {
    store.issueUser('alice', ca);
    const impostor = makeCertificate({ cn: 'alice' });
    expect(store.resolveUser(impostor.der)).to.equal(undefined);
    expect(() => store.trustManual(impostor.certPem)).to.throw(
      /user "alice" already has an active certificate with another key/,
    );
    expect(store.resolveUser(impostor.der)).to.equal(undefined);
    expect(() => store.trustManual(makeCertificate({ cn: 'Alice' }).certPem, { sameUser: true })).to.throw(
      /differs only in case/,
    );
    expect(() => store.issueUser('alice', ca)).to.throw(/already has an active certificate/);
    // On purpose, it is allowed: the admin says this key belongs to the same user.
    store.trustManual(impostor.certPem, { sameUser: true });
    expect(store.resolveUser(impostor.der)?.userId).to.equal('alice');
  });

  it('accepts a renewal with the same key without sameUser', () => {
    const pair = generateKeyPair();
    const first = issueCertificate(ca, { commonName: 'frank', publicKeyPem: pair.publicKeyPem, usage: 'client' });
    const second = issueCertificate(ca, {
      commonName: 'frank',
      publicKeyPem: pair.publicKeyPem,
      usage: 'client',
      validDays: 30,
    });
    store.trustManual(first.certPem);
    expect(store.trustManual(second.certPem).userId).to.equal('frank');
    expect(() => store.trustManual(second.certPem)).to.throw(/already trusted/);
  });

  it('refuses a certificate of another CA presented as CA-issued', () => {
    expect(() => store.issueUser('mallory', otherCa)).to.throw(/not the CA this trust store trusts/);
    const foreign = makeCertificate({ cn: 'mallory', issuer: otherCa });
    // A row that claims source 'ca' (written behind the store's back) is still checked against the CA.
    const db = new Database(file);
    try {
      db.prepare(
        `INSERT INTO certificates (fingerprint, user_id, pem, source, serial, key_fingerprint, not_before, not_after, added_at)
                  VALUES (?, 'mallory', ?, 'ca', '01', 'x', '2000-01-01T00:00:00.000Z', '2100-01-01T00:00:00.000Z', '2000-01-01T00:00:00.000Z')`,
      ).run(fingerprintOf(foreign.der), foreign.certPem);
      const bogus = makeCertificate({ cn: 'trudy' });
      // A row whose PEM is not the certificate its fingerprint names resolves to nothing either.
      db.prepare(
        `INSERT INTO certificates (fingerprint, user_id, pem, source, serial, key_fingerprint, not_before, not_after, added_at)
                  VALUES (?, 'trudy', ?, 'manual', '01', 'x', '2000-01-01T00:00:00.000Z', '2100-01-01T00:00:00.000Z', '2000-01-01T00:00:00.000Z')`,
      ).run(
        fingerprintOf(foreign.der).replace(/^./, (c) => (c === '0' ? '1' : '0')),
        bogus.certPem,
      );
    } finally {
      db.close();
    }
    expect(store.resolveUser(foreign.der)).to.equal(undefined);
    expect(store.list().map((r) => [r.userId, r.status])).to.deep.equal([
      ['mallory', 'untrusted'],
      ['trudy', 'untrusted'],
    ]);
  });

  it('refuses expired and not-yet-valid certificates', () => {
    const issued = store.issueUser('gina', ca, { validDays: 1 });
    const der = derOf(issued.certPem);
    expect(open({ now: () => Date.now() + 2 * DAY_MS }).resolveUser(der)).to.equal(undefined);
    expect(open({ now: () => Date.now() - DAY_MS }).resolveUser(der)).to.equal(undefined);
    expect(store.resolveUser(der)?.userId).to.equal('gina');

    const future = makeCertificate({
      cn: 'hank',
      notBefore: new Date(Date.now() + DAY_MS),
      notAfter: new Date(Date.now() + 9 * DAY_MS),
    });
    expect(store.trustManual(future.certPem).status).to.equal('not-yet-valid');
    expect(store.resolveUser(future.der)).to.equal(undefined);

    const expired = makeCertificate({
      cn: 'ivy',
      notBefore: new Date(Date.now() - 9 * DAY_MS),
      notAfter: new Date(Date.now() - DAY_MS),
    });
    expect(() => store.trustManual(expired.certPem)).to.throw(/expired on/);
  });

  it('refuses reserved and malformed user names, and certificates without a CN', () => {
    for (const name of ['frontend', 'Frontend', 'volume-delegate-vd-1', 'vmm-delegate-node1']) {
      expect(() => store.issueUser(name, ca), name).to.throw(/reserved for a VBS service identity/);
      expect(() => store.trustManual(makeCertificate({ cn: name }).certPem), name).to.throw(/reserved/);
    }
    for (const name of ['', 'a b', '-x', '.x', 'x/y', 'a'.repeat(65), 'é']) {
      expect(() => store.issueUser(name, ca), name).to.throw(/invalid user name/);
    }
    expect(store.issueUser('a'.repeat(64), ca).record.userId).to.have.length(64);
    expect(() => store.trustManual(makeCertificate({}).certPem)).to.throw(/no \(single\) subject CN/);
    expect(() => store.trustManual('garbage')).to.throw(/not an X.509 certificate/);
    expect(store.list()).to.have.length(1);
  });

  it('accepts a self-signed certificate added by hand', () => {
    const dave = makeCertificate({ cn: 'dave' });
    const record = store.trustManual(dave.certPem);
    expect(record).to.include({ userId: 'dave', source: 'manual', status: 'active' });
    expect(store.resolveUser(dave.der)?.userId).to.equal('dave');
    // DER works as well as PEM.
    const eve = makeCertificate({ cn: 'eve' });
    expect(store.trustManual(eve.der).userId).to.equal('eve');
  });

  it('refuses user certificates whose key is not RSA of 2048 bits or more: users keep RSA, EC P-256 is for services', () => {
    for (const keyArgs of [
      ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
      ['-newkey', 'rsa:1024'],
    ]) {
      const work = mkdtempSync(join(tmpdir(), 'vbs-trust-key-'));
      try {
        execFileSync(
          'openssl',
          [
            'req',
            '-x509',
            ...keyArgs,
            '-nodes',
            '-subj',
            '/CN=grace',
            '-days',
            '2',
            '-keyout',
            join(work, 'key.pem'),
            '-out',
            join(work, 'cert.pem'),
          ],
          { stdio: 'ignore' },
        );
        expect(() => store.trustManual(readFileSync(join(work, 'cert.pem'), 'utf8')), keyArgs.join(' ')).to.throw(
          /must hold an RSA key of at least 2048 bits/,
        );
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    }
    expect(store.list().filter((r) => r.userId === 'grace')).to.have.length(0);
  });

  it('sees each of several revocations made through another connection on the next call, and keeps the rest', () => {
    const names = ['ann', 'ben', 'cat', 'dan'];
    const ders = names.map((name) => derOf(store.issueUser(name, ca).certPem));
    ders.forEach((der, i) => expect(store.resolveUser(der)?.userId).to.equal(names[i]));
    const admin = open();
    ders.forEach((der, i) => {
      expect(admin.revokeCertificate(fingerprintOf(der))).to.equal(true);
      expect(store.resolveUser(der), names[i]).to.equal(undefined);
      ders.slice(i + 1).forEach((kept, j) => {
        expect(store.resolveUser(kept)?.userId).to.equal(names[i + 1 + j]);
      });
    });
  });
});
