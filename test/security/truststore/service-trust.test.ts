/**
 * Service-to-service trust: only certificates the VBS CA issued to a service (serverAuth), valid now,
 * whose CN the caller accepts. A user's certificate from the same CA is not a service's.
 */
import { expect } from 'chai';
import { X509Certificate } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
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

  it('refuses a user certificate of the same CA (no serverAuth)', () => {
    const tls = ensureServiceTls(dir, 'frontend');
    const pair = generateKeyPair();
    const user = issueCertificate({ certPem: tls.caPem, keyPem: readCaKey(dir) }, { commonName: 'volume-delegate-x', publicKeyPem: pair.publicKeyPem, usage: 'client' });
    const resolve = serviceResolver(tls.caPem, () => true);
    expect(resolve(new X509Certificate(user.certPem).raw)).to.equal(undefined);
  });

  it('refuses a service certificate of another CA, a self-signed one, expired ones and garbage', () => {
    const tls = ensureServiceTls(dir, 'frontend');
    const other = createCa('VBS local CA');
    const pair = generateKeyPair();
    const foreign = issueCertificate(other, { commonName: 'frontend', publicKeyPem: pair.publicKeyPem, usage: 'server', dnsNames: ['localhost'] });
    const resolve = serviceResolver(tls.caPem, () => true);
    expect(resolve(new X509Certificate(foreign.certPem).raw)).to.equal(undefined);
    expect(resolve(makeCertificate({ cn: 'frontend', serverAuth: true }).der)).to.equal(undefined);
    const ca = { certPem: tls.caPem, keyPem: readCaKey(dir) };
    const old = makeCertificate({ cn: 'frontend', serverAuth: true, issuer: ca, notBefore: new Date(Date.now() - 9 * DAY_MS), notAfter: new Date(Date.now() - DAY_MS) });
    expect(resolve(old.der)).to.equal(undefined);
    const good = makeCertificate({ cn: 'frontend', serverAuth: true, issuer: ca });
    expect(resolve(good.der)?.userId).to.equal('frontend');
    expect(serviceResolver(tls.caPem, () => true, () => Date.now() + 60 * DAY_MS)(good.der)).to.equal(undefined);
    expect(resolve(Buffer.from('not a certificate'))).to.equal(undefined);
  });
});

function readCaKey(dir: string): string {
  return readFileSync(join(dir, 'ca-key.pem'), 'utf8');
}
