/**
 * What must be accepted: requests signed by every client VBS expects (its own signer, node-soap's
 * WSSecurityCert in both Id modes, zeep + xmlsec, the xmlsec1 command line with a pretty-printed
 * template and InclusiveNamespaces), and VBS's own signed messages must pass xmlsec1 and zeep, so that
 * the signer is checked by implementations other than the verifier written beside it.
 */
import { expect } from 'chai';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { X509Certificate } from 'node:crypto';
import { parseEnvelope } from '../../../src/soap/envelope.js';
import { signEnvelope } from '../../../src/security/wssec/sign.js';
import { verifySignedEnvelope } from '../../../src/security/wssec/verify.js';
import { CREATE_VOLUME, EC2_NS, fixtures, options, outcome } from './helpers.js';
import {
  nodeSoapRequest,
  xmlsec1Signed,
  xmlsec1Verifies,
  zeepCall,
  zeepRequest,
  zeepVerifies,
} from './interop-tools.js';

describe('WS-Security: accepted requests and interop', function () {
  this.timeout(60_000);
  before(() => fixtures());

  it('accepts signEnvelope output and names the sender from the trust store', () => {
    const { alice } = fixtures();
    const signed = signEnvelope(CREATE_VOLUME, alice);
    const sender = verifySignedEnvelope(parseEnvelope(signed), options());
    expect(sender.userId).to.equal('alice');
    expect(sender.certificate.raw.equals(new X509Certificate(alice.certPem).raw)).to.equal(true);
    const value = /<ds:SignatureValue>([^<]+)</.exec(signed)?.[1];
    expect(sender.signatureValue).to.equal(value);
  });

  it('signEnvelope output passes xmlsec1 --verify with the signer certificate, and fails with another', async () => {
    const { alice, mallory } = fixtures();
    const signed = signEnvelope(CREATE_VOLUME, alice);
    expect(await xmlsec1Verifies(signed, alice.certPem)).to.equal(true);
    expect(await xmlsec1Verifies(signed, mallory.certPem)).to.equal(false);
    expect(await xmlsec1Verifies(signed.replace('<t:size>1<', '<t:size>2<'), alice.certPem)).to.equal(false);
  });

  it("signEnvelope output passes zeep's signature check", async () => {
    const { alice, mallory } = fixtures();
    const signed = signEnvelope(CREATE_VOLUME, alice);
    expect(await zeepVerifies(signed, alice.certPem)).to.equal(true);
    expect(await zeepVerifies(signed, mallory.certPem)).to.equal(false);
  });

  it('signEnvelope writes the Timestamp it is told to', () => {
    const { alice } = fixtures();
    // A day from now: inside the certificate's validity, and far from the real clock.
    const now = new Date(Math.floor(Date.now() / 1000) * 1000 + 86_400_678);
    const iso = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z');
    const signed = signEnvelope(CREATE_VOLUME, alice, { now, ttlSeconds: 60 });
    const created = now.getTime() - 678;
    expect(signed).to.include(
      `<wsu:Created>${iso(created)}</wsu:Created><wsu:Expires>${iso(created + 60_000)}</wsu:Expires>`,
    );
    expect(outcome(signed, options({ now: () => new Date(created + 30_000) }))).to.equal('accepted:alice');
    expect(outcome(signed)).to.match(/^AuthFailure: The request Timestamp is in the future/);
  });

  it('signEnvelope refuses a body that is not exactly one element', () => {
    const { alice } = fixtures();
    expect(() => signEnvelope('<a/><b/>', alice)).to.throw(/exactly one well-formed element/);
    expect(() => signEnvelope('<a>', alice)).to.throw(/exactly one well-formed element/);
  });

  it('accepts node-soap WSSecurityCert requests with plain Id (its default)', async () => {
    const sent = await nodeSoapRequest(fixtures().alice);
    expect(sent).to.match(/<soap:Body Id="/);
    expect(outcome(sent)).to.equal('accepted:alice');
  });

  it('accepts node-soap WSSecurityCert requests with idMode wssecurity (wsu:Id)', async () => {
    const sent = await nodeSoapRequest(fixtures().alice, { signerOptions: { idMode: 'wssecurity' } });
    expect(sent).to.match(/<soap:Body [^>]*wsu:Id="/);
    expect(outcome(sent)).to.equal('accepted:alice');
  });

  it('accepts zeep BinarySignature + Timestamp requests (rsa-sha256 via xmlsec)', async () => {
    const sent = await zeepRequest(fixtures().alice);
    expect(sent).to.include('xmldsig-more#rsa-sha256').and.include('Timestamp');
    expect(outcome(sent)).to.equal('accepted:alice');
  });

  it('accepts an envelope signed by the xmlsec1 command line (whitespace, InclusiveNamespaces)', async () => {
    const sent = await xmlsec1Signed(fixtures().alice);
    expect(sent)
      .to.include('InclusiveNamespaces')
      .and.match(/<ds:DigestValue>[^<]+</);
    expect(outcome(sent)).to.equal('accepted:alice');
  });

  it('a zeep client calls a service that verifies it and signs its answer, and zeep checks the answer', async () => {
    const { alice, service } = fixtures();
    const seen: string[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const answer =
          `<t:CreateVolumeResponse xmlns:t="${EC2_NS}"><t:requestId>r-1</t:requestId><t:volumeId>vol-zeep</t:volumeId>` +
          '<t:size>1</t:size><t:snapshotId></t:snapshotId><t:availabilityZone>zone-a</t:availabilityZone>' +
          '<t:status>creating</t:status><t:createTime>2010-08-31T00:00:00Z</t:createTime></t:CreateVolumeResponse>';
        try {
          seen.push(verifySignedEnvelope(parseEnvelope(Buffer.concat(chunks).toString('utf8')), options()).userId);
          res.writeHead(200, { 'content-type': 'text/xml; charset=utf-8' });
          res.end(signEnvelope(answer, service));
        } catch (e) {
          res.writeHead(500, { 'content-type': 'text/xml' });
          res.end(
            `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Client</faultcode>` +
              `<faultstring>${String(e).replace(/[<&]/g, ' ')}</faultstring></s:Fault></s:Body></s:Envelope>`,
          );
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      expect(await zeepCall(`http://127.0.0.1:${port}/`, alice, service.certPem)).to.equal('vol-zeep');
      expect(seen).to.deep.equal(['alice']);
    } finally {
      server.close();
    }
  });
});
