/**
 * Service-to-service trust: only certificates the VBS CA issued to a service (serverAuth), valid now,
 * with an EC P-256 key (what ensureServiceTls issues) or RSA >= 2048 (issued before), whose CN the
 * caller accepts. A user's certificate from the same CA is not a service's.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCa, generateKeyPair, issueCertificate } from '../../../src/security/ca/certificate-authority.js';
import { ensureServiceTls } from '../../../src/security/ca/local-tls.js';
import { serviceResolver } from '../../../src/security/truststore/service-trust.js';
import { DAY_MS, makeCertificate, tempDir } from './helpers.js';

describe('serviceResolver', function () {
  this.timeout(60_000);
  let dir: string;

  before(() => {
    dir = tempDir('vbs-service-trust-');
  });

  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('accepts a service certificate of the VBS CA by its CN, and only CNs that accept allows', () => {
    const frontend = ensureServiceTls(dir, 'frontend');
    const delegate = ensureServiceTls(dir, 'volume-delegate-vd-1');
    const resolve = serviceResolver(frontend.caPem, (cn) => cn.startsWith('volume-delegate-'));
    const der = new X509Certificate(delegate.certPem).raw;
    expect(resolve(der)?.userId).to.equal('volume-delegate-vd-1');
    expect(resolve(der)?.userId).to.equal('volume-delegate-vd-1'); // from the cache
    expect(resolve(new X509Certificate(frontend.certPem).raw)).to.equal(undefined);
  });

  it('accepts EC P-256 and RSA service keys, and refuses other curves and small RSA even from the VBS CA', () => {
    const tls = ensureServiceTls(dir, 'frontend');
    expect(new X509Certificate(tls.certPem).publicKey.asymmetricKeyDetails?.namedCurve).to.equal('prime256v1');
    const resolve = serviceResolver(tls.caPem, () => true);
    expect(resolve(new X509Certificate(tls.certPem).raw)?.userId).to.equal('frontend');
    const rsa = generateKeyPair('rsa');
    const rsaCert = issueCertificate(
      { certPem: tls.caPem, keyPem: readCaKey(dir) },
      { commonName: 'frontend', publicKeyPem: rsa.publicKeyPem, usage: 'server', dnsNames: ['localhost'] },
    );
    expect(resolve(new X509Certificate(rsaCert.certPem).raw)?.userId).to.equal('frontend');
    // Our CA refuses the last three keys; openssl signs them with the same CA key, as an operator by hand
    // could. The first, P-256 signed the same way, is the control: only the key differs.
    const cases: Array<[string[], string | undefined]> = [
      [['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], 'frontend'],
      [['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'], undefined],
      [['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp256k1'], undefined],
      [['-newkey', 'rsa:1024'], undefined],
    ];
    for (const [keyArgs, expected] of cases) {
      const work = tempDir('vbs-service-trust-key-');
      try {
        const f = (name: string): string => join(work, name);
        writeFileSync(f('ext.cnf'), 'extendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=critical,CA:FALSE\n');
        execFileSync(
          'openssl',
          ['req', '-new', ...keyArgs, '-nodes', '-subj', '/CN=frontend', '-keyout', f('key.pem'), '-out', f('req.csr')],
          { stdio: 'ignore' },
        );
        execFileSync(
          'openssl',
          [
            'x509',
            '-req',
            '-in',
            f('req.csr'),
            '-CA',
            join(dir, 'ca.pem'),
            '-CAkey',
            join(dir, 'ca-key.pem'),
            '-set_serial',
            '0x7a11',
            '-days',
            '2',
            '-extfile',
            f('ext.cnf'),
            '-out',
            f('cert.pem'),
          ],
          { stdio: 'ignore' },
        );
        const cert = new X509Certificate(readFileSync(f('cert.pem'), 'utf8'));
        expect(
          cert.checkIssued(new X509Certificate(tls.caPem)) &&
            // undefined without an extendedKeyUsage, whatever @types/node says
            // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
            cert.keyUsage?.includes('1.3.6.1.5.5.7.3.1'),
          keyArgs.join(' '),
        ).to.equal(true);
        expect(resolve(cert.raw)?.userId, keyArgs.join(' ')).to.equal(expected);
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    }
  });

  it('refuses a user certificate of the same CA (no serverAuth)', () => {
    const tls = ensureServiceTls(dir, 'frontend');
    const pair = generateKeyPair();
    const user = issueCertificate(
      { certPem: tls.caPem, keyPem: readCaKey(dir) },
      { commonName: 'volume-delegate-x', publicKeyPem: pair.publicKeyPem, usage: 'client' },
    );
    const resolve = serviceResolver(tls.caPem, () => true);
    expect(resolve(new X509Certificate(user.certPem).raw)).to.equal(undefined);
  });

  it('refuses a service certificate of another CA, a self-signed one, expired ones and garbage', () => {
    const tls = ensureServiceTls(dir, 'frontend');
    const other = createCa('VBS local CA');
    const pair = generateKeyPair();
    const foreign = issueCertificate(other, {
      commonName: 'frontend',
      publicKeyPem: pair.publicKeyPem,
      usage: 'server',
      dnsNames: ['localhost'],
    });
    const resolve = serviceResolver(tls.caPem, () => true);
    expect(resolve(new X509Certificate(foreign.certPem).raw)).to.equal(undefined);
    expect(resolve(makeCertificate({ cn: 'frontend', serverAuth: true }).der)).to.equal(undefined);
    const ca = { certPem: tls.caPem, keyPem: readCaKey(dir) };
    const old = makeCertificate({
      cn: 'frontend',
      serverAuth: true,
      issuer: ca,
      notBefore: new Date(Date.now() - 9 * DAY_MS),
      notAfter: new Date(Date.now() - DAY_MS),
    });
    expect(resolve(old.der)).to.equal(undefined);
    const good = makeCertificate({ cn: 'frontend', serverAuth: true, issuer: ca });
    expect(resolve(good.der)?.userId).to.equal('frontend');
    expect(
      serviceResolver(
        tls.caPem,
        () => true,
        () => Date.now() + 60 * DAY_MS,
      )(good.der),
    ).to.equal(undefined);
    expect(resolve(Buffer.from('not a certificate'))).to.equal(undefined);
  });
});

function readCaKey(dir: string): string {
  return readFileSync(join(dir, 'ca-key.pem'), 'utf8');
}
