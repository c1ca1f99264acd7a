/**
 * answersSignedAs (src/security/wssec/sign.ts): a server's answers are signed in the kind of key the
 * request was signed with: rsa-sha256 by the service's RSA certificate for a request whose one
 * Signature names an RSA method (every user), ecdsa-sha256 by its EC P-256 certificate otherwise
 * (services, unsigned or unreadable requests, several signatures), and always EC when the service
 * has no RSA certificate. Each answer is checked by VBS's verifier with the certificate it names.
 */
import { expect } from 'chai';
import { X509Certificate } from 'node:crypto';
import { parseEnvelope, type ParsedEnvelope } from '../../../src/soap/envelope.js';
import { FingerprintTrustStore } from '../../../src/security/wssec/trust-store.js';
import { answersSignedAs, requestKeyKind, signEnvelope } from '../../../src/security/wssec/sign.js';
import { verifySignedEnvelope } from '../../../src/security/wssec/verify.js';
import { craft, RSA_SHA1 } from './craft.js';
import { CREATE_VOLUME, fixtures, type Identity } from './helpers.js';

const ANSWER =
  '<t:CreateVolumeResponse xmlns:t="http://ec2.amazonaws.com/doc/2010-08-31/"><t:requestId>1</t:requestId></t:CreateVolumeResponse>';
const UNSIGNED = `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>${CREATE_VOLUME}</soap:Body></soap:Envelope>`;

/** The certificate (service or rsaService) whose key verifies `answer`, by VBS's verifier. */
function signerOf(answer: string): 'ec' | 'rsa' | 'neither' {
  const f = fixtures();
  for (const [name, who] of [
    ['ec', f.service],
    ['rsa', f.rsaService],
  ] as const) {
    const store = new FingerprintTrustStore();
    store.add(who.certPem, 'signer');
    try {
      verifySignedEnvelope(parseEnvelope(answer), {
        resolveCertificate: store.resolve,
        now: () => new Date(),
        clockSkewSeconds: 60,
        replayCache: { record: () => 'new', since: 0 },
      });
      return name;
    } catch {
      // not this one
    }
  }
  return 'neither';
}

describe('answersSignedAs: the answer in the kind of key the request used', () => {
  const request = (text: string): ParsedEnvelope => parseEnvelope(text);
  const signedBy = (who: Identity): ParsedEnvelope => request(signEnvelope(CREATE_VOLUME, who));

  it('reads the key kind the one SignatureMethod names, checking nothing else', () => {
    const f = fixtures();
    expect(requestKeyKind(signedBy(f.alice))).to.equal('rsa');
    expect(requestKeyKind(signedBy(f.service))).to.equal('ec-p256');
    expect(requestKeyKind(request(craft({ signer: f.alice, signatureMethod: RSA_SHA1 })))).to.equal('rsa');
    expect(requestKeyKind(request(UNSIGNED))).to.equal(undefined);
    // Two Security headers: no single answer to the question.
    const twice = signEnvelope(CREATE_VOLUME, f.alice).replace(
      /(<wsse:Security [^>]*>)/,
      '<wsse:Security></wsse:Security>$1',
    );
    expect(requestKeyKind(request(twice))).to.equal(undefined);
  });

  it('signs with the RSA certificate for an RSA signer, with the EC one otherwise', () => {
    const f = fixtures();
    const write = answersSignedAs(f.service, f.rsaService);
    expect(signerOf(write(ANSWER, { request: signedBy(f.alice) }))).to.equal('rsa');
    expect(signerOf(write(ANSWER, { request: signedBy(f.service) }))).to.equal('ec');
    expect(signerOf(write(ANSWER, { request: request(UNSIGNED) }))).to.equal('ec');
    expect(signerOf(write(ANSWER, {}))).to.equal('ec');
    expect(signerOf(write(ANSWER))).to.equal('ec');
    const rsaToken = new X509Certificate(f.rsaService.certPem).raw.toString('base64');
    expect(write(ANSWER, { request: signedBy(f.alice) })).to.include(`>${rsaToken}</wsse:BinarySecurityToken>`);
  });

  it('signs everything with the EC certificate when the service has no RSA one', () => {
    const f = fixtures();
    const write = answersSignedAs(f.service);
    expect(signerOf(write(ANSWER, { request: signedBy(f.alice) }))).to.equal('ec');
  });
});
