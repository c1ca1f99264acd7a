/**
 * The certificate profiles in certs/profiles: what the CA, a service and a user certificate contain
 * is read from them, and every certificate VBS issues (createCa, ensureServiceTls, the trust store's
 * issueUser and enrollCsr) is exactly what they say, checked with openssl and Node's X509Certificate
 * (profile-checks.ts). Profiles changed in a temporary directory show that the code follows the data
 * rather than agreeing with it by chance.
 */
import { expect } from 'chai';
import { X509Certificate, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import {
  createCa,
  generateKeyPair,
  issueCertificate,
  signCsr,
  type CaMaterial,
} from '../../src/security/ca/certificate-authority.js';
import { kindOfGenerated, type CertificateProfiles } from '../../src/security/ca/certificate-profile.js';
import { certificateProfiles, loadCertificateProfiles } from '../../src/security/ca/certificate-profiles.js';
import { PROFILES_DIR } from '../../src/security/ca/certs-dir.js';
import { ensureLocalCa, ensureServiceTls } from '../../src/security/ca/local-tls.js';
import { SUBJECT_RULES, checkServiceName } from '../../src/security/ca/subject-rules.js';
import { TrustStore } from '../../src/security/truststore/trust-store.js';
import { checkUserName } from '../../src/security/truststore/user-names.js';
import { keyKindOf, type KeyKind } from '../../src/security/wssec/key-kind.js';
import { DAY_MS, expectFollowsProfile } from './profile-checks.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const CERTS_DIR = join(PROFILES_DIR, '..');

function publicPem(kind: KeyKind | 'ec-p384'): string {
  if (kind === 'ec-p384') {
    return generateKeyPairSync('ec', { namedCurve: 'P-384' })
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString();
  }
  return generateKeyPair(kind).publicKeyPem;
}

function csrFor(cn: string): { csrPem: string; publicKeyPem: string } {
  const pair = generateKeyPair();
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(pair.publicKeyPem);
  csr.setSubject([{ shortName: 'CN', value: cn }]);
  csr.sign(forge.pki.privateKeyFromPem(pair.privateKeyPem), forge.md.sha256.create());
  return { csrPem: forge.pki.certificationRequestToPem(csr), publicKeyPem: pair.publicKeyPem };
}

function readJson(file: string): Json {
  return JSON.parse(readFileSync(file, 'utf8')) as Json;
}

function isObject(v: Json | undefined): v is { [key: string]: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

describe('security/ca certificate profiles', function () {
  this.timeout(60_000);
  const dirs: string[] = [];
  const tempDir = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'vbs-profiles-test-'));
    dirs.push(d);
    return d;
  };
  let profiles: CertificateProfiles;
  let ca: CaMaterial;
  let caCert: X509Certificate;
  before(() => {
    profiles = certificateProfiles();
    ca = createCa('Profile test CA');
    caCert = new X509Certificate(ca.certPem);
  });
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  describe('certs/ in the repository', () => {
    it('holds the three profiles the code reads, and nothing secret or of an installation', () => {
      expect(readdirSync(PROFILES_DIR).sort()).to.deep.equal(['ca.json', 'service.json', 'user.json']);
      const walk = (dir: string): string[] =>
        readdirSync(dir).flatMap((name) => {
          const path = join(dir, name);
          return statSync(path).isDirectory() ? walk(path) : [path];
        });
      for (const file of walk(CERTS_DIR)) {
        expect(file, 'only profiles and their README').to.match(/(\/profiles\/[a-z]+\.json|\/README\.md)$/);
        expect(readFileSync(file, 'utf8'), file).to.not.match(/-----BEGIN|PRIVATE KEY/);
      }
    });

    it('is read as written: every field of each file, nothing added but the defaults the format names', () => {
      for (const role of ['ca', 'service', 'user'] as const) {
        const raw = readJson(join(PROFILES_DIR, `${role}.json`));
        if (!isObject(raw) || !Array.isArray(raw['extensions'])) throw new Error(`${role}.json is not a profile`);
        // keyUsage.forRsaKeys may be left out: it means none.
        for (const e of raw['extensions']) if (isObject(e) && e['name'] === 'keyUsage') e['forRsaKeys'] ??= [];
        expect(JSON.parse(JSON.stringify(profiles[role])), role).to.deep.equal(raw);
      }
      expect(certificateProfiles(), 'read once, then kept').to.equal(profiles);
      expect(Object.isFrozen(profiles.user.extensions), 'and frozen').to.equal(true);
    });

    it('names each subject rule once, in code: the user rule is the trust store’s, the service rule ensureServiceTls’s', () => {
      expect(SUBJECT_RULES[profiles.user.subject.commonName]).to.equal(checkUserName);
      expect(SUBJECT_RULES[profiles.service.subject.commonName]).to.equal(checkServiceName);
      const store = new TrustStore(join(tempDir(), 'trust.sqlite'), ca.certPem);
      try {
        for (const name of ['frontend', 'volume-delegate-x', 'bad name', '']) {
          const byRule = ((): string => {
            try {
              SUBJECT_RULES[profiles.user.subject.commonName](name);
              return 'accepted';
            } catch (err) {
              return err instanceof Error ? err.message : String(err);
            }
          })();
          expect(() => store.issueUser(name, ca), name).to.throw(byRule);
        }
      } finally {
        store.close();
      }
    });
  });

  describe('the CA certificate (ca.json)', () => {
    it('createCa makes exactly what the CA profile says, with the key it says', () => {
      const issuedAt = Date.now();
      const made = createCa('VBS local CA');
      const cert = new X509Certificate(made.certPem);
      expectFollowsProfile(made.certPem, profiles.ca, {
        commonName: 'VBS local CA',
        issuer: cert,
        ca: profiles.ca,
        issuedAt,
      });
      expect(cert.verify(cert.publicKey), 'self-signed').to.equal(true);
      const generate = profiles.ca.key.generate;
      expect(generate.type).to.equal('rsa');
      if (generate.type === 'rsa') {
        expect(cert.publicKey.asymmetricKeyType).to.equal('rsa');
        expect(cert.publicKey.asymmetricKeyDetails?.modulusLength).to.equal(generate.bits);
        expect(cert.publicKey.asymmetricKeyDetails?.publicExponent).to.equal(65_537n);
      }
    });

    it('ensureLocalCa makes the same, and refuses a validity beyond the profile', () => {
      const issuedAt = Date.now();
      const local = ensureLocalCa(join(tempDir(), 'certs'));
      const cert = new X509Certificate(local.certPem);
      expectFollowsProfile(local.certPem, profiles.ca, {
        commonName: 'VBS local CA',
        issuer: cert,
        ca: profiles.ca,
        issuedAt,
      });
      expect(() => createCa('x', profiles.ca.lifetime.maxDays + 1)).to.throw(/invalid validity/);
    });
  });

  describe('service certificates (service.json)', () => {
    it('ensureServiceTls gives every service identity what the profile says: its key, its hosts, its extensions', () => {
      const dir = join(tempDir(), 'certs');
      for (const identity of ['frontend', 'volume-delegate-vd-1', 'vmm-delegate-node1']) {
        const issuedAt = Date.now();
        const tls = ensureServiceTls(dir, identity);
        const cert = new X509Certificate(tls.certPem);
        expectFollowsProfile(tls.certPem, profiles.service, {
          commonName: identity,
          issuer: new X509Certificate(tls.caPem),
          ca: profiles.ca,
          ...profiles.service.defaultHosts,
          issuedAt,
        });
        expect(keyKindOf(cert.publicKey), identity).to.equal(kindOfGenerated(profiles.service.key.generate));
        expect(statSync(tls.keyPath).mode & 0o777).to.equal(0o600);
      }
    });

    it('gives a service that asks for it (the frontend) a second certificate with the forRsaPeers key, renewed alike', () => {
      const dir = join(tempDir(), 'certs');
      const forRsa = profiles.service.key.forRsaPeers;
      expect(forRsa, 'the shipped profile names a key for RSA peers').to.deep.equal({ type: 'rsa', bits: 2048 });
      expect(ensureServiceTls(dir, 'volume-delegate-vd-1').rsa, 'only when asked').to.equal(undefined);
      const issuedAt = Date.now();
      const tls = ensureServiceTls(dir, 'frontend', undefined, { forRsaPeers: true });
      const rsa = tls.rsa ?? expect.fail('no RSA certificate');
      expect([rsa.certPath, rsa.keyPath]).to.deep.equal([
        join(dir, 'frontend.rsa.pem'),
        join(dir, 'frontend.rsa-key.pem'),
      ]);
      expectFollowsProfile(rsa.certPem, profiles.service, {
        commonName: 'frontend',
        issuer: new X509Certificate(tls.caPem),
        ca: profiles.ca,
        ...profiles.service.defaultHosts,
        issuedAt,
      });
      const cert = new X509Certificate(rsa.certPem);
      expect(keyKindOf(cert.publicKey)).to.equal('rsa');
      expect(cert.publicKey.asymmetricKeyDetails?.modulusLength).to.equal(2048);
      expect(keyKindOf(new X509Certificate(tls.certPem).publicKey), 'the main one stays EC').to.equal('ec-p256');
      expect(statSync(rsa.keyPath).mode & 0o777).to.equal(0o600);
      expect(ensureServiceTls(dir, 'frontend', undefined, { forRsaPeers: true }).rsa?.certPem, 'kept').to.equal(
        rsa.certPem,
      );
      // One that lost its key, or is of the wrong kind, is issued again.
      writeFileSync(rsa.keyPath, generateKeyPair('ec-p256').privateKeyPem);
      const again = ensureServiceTls(dir, 'frontend', undefined, { forRsaPeers: true }).rsa;
      expect(again?.certPem).to.not.equal(rsa.certPem);
      expect(keyKindOf(new X509Certificate(again?.certPem ?? '').publicKey)).to.equal('rsa');
    });

    it('adds the profile’s forRsaKeys usages to an RSA service key (older installations), and the hosts asked for', () => {
      const issuedAt = Date.now();
      const hosts = { dnsNames: ['vbs.internal', 'localhost'], ipAddresses: ['10.0.0.7'] };
      const { certPem } = issueCertificate(ca, {
        commonName: 'frontend',
        publicKeyPem: publicPem('rsa'),
        usage: 'server',
        ...hosts,
        validDays: 90,
      });
      expectFollowsProfile(certPem, profiles.service, {
        commonName: 'frontend',
        issuer: caCert,
        ca: profiles.ca,
        ...hosts,
        validDays: 90,
        issuedAt,
      });
    });

    it('is renewed renewWithinDays before it expires, and kept until then', () => {
      const dir = join(tempDir(), 'certs');
      const first = ensureServiceTls(dir, 'frontend');
      const publicKeyPem = createPublicKey(first.keyPem).export({ type: 'spki', format: 'pem' }).toString();
      const withDays = (validDays: number): string =>
        issueCertificate(ensureLocalCa(dir), {
          commonName: 'frontend',
          publicKeyPem,
          usage: 'server',
          ...profiles.service.defaultHosts,
          validDays,
        }).certPem;
      const renewWithin = profiles.service.lifetime.renewWithinDays;
      const kept = withDays(renewWithin + 2);
      writeFileSync(first.certPath, kept);
      expect(ensureServiceTls(dir, 'frontend').certPem, 'outside the renewal window').to.equal(kept);
      const due = withDays(renewWithin - 1);
      writeFileSync(first.certPath, due);
      const renewed = ensureServiceTls(dir, 'frontend').certPem;
      expect(renewed, 'inside the renewal window').to.not.equal(due);
      expect(Date.parse(new X509Certificate(renewed).validTo) - Date.now()).to.be.greaterThan(
        (profiles.service.lifetime.defaultDays - 1) * DAY_MS,
      );
    });
  });

  describe('user certificates (user.json)', () => {
    it('vbs-admin user add (TrustStore.issueUser) and user enroll (enrollCsr) issue what the profile says', () => {
      const store = new TrustStore(join(tempDir(), 'trust.sqlite'), ca.certPem);
      try {
        let issuedAt = Date.now();
        const added = store.issueUser('alice', ca);
        expectFollowsProfile(added.certPem, profiles.user, {
          commonName: 'alice',
          issuer: caCert,
          ca: profiles.ca,
          issuedAt,
        });
        issuedAt = Date.now();
        const enrolled = store.enrollCsr(csrFor('bob@example.org').csrPem, ca, { validDays: 30 });
        expectFollowsProfile(enrolled.certPem, profiles.user, {
          commonName: 'bob@example.org',
          issuer: caCert,
          ca: profiles.ca,
          validDays: 30,
          issuedAt,
        });
      } finally {
        store.close();
      }
    });

    it('signCsr gives the CSR’s key and CN only, within the CA’s own lifetime when asked for the most', () => {
      const issuedAt = Date.now();
      const { csrPem, publicKeyPem } = csrFor('carol');
      const validDays = profiles.user.lifetime.maxDays;
      const { certPem } = signCsr(ca, csrPem, 'client', validDays);
      expectFollowsProfile(certPem, profiles.user, {
        commonName: 'carol',
        issuer: caCert,
        ca: profiles.ca,
        validDays,
        issuedAt,
      });
      expect(new X509Certificate(certPem).validTo).to.equal(caCert.validTo);
      expect(new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'pem' })).to.equal(publicKeyPem);
      expect(() => signCsr(ca, csrPem, 'client', validDays + 1)).to.throw(/invalid validity/);
    });
  });

  it('signs exactly the key kinds each profile accepts', () => {
    for (const [usage, profile] of [
      ['server', profiles.service],
      ['client', profiles.user],
    ] as const) {
      for (const kind of ['rsa', 'ec-p256', 'ec-p384'] as const) {
        const issue = (): unknown =>
          issueCertificate(ca, {
            commonName: 'x',
            publicKeyPem: publicPem(kind),
            usage,
            ...(usage === 'server' ? { dnsNames: ['localhost'] } : {}),
          });
        const accepted = kind !== 'ec-p384' && profile.key.accept.includes(kind);
        if (accepted) expect(issue, `${usage} ${kind}`).to.not.throw();
        else expect(issue, `${usage} ${kind}`).to.throw(/^the subject key must be /);
      }
    }
  });

  describe('changed profiles', () => {
    /** The shipped profiles, copied and changed by `edit`, then read. */
    function changed(
      edit: (docs: Record<'ca' | 'service' | 'user', { [key: string]: Json }>) => void,
    ): CertificateProfiles {
      const dir = tempDir();
      cpSync(PROFILES_DIR, dir, { recursive: true });
      const docs = {
        ca: readJson(join(dir, 'ca.json')),
        service: readJson(join(dir, 'service.json')),
        user: readJson(join(dir, 'user.json')),
      };
      if (!isObject(docs.ca) || !isObject(docs.service) || !isObject(docs.user)) throw new Error('not profiles');
      const objects = { ca: docs.ca, service: docs.service, user: docs.user };
      edit(objects);
      for (const [role, doc] of Object.entries(objects)) writeFileSync(join(dir, `${role}.json`), JSON.stringify(doc));
      return loadCertificateProfiles(dir);
    }

    it('are what the CA issues: other lifetimes, usages, purposes, order, criticality, key size', () => {
      const other = changed((docs) => {
        docs.ca['lifetime'] = { defaultDays: 100, maxDays: 200, backdateMinutes: 0 };
        docs.ca['key'] = { generate: { type: 'rsa', bits: 3072 } };
        docs.ca['extensions'] = [
          { name: 'subjectKeyIdentifier', critical: false },
          { name: 'authorityKeyIdentifier', critical: false },
          { name: 'basicConstraints', critical: true, ca: true },
          { name: 'keyUsage', critical: false, usages: ['keyCertSign'] },
        ];
        docs.user['lifetime'] = { defaultDays: 30, maxDays: 60, backdateMinutes: 1 };
        docs.user['extensions'] = [
          { name: 'basicConstraints', critical: false, ca: false },
          { name: 'keyUsage', critical: true, usages: ['digitalSignature', 'nonRepudiation'] },
          { name: 'extKeyUsage', critical: true, purposes: ['emailProtection', 'clientAuth'] },
          { name: 'authorityKeyIdentifier', critical: false },
        ];
        docs.service['extensions'] = [
          { name: 'basicConstraints', critical: true, ca: false },
          { name: 'subjectAltName', critical: true },
          {
            name: 'keyUsage',
            critical: true,
            usages: ['digitalSignature'],
            forRsaKeys: ['keyEncipherment', 'keyAgreement'],
          },
          { name: 'extKeyUsage', critical: false, purposes: ['serverAuth'] },
        ];
      });
      let issuedAt = Date.now();
      const otherCa = createCa('Changed CA', undefined, other);
      const otherCaCert = new X509Certificate(otherCa.certPem);
      expectFollowsProfile(otherCa.certPem, other.ca, {
        commonName: 'Changed CA',
        issuer: otherCaCert,
        ca: other.ca,
        issuedAt,
      });
      expect(otherCaCert.publicKey.asymmetricKeyDetails?.modulusLength).to.equal(3072);

      issuedAt = Date.now();
      const user = issueCertificate(
        otherCa,
        { commonName: 'dave', publicKeyPem: publicPem('rsa'), usage: 'client' },
        other,
      );
      expectFollowsProfile(user.certPem, other.user, {
        commonName: 'dave',
        issuer: otherCaCert,
        ca: other.ca,
        issuedAt,
      });
      expect(() =>
        issueCertificate(
          otherCa,
          { commonName: 'dave', publicKeyPem: publicPem('rsa'), usage: 'client', validDays: 61 },
          other,
        ),
      ).to.throw(/invalid validity: 61 days/);

      for (const kind of ['rsa', 'ec-p256'] as const) {
        issuedAt = Date.now();
        const service = issueCertificate(
          otherCa,
          { commonName: 'frontend', publicKeyPem: publicPem(kind), usage: 'server', ipAddresses: ['127.0.0.1'] },
          other,
        );
        expectFollowsProfile(service.certPem, other.service, {
          commonName: 'frontend',
          issuer: otherCaCert,
          ca: other.ca,
          ipAddresses: ['127.0.0.1'],
          issuedAt,
        });
      }
    });

    it('leave the shipped files as they were', () => {
      expect(existsSync(join(PROFILES_DIR, 'ca.json'))).to.equal(true);
      expect(loadCertificateProfiles(PROFILES_DIR)).to.deep.equal(profiles);
    });
  });
});
