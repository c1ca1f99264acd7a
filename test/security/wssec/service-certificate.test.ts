/**
 * A service-side certificate problem is the service's fault, never the user's AuthFailure. The
 * frontend's own signing certificate, expired, would make a Volume Delegate refuse its call with
 * AuthFailure, which the frontend passed on as it came. Now the frontend's real Volume Delegate pool
 * does not send the call: its error is no VbsError, so the user gets Server.InternalError with the
 * generic message, and the certificate's problem goes to the log under the request ID. Against a
 * real HTTPS server on 127.0.0.1 that answers as a delegate refusing the signature would.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { VolumeDelegatePool } from '../../../src/frontend/volume-delegate-pool.js';
import { silentLogger } from '../../../src/log.js';
import { ensureServiceTls } from '../../../src/security/ca/local-tls.js';
import { SigningCertificateError, signedAs, type Signer } from '../../../src/security/wssec/sign.js';
import { faultEnvelope, faultFor } from '../../../src/soap/faults.js';

const DAY_MS = 86_400_000;

/** A self-signed RSA-2048 certificate valid from `from` to `to` (epoch ms), and its key. */
function certificate(cn: string, from: number, to: number): Signer {
  const keys = forge.pki.rsa.generateKeyPair(2048);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(from);
  cert.validity.notAfter = new Date(to);
  cert.setSubject([{ name: 'commonName', value: cn }]);
  cert.setIssuer([{ name: 'commonName', value: cn }]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: forge.pki.privateKeyToPem(keys.privateKey) };
}

describe("a service's own certificate problem is a server fault", function () {
  this.timeout(30_000);
  let dir: string;
  let server: Server;
  let port: number;
  let calls = 0;
  let caPem: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vbs-svccert-'));
    const tls = ensureServiceTls(dir, 'volume-delegate-vd-1');
    caPem = tls.caPem;
    server = createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
      calls++;
      req.resume();
      req.on('end', () => {
        // What a delegate answers a request signed with a certificate it does not accept.
        const fault = faultFor(new Error('unused'));
        const body = faultEnvelope(
          {
            ...fault,
            code: 'AuthFailure',
            faultcode: 'Client.AuthFailure',
            message: 'The signing certificate is not valid.',
          },
          'delegate-request-1',
        );
        res.writeHead(500, { 'content-type': 'text/xml' }).end(body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const offer = async (signer: Signer): Promise<unknown> => {
    const pool = new VolumeDelegatePool(
      [{ id: 'vd-1', url: `https://127.0.0.1:${port}/volume-delegate` }],
      caPem,
      signer,
      silentLogger(),
      5_000,
    );
    try {
      await pool.offer('vd-1', {
        kind: 'volume',
        jobId: 'job-1',
        volumeId: 'vol-0123456789abcdef0',
        path: 'volumes/vol-0123456789abcdef0.img',
        sizeGiB: 1,
        volumeType: 'sparse',
      });
      return undefined;
    } catch (error) {
      return error;
    } finally {
      pool.close();
    }
  };

  it("the frontend's expired signing certificate: nothing is sent, Server.InternalError, the cause for the log", async () => {
    const now = Date.now();
    const expired = certificate('frontend', now - 30 * DAY_MS, now - DAY_MS);
    const before = calls;
    const error = await offer(expired);
    expect(calls, 'no call was sent').to.equal(before);
    expect(error).to.be.instanceOf(SigningCertificateError);
    expect((error as Error).message).to.match(/signing certificate \(CN=frontend\) expired on \d{4}-/);
    expect(faultFor(error)).to.deep.equal({
      code: 'InternalError',
      faultcode: 'Server.InternalError',
      message: 'An internal error has occurred. Quote the request ID when you report it.',
      httpStatus: 500,
    });
  });

  it('a certificate not yet valid is refused the same way; a valid one is sent (control)', async () => {
    const now = Date.now();
    expect(await offer(certificate('frontend', now + DAY_MS, now + 30 * DAY_MS))).to.be.instanceOf(
      SigningCertificateError,
    );
    const before = calls;
    const sent = await offer(certificate('frontend', now - DAY_MS, now + 30 * DAY_MS));
    expect(calls).to.equal(before + 1);
    expect(sent).to.not.be.instanceOf(SigningCertificateError);
  });

  it('an answer is still signed with an expired certificate (a server must write one)', () => {
    const now = Date.now();
    const expired = certificate('volume-delegate-vd-1', now - 30 * DAY_MS, now - DAY_MS);
    const writer = signedAs(expired);
    expect(() => writer('<x/>')).to.throw(SigningCertificateError);
    expect(writer('<x/>', {})).to.include('<soap:Body');
  });
});
