/**
 * The VBS CA and local TLS material, checked with Node's own X.509 and TLS stack (not forge's):
 * what we issue must be what Node clients and servers accept, and nothing else.
 */
import { expect } from 'chai';
import { X509Certificate, createHash, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
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
import { ensureLocalCa, ensureServiceTls } from '../../src/security/ca/local-tls.js';
import { TLSSocket } from 'node:tls';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

function spki(pem: string): Buffer {
  return createPublicKey(pem).export({ type: 'spki', format: 'der' });
}

function makeCsr(subject: forge.pki.CertificateField[]): {
  csrPem: string;
  publicKeyPem: string;
  privateKeyPem: string;
} {
  const pair = generateKeyPair();
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(pair.publicKeyPem);
  csr.setSubject(subject);
  csr.sign(forge.pki.privateKeyFromPem(pair.privateKeyPem), forge.md.sha256.create());
  return { csrPem: forge.pki.certificationRequestToPem(csr), ...pair };
}

interface Started {
  port: number;
  close: () => Promise<void>;
}

function startServer(
  options: https.ServerOptions,
  onRequest: (req: import('node:http').IncomingMessage) => string,
): Promise<Started> {
  const server = https.createServer(options, (req, res) => res.end(onRequest(req)));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

function get(port: number, options: https.RequestOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path: '/', agent: false, ...options }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

async function rejection(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

describe('security/ca', function () {
  let ca: CaMaterial;
  const dirs: string[] = [];
  const tempDir = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'vbs-ca-test-'));
    dirs.push(d);
    return d;
  };

  before(() => {
    ca = createCa('Test CA');
  });
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  describe('createCa', () => {
    it('makes a self-signed CA with critical basicConstraints and keyUsage', () => {
      const cert = new X509Certificate(ca.certPem);
      expect(cert.ca).to.equal(true);
      expect(cert.subject).to.equal('CN=Test CA');
      expect(cert.verify(cert.publicKey)).to.equal(true);
      expect(spki(ca.keyPem).equals(cert.publicKey.export({ type: 'spki', format: 'der' }))).to.equal(true);
      const f = forge.pki.certificateFromPem(ca.certPem);
      expect(f.getExtension('basicConstraints')).to.include({ cA: true, critical: true });
      expect(f.getExtension('keyUsage')).to.include({ keyCertSign: true, cRLSign: true, critical: true });
      expect(f.getExtension('subjectKeyIdentifier')).to.not.equal(undefined);
      // positive 128-bit serial
      expect(cert.serialNumber).to.match(/^[89A-F][0-9A-F]{31}$/);
    });
  });

  describe('issueCertificate (server)', () => {
    let server: { certPem: string; serialHex: string };
    let keyPem: string;
    before(() => {
      const pair = generateKeyPair();
      keyPem = pair.privateKeyPem;
      server = issueCertificate(ca, {
        commonName: 'vbs-test',
        publicKeyPem: pair.publicKeyPem,
        usage: 'server',
        dnsNames: ['localhost'],
        ipAddresses: ['127.0.0.1'],
      });
    });

    it('is signed by the CA and names the service and its hosts', () => {
      const cert = new X509Certificate(server.certPem);
      const caCert = new X509Certificate(ca.certPem);
      expect(cert.verify(caCert.publicKey)).to.equal(true);
      expect(cert.checkIssued(caCert)).to.equal(true);
      expect(cert.ca).to.equal(false);
      expect(cert.subject).to.equal('CN=vbs-test');
      expect(cert.checkHost('localhost')).to.equal('localhost');
      expect(cert.checkIP('127.0.0.1')).to.equal('127.0.0.1');
      expect(cert.checkHost('evil.example')).to.equal(undefined);
      expect(cert.keyUsage).to.have.members([SERVER_AUTH, CLIENT_AUTH]);
      expect(cert.serialNumber).to.equal(server.serialHex);
      expect(cert.verify(new X509Certificate(createCa('Other CA').certPem).publicKey)).to.equal(false);
    });

    it('serves HTTPS that a client trusting only the CA accepts, and a client with another CA refuses', async () => {
      const srv = await startServer({ cert: server.certPem, key: keyPem }, () => 'ok');
      try {
        expect(await get(srv.port, { ca: ca.certPem })).to.equal('ok');
        const err = await rejection(get(srv.port, { ca: createCa('Other CA').certPem }));
        expect(err.code).to.equal('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
      } finally {
        await srv.close();
      }
    });

    it('refuses weak keys, bad hosts, and a CA key that does not match its certificate', () => {
      const weak = generateKeyPairSync('rsa', { modulusLength: 1024 })
        .publicKey.export({ type: 'spki', format: 'pem' })
        .toString();
      const base = { commonName: 'x', usage: 'server' as const, dnsNames: ['localhost'] };
      expect(() => issueCertificate(ca, { ...base, publicKeyPem: weak })).to.throw(/at least 2048/);
      const { publicKeyPem } = generateKeyPair();
      expect(() => issueCertificate(ca, { ...base, publicKeyPem, dnsNames: ['a b'] })).to.throw(/DNS name/);
      expect(() => issueCertificate(ca, { ...base, publicKeyPem, ipAddresses: ['1.2.3'] })).to.throw(/IP address/);
      expect(() => issueCertificate(ca, { ...base, publicKeyPem, dnsNames: [] })).to.throw(/at least one/);
      const mixed = { certPem: ca.certPem, keyPem: generateKeyPair().privateKeyPem };
      expect(() => issueCertificate(mixed, { ...base, publicKeyPem })).to.throw(/does not match/);
    });
  });

  describe('issueCertificate (EC P-256 service keys)', () => {
    let server: { certPem: string; serialHex: string };
    let pair: { publicKeyPem: string; privateKeyPem: string };
    before(() => {
      pair = generateKeyPair('ec-p256');
      server = issueCertificate(ca, {
        commonName: 'frontend',
        publicKeyPem: pair.publicKeyPem,
        usage: 'server',
        dnsNames: ['localhost'],
        ipAddresses: ['127.0.0.1'],
      });
    });

    it("is signed by the RSA CA for the EC key, with digitalSignature only and the key's own identifier", async () => {
      const cert = new X509Certificate(server.certPem);
      const caCert = new X509Certificate(ca.certPem);
      expect(cert.verify(caCert.publicKey)).to.equal(true);
      expect(cert.checkIssued(caCert)).to.equal(true);
      expect(cert.publicKey.asymmetricKeyType).to.equal('ec');
      expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).to.equal('prime256v1');
      expect(cert.publicKey.export({ type: 'spki', format: 'der' }).equals(spki(pair.publicKeyPem))).to.equal(true);
      expect(cert.keyUsage).to.have.members([SERVER_AUTH, CLIENT_AUTH]);
      expect(cert.serialNumber).to.equal(server.serialHex);
      // openssl, an independent reader: the chain (AKI/SKI), the purpose, and the extensions as written.
      const dir = tempDir();
      writeFileSync(join(dir, 'ca.pem'), ca.certPem);
      writeFileSync(join(dir, 'cert.pem'), server.certPem);
      const run = (args: string[]): Promise<string> =>
        new Promise((resolve, reject) =>
          execFile('openssl', args, (err, stdout) => {
            if (err) reject(new Error('openssl failed', { cause: err }));
            else resolve(stdout);
          }),
        );
      expect(
        await run([
          'verify',
          '-x509_strict',
          '-purpose',
          'sslserver',
          '-CAfile',
          join(dir, 'ca.pem'),
          join(dir, 'cert.pem'),
        ]),
      ).to.include('OK');
      const text = await run(['x509', '-in', join(dir, 'cert.pem'), '-noout', '-text']);
      expect(text).to.match(/X509v3 Key Usage: critical\s+Digital Signature\n/);
      expect(text).to.include('Signature Algorithm: sha256WithRSAEncryption').and.include('ASN1 OID: prime256v1');
      const jwk = createPublicKey(pair.publicKeyPem).export({ format: 'jwk' });
      const uncompressed = Buffer.concat([
        Buffer.from([4]),
        Buffer.from(jwk.x ?? '', 'base64url'),
        Buffer.from(jwk.y ?? '', 'base64url'),
      ]);
      const ski = createHash('sha1')
        .update(uncompressed)
        .digest('hex')
        .toUpperCase()
        .replace(/(..)(?!$)/g, '$1:');
      expect(text).to.match(new RegExp(`Subject Key Identifier:\\s+${ski}\\n`));
    });

    it('serves HTTPS with the EC certificate to a client trusting only the CA, and to a mutual-TLS server as a client', async () => {
      const srv = await startServer(
        { cert: server.certPem, key: pair.privateKeyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true },
        (req) => (req.socket instanceof TLSSocket ? String(req.socket.getPeerCertificate().subject.CN) : 'not TLS'),
      );
      try {
        expect(await get(srv.port, { ca: ca.certPem, cert: server.certPem, key: pair.privateKeyPem })).to.equal(
          'frontend',
        );
        const err = await rejection(
          get(srv.port, { ca: createCa('Other CA').certPem, cert: server.certPem, key: pair.privateKeyPem }),
        );
        // The server sends the VBS CA along (it is its `ca` for client certificates): a CA this client does not trust.
        expect(err.code).to.be.oneOf(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN']);
      } finally {
        await srv.close();
      }
    });

    it('issues EC only on P-256 and only to services: users keep RSA', () => {
      const base = { commonName: 'x', usage: 'server' as const, dnsNames: ['localhost'] };
      for (const namedCurve of ['P-384', 'secp256k1']) {
        const other = generateKeyPairSync('ec', { namedCurve })
          .publicKey.export({ type: 'spki', format: 'pem' })
          .toString();
        expect(() => issueCertificate(ca, { ...base, publicKeyPem: other }), namedCurve).to.throw(
          /RSA of at least 2048 bits or EC P-256/,
        );
      }
      const ed = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
      expect(() => issueCertificate(ca, { ...base, publicKeyPem: ed })).to.throw(
        /RSA of at least 2048 bits or EC P-256/,
      );
      expect(() =>
        issueCertificate(ca, { commonName: 'alice', usage: 'client', publicKeyPem: pair.publicKeyPem }),
      ).to.throw(/^the subject key must be RSA of at least 2048 bits$/);
    });
  });

  describe('signCsr (user enrollment)', () => {
    it('issues a client certificate for the CSR CN and public key, and nothing else from the request', () => {
      const { csrPem, publicKeyPem } = makeCsr([
        { shortName: 'CN', value: 'alice@example' },
        { shortName: 'O', value: 'Not kept' },
      ]);
      const issued = signCsr(ca, csrPem, 'client');
      const cert = new X509Certificate(issued.certPem);
      expect(cert.subject).to.equal('CN=alice@example');
      expect(cert.verify(new X509Certificate(ca.certPem).publicKey)).to.equal(true);
      expect(cert.publicKey.export({ type: 'spki', format: 'der' }).equals(spki(publicKeyPem))).to.equal(true);
      expect(cert.keyUsage).to.deep.equal([CLIENT_AUTH]);
      expect(cert.subjectAltName).to.equal(undefined);
      expect(cert.ca).to.equal(false);
    });

    it('refuses a CSR whose signature was tampered with', () => {
      const { csrPem } = makeCsr([{ shortName: 'CN', value: 'mallory' }]);
      const der = Buffer.from(forge.pem.decode(csrPem)[0]?.body ?? '', 'binary');
      der[der.length - 1] = (der[der.length - 1] ?? 0) ^ 0x01; // last byte of the signature
      const tampered = forge.pem.encode({ type: 'CERTIFICATE REQUEST', body: der.toString('binary') });
      expect(() => signCsr(ca, tampered, 'client')).to.throw(/signature does not verify/);
    });

    it('refuses a CSR with a valid signature over a changed subject', () => {
      const { csrPem } = makeCsr([{ shortName: 'CN', value: 'mallory' }]);
      // Parse, change the CN, and re-encode without re-signing.
      const csr = forge.pki.certificationRequestFromPem(csrPem);
      csr.setSubject([{ shortName: 'CN', value: 'admin' }]);
      csr.certificationRequestInfo = null; // re-encode the changed subject, keep the old signature
      const forged = forge.pki.certificationRequestToPem(csr);
      expect(forged).to.not.equal(csrPem);
      expect(() => signCsr(ca, forged, 'client')).to.throw(/signature does not verify/);
    });

    it('refuses a CSR without a CN, and garbage', () => {
      const { csrPem } = makeCsr([{ shortName: 'O', value: 'No CN' }]);
      expect(() => signCsr(ca, csrPem, 'client')).to.throw(/CN/);
      expect(() => signCsr(ca, 'not a csr', 'client')).to.throw(/CSR refused/);
    });

    it('gives a client certificate that a mutual-TLS server accepts, with the user ID as CN', async () => {
      const serverPair = generateKeyPair();
      const serverCert = issueCertificate(ca, {
        commonName: 'vbs-test',
        publicKeyPem: serverPair.publicKeyPem,
        usage: 'server',
        ipAddresses: ['127.0.0.1'],
      });
      const user = makeCsr([{ shortName: 'CN', value: 'bob' }]);
      const userCert = signCsr(ca, user.csrPem, 'client');
      const srv = await startServer(
        {
          cert: serverCert.certPem,
          key: serverPair.privateKeyPem,
          ca: ca.certPem,
          requestCert: true,
          rejectUnauthorized: true,
        },
        (req) => (req.socket instanceof TLSSocket ? String(req.socket.getPeerCertificate().subject.CN) : 'not TLS'),
      );
      try {
        expect(await get(srv.port, { ca: ca.certPem, cert: userCert.certPem, key: user.privateKeyPem })).to.equal(
          'bob',
        );
        await rejection(get(srv.port, { ca: ca.certPem })); // no client certificate: refused
      } finally {
        await srv.close();
      }
    });
  });

  describe('local TLS material', () => {
    it('ensureLocalCa creates the CA once, with private modes, and then loads it', () => {
      const dir = join(tempDir(), 'certs');
      const first = ensureLocalCa(dir);
      const second = ensureLocalCa(dir);
      expect(second).to.deep.equal(first);
      expect(new X509Certificate(first.certPem).ca).to.equal(true);
      expect(readFileSync(join(dir, 'ca.pem'), 'utf8')).to.equal(first.certPem);
      expect(statSync(dir).mode & 0o777).to.equal(0o700);
      expect(statSync(join(dir, 'ca-key.pem')).mode & 0o777).to.equal(0o600);
    });

    it('ensureServiceTls reuses the certificate, and reissues it after the CA changes', () => {
      const dir = tempDir();
      const a = ensureServiceTls(dir, 'vbs-api');
      expect(statSync(a.keyPath).mode & 0o777).to.equal(0o600);
      expect(a.caPath).to.equal(join(dir, 'ca.pem'));
      const cert = new X509Certificate(a.certPem);
      expect(cert.subject).to.equal('CN=vbs-api');
      expect(cert.verify(new X509Certificate(a.caPem).publicKey)).to.equal(true);
      expect(cert.checkHost('localhost')).to.equal('localhost');

      const b = ensureServiceTls(dir, 'vbs-api');
      expect(b).to.deep.equal(a);

      rmSync(join(dir, 'ca.pem'));
      rmSync(join(dir, 'ca-key.pem'));
      const c = ensureServiceTls(dir, 'vbs-api');
      expect(c.caPem).to.not.equal(a.caPem);
      expect(c.certPem).to.not.equal(a.certPem);
      expect(new X509Certificate(c.certPem).verify(new X509Certificate(c.caPem).publicKey)).to.equal(true);
      expect(statSync(c.keyPath).mode & 0o777).to.equal(0o600);
    });

    it('ensureServiceTls reissues a certificate that expires within 30 days or lacks a requested host', () => {
      const dir = tempDir();
      const a = ensureServiceTls(dir, 'vbs-api');
      const shortLived = issueCertificate(ensureLocalCa(dir), {
        commonName: 'vbs-api',
        publicKeyPem: createPublicKey(a.keyPem).export({ type: 'spki', format: 'pem' }).toString(),
        usage: 'server',
        dnsNames: ['localhost'],
        ipAddresses: ['127.0.0.1'],
        validDays: 10,
      });
      writeFileSync(a.certPath, shortLived.certPem);
      const b = ensureServiceTls(dir, 'vbs-api');
      expect(b.certPem).to.not.equal(shortLived.certPem);
      expect(Date.parse(new X509Certificate(b.certPem).validTo) - Date.now()).to.be.greaterThan(300 * 86_400_000);

      const c = ensureServiceTls(dir, 'vbs-api', {
        dnsNames: ['localhost', 'vbs.internal'],
        ipAddresses: ['127.0.0.1'],
      });
      expect(c.certPem).to.not.equal(b.certPem);
      expect(new X509Certificate(c.certPem).checkHost('vbs.internal')).to.equal('vbs.internal');
    });

    it('ensureServiceTls issues EC P-256 keys, reissues an RSA service certificate as EC once, then reuses it', () => {
      const dir = tempDir();
      const fresh = ensureServiceTls(dir, 'frontend');
      expect(new X509Certificate(fresh.certPem).publicKey.asymmetricKeyDetails?.namedCurve).to.equal('prime256v1');
      expect(createPrivateKey(fresh.keyPem).asymmetricKeyType).to.equal('ec');

      // An installation from before: the same service, an RSA key and certificate from the same CA, valid for a year.
      const rsa = generateKeyPair('rsa');
      const old = issueCertificate(ensureLocalCa(dir), {
        commonName: 'frontend',
        publicKeyPem: rsa.publicKeyPem,
        usage: 'server',
        dnsNames: ['localhost'],
        ipAddresses: ['127.0.0.1'],
      });
      writeFileSync(fresh.keyPath, rsa.privateKeyPem);
      writeFileSync(fresh.certPath, old.certPem);

      const reissued = ensureServiceTls(dir, 'frontend');
      expect(reissued.certPem).to.not.equal(old.certPem);
      const cert = new X509Certificate(reissued.certPem);
      expect(cert.publicKey.asymmetricKeyType).to.equal('ec');
      expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).to.equal('prime256v1');
      expect(cert.subject).to.equal('CN=frontend');
      expect(cert.verify(new X509Certificate(reissued.caPem).publicKey)).to.equal(true);
      expect(readFileSync(reissued.certPath, 'utf8')).to.equal(reissued.certPem);
      expect(readFileSync(reissued.keyPath, 'utf8')).to.equal(reissued.keyPem);
      expect(statSync(reissued.keyPath).mode & 0o777).to.equal(0o600);

      // Once: the next starts find an EC certificate and keep it.
      expect(ensureServiceTls(dir, 'frontend')).to.deep.equal(reissued);
      expect(ensureServiceTls(dir, 'frontend')).to.deep.equal(reissued);
    });

    it('ensureServiceTls refuses names that are unsafe or collide with other files', () => {
      const dir = tempDir();
      for (const name of ['ca', 'ca-key', 'api-key', '../x', 'Api', '', 'a'.repeat(64)]) {
        expect(() => ensureServiceTls(dir, name), name).to.throw(/invalid service name/);
      }
    });

    it('processes starting at once all end up with the same CA', async () => {
      const dir = join(tempDir(), 'certs');
      const moduleUrl = new URL('../../src/security/ca/local-tls.js', import.meta.url).href;
      const script =
        `const { ensureLocalCa } = await import(${JSON.stringify(moduleUrl)});` +
        `process.stdout.write(ensureLocalCa(process.argv[1]).certPem);`;
      const run = (): Promise<string> =>
        new Promise((resolve, reject) => {
          execFile(process.execPath, ['--input-type=module', '-e', script, dir], (err, stdout) => {
            if (err) reject(new Error('ensureLocalCa failed', { cause: err }));
            else resolve(stdout);
          });
        });
      const outputs = await Promise.all([run(), run(), run(), run()]);
      const onDisk = readFileSync(join(dir, 'ca.pem'), 'utf8');
      const hash = (s: string): string => createHash('sha256').update(s).digest('hex');
      expect(outputs.map(hash)).to.deep.equal(outputs.map(() => hash(onDisk)));
      expect(ensureLocalCa(dir).certPem).to.equal(onDisk);
      expect(readdirSync(dir).sort()).to.deep.equal(['ca-key.pem', 'ca.pem']); // no temp files left
    });
  });
});
