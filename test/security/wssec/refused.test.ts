/**
 * The attacks of guides/security.md that concern the message itself, one test each, judged on the
 * end result a client would see after parseEnvelope + verifySignedEnvelope. Most messages are validly
 * signed for what they sign (craft.ts), so each is refused for the attack and not by accident.
 * Revocation, DOCTYPE, sizes, gzip, SOAPAction and other users' IDs are tested where they are handled.
 */
import { expect } from 'chai';
import { parseEnvelope } from '../../../src/soap/envelope.js';
import { signEnvelope } from '../../../src/security/wssec/sign.js';
import { verifySignedEnvelope, type TrustedCertificate } from '../../../src/security/wssec/verify.js';
import { craft, RSA_SHA1, SHA1 } from './craft.js';
import { CREATE_VOLUME, EC2_NS, fixtures, options, outcome, scratch, tokenOf } from './helpers.js';
import { nodeSoapRequest, zeepRequest } from './interop-tools.js';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { FingerprintTrustStore } from '../../../src/security/wssec/trust-store.js';

const DELETE = `<t:DeleteVolume xmlns:t="${EC2_NS}"><t:volumeId>vol-victim</t:volumeId></t:DeleteVolume>`;
const SOAP = 'http://schemas.xmlsoap.org/soap/envelope/';
const signedBody = (text: string): string =>
  /<soap:Body[^>]*>.*<\/soap:Body>/s.exec(text)?.[0] ?? expect.fail('no Body');
const minutes = (n: number): number => n * 60_000;

describe('WS-Security: refused requests', function () {
  this.timeout(60_000);
  before(() => fixtures());

  it('accepts the honest messages the attacks below start from (control)', () => {
    expect(outcome(signEnvelope(CREATE_VOLUME, fixtures().alice))).to.equal('accepted:alice');
    expect(outcome(craft({ signer: fixtures().alice }))).to.equal('accepted:alice');
  });

  it('refuses an unsigned request, and a Security header without a Signature', () => {
    expect(outcome(`<s:Envelope xmlns:s="${SOAP}"><s:Body>${CREATE_VOLUME}</s:Body></s:Envelope>`)).to.match(
      /^AuthFailure: The request is not signed/,
    );
    const noSignature = signEnvelope(CREATE_VOLUME, fixtures().alice).replace(/<ds:Signature .*<\/ds:Signature>/s, '');
    expect(outcome(noSignature)).to.match(/^AuthFailure: The request is not signed/);
  });

  it('refuses a tampered Body', () => {
    const signed = signEnvelope(CREATE_VOLUME, fixtures().alice);
    expect(outcome(signed.replace('<t:size>1</t:size>', '<t:size>1000</t:size>'))).to.equal(
      'AuthFailure: The signed Body was changed after it was signed.',
    );
  });

  it('refuses wrapping: the signed Body moved into a header, an attacker Body in its place', () => {
    const signed = signEnvelope(CREATE_VOLUME, fixtures().alice);
    const body = signedBody(signed);
    const wrapped = signed
      .replace(body, `<soap:Body>${DELETE}</soap:Body>`)
      .replace('</soap:Header>', `<w:Wrapper xmlns:w="urn:wrap">${body}</w:Wrapper></soap:Header>`);
    expect(outcome(wrapped)).to.equal(
      'AuthFailure: The signature must cover exactly the SOAP Body and the WS-Security Timestamp, each once.',
    );
    // The same, with the attacker's Body wearing the signed Body's Id.
    const id = /wsu:Id="(Body-[^"]+)"/.exec(body)?.[1] ?? expect.fail('no Id');
    const sameId = wrapped.replace(`<soap:Body>${DELETE}`, `<soap:Body wsu:Id="${id}">${DELETE}`);
    expect(outcome(sameId)).to.equal('AuthFailure: The request uses the same Id on more than one element.');
  });

  it('refuses wrapping: a second Body, before or after the signed one', () => {
    const signed = signEnvelope(CREATE_VOLUME, fixtures().alice);
    const body = signedBody(signed);
    expect(outcome(signed.replace(body, `<soap:Body>${DELETE}</soap:Body>${body}`))).to.match(
      /^InvalidRequest: .*exactly one Body/,
    );
    expect(outcome(signed.replace(body, `${body}<soap:Body>${DELETE}</soap:Body>`))).to.match(
      /^InvalidRequest: .*exactly one Body/,
    );
  });

  it('refuses wrapping: a Body in another namespace beside the signed one', () => {
    const signed = signEnvelope(CREATE_VOLUME, fixtures().alice);
    const body = signedBody(signed);
    expect(outcome(signed.replace(body, `<e:Body xmlns:e="urn:evil">${DELETE}</e:Body>${body}`))).to.match(
      /^InvalidRequest: .*unexpected element Body/,
    );
    // Or the signed Body hidden in the other namespace's Body, the attacker's in the SOAP one.
    const hidden = signed.replace(body, `<e:Body xmlns:e="urn:evil">${body}</e:Body><soap:Body>${DELETE}</soap:Body>`);
    expect(outcome(hidden)).to.match(/^InvalidRequest: /);
  });

  it('refuses an expired Timestamp, and one older than 5 minutes whatever its Expires says', () => {
    const { alice } = fixtures();
    expect(outcome(signEnvelope(CREATE_VOLUME, alice, { now: new Date(Date.now() - minutes(6)) }))).to.match(
      /^AuthFailure: The request Timestamp has expired/,
    );
    // node-soap writes Expires = Created + 10 min; the 5-minute rule still applies.
    const now = Date.now();
    const long = craft({
      signer: alice,
      timestamp: { created: new Date(now - minutes(6)), expires: new Date(now + minutes(4)) },
    });
    expect(outcome(long)).to.match(/^AuthFailure: The request Timestamp has expired/);
  });

  it('refuses a Timestamp from the future (beyond the allowed clock skew)', () => {
    const signed = signEnvelope(CREATE_VOLUME, fixtures().alice, { now: new Date(Date.now() + minutes(2)) });
    expect(outcome(signed)).to.equal('AuthFailure: The request Timestamp is in the future; check the client clock.');
    expect(outcome(signed, options({ clockSkewSeconds: 180 }))).to.equal('accepted:alice');
  });

  it('refuses a missing Timestamp (node-soap with hasTimeStamp false; and crafted)', async () => {
    const sent = await nodeSoapRequest(fixtures().alice, { hasTimeStamp: false });
    expect(sent).to.not.include('Timestamp');
    expect(outcome(sent)).to.equal('AuthFailure: A signed wsu:Timestamp is required in the WS-Security header.');
    expect(outcome(craft({ signer: fixtures().alice, timestamp: null }))).to.equal(
      'AuthFailure: A signed wsu:Timestamp is required in the WS-Security header.',
    );
  });

  it('refuses a Timestamp that is not signed (only the Body referenced)', async () => {
    const crafted = craft({ signer: fixtures().alice, references: ['Body-1'] });
    expect(outcome(crafted)).to.equal(
      'AuthFailure: The signature must cover exactly the SOAP Body and the WS-Security Timestamp, each once.',
    );
    const sent = await nodeSoapRequest(fixtures().alice, { excludeReferencesFromSigning: ['Timestamp'] });
    expect(outcome(sent)).to.equal(
      'AuthFailure: The signature must cover exactly the SOAP Body and the WS-Security Timestamp, each once.',
    );
  });

  it('refuses a replay, also with the SignatureValue re-encoded', () => {
    const opts = options();
    const signed = signEnvelope(CREATE_VOLUME, fixtures().alice);
    expect(outcome(signed, opts)).to.equal('accepted:alice');
    expect(outcome(signed, opts)).to.equal('AuthFailure: This request was already received; sign each request anew.');
    const wrapped = signed.replace(
      /<ds:SignatureValue>([^<]+)</,
      (_m, v: string) => `<ds:SignatureValue>${v.replace(/(.{64})/g, '$1\n')}<`,
    );
    expect(wrapped).to.not.equal(signed);
    expect(outcome(wrapped)).to.equal('accepted:alice');
    expect(outcome(wrapped, opts)).to.equal('AuthFailure: This request was already received; sign each request anew.');
  });

  it('refuses an unknown certificate (issued by the same CA, not enrolled)', () => {
    expect(outcome(signEnvelope(CREATE_VOLUME, fixtures().mallory))).to.equal(
      'AuthFailure: The signing certificate is not enrolled with this service.',
    );
  });

  it('refuses an unknown certificate in KeyInfo beside a trusted token, and the reverse', () => {
    const { alice, mallory } = fixtures();
    const x509Data = (pem: string): string =>
      `<ds:X509Data><ds:X509Certificate>${tokenOf(pem)}</ds:X509Certificate></ds:X509Data>`;
    const str = '<wsse:SecurityTokenReference><wsse:Reference URI="#X509-1"/></wsse:SecurityTokenReference>';
    // Signed by mallory, alice's trusted certificate in the token, mallory's own in KeyInfo.
    expect(
      outcome(craft({ signer: mallory, tokenCertPem: alice.certPem, keyInfo: x509Data(mallory.certPem) + str })),
    ).to.match(/^AuthFailure: KeyInfo must hold exactly one SecurityTokenReference/);
    // Without the extra certificate: the trusted token's key does not match the signature.
    expect(outcome(craft({ signer: mallory, tokenCertPem: alice.certPem }))).to.equal(
      'AuthFailure: The signature does not verify with the signing certificate.',
    );
    // The reverse: mallory's certificate in the token, alice's in KeyInfo.
    expect(outcome(craft({ signer: mallory, keyInfo: x509Data(alice.certPem) }))).to.match(
      /^AuthFailure: KeyInfo must hold exactly one SecurityTokenReference/,
    );
    expect(outcome(craft({ signer: mallory, keyInfo: str + x509Data(alice.certPem) }))).to.match(
      /^AuthFailure: KeyInfo must hold exactly one SecurityTokenReference/,
    );
  });

  it('refuses a self-signed certificate that reuses an enrolled subject name', () => {
    const { impostor, alice } = fixtures();
    expect(new X509Certificate(impostor.certPem).subject).to.equal(new X509Certificate(alice.certPem).subject);
    const signed = signEnvelope(CREATE_VOLUME, impostor);
    expect(outcome(signed)).to.equal('AuthFailure: The signing certificate is not enrolled with this service.');
    // Even a trust store that wrongly looks up by subject name does not let it through.
    const aliceEntry: TrustedCertificate = { x509: new X509Certificate(alice.certPem), userId: 'alice' };
    const bySubject = (der: Buffer): TrustedCertificate | undefined =>
      new X509Certificate(der).subject === aliceEntry.x509.subject ? aliceEntry : undefined;
    expect(outcome(signed, options({ resolveCertificate: bySubject }))).to.equal(
      'AuthFailure: The signing certificate is not enrolled with this service.',
    );
  });

  it('refuses a comment inside DigestValue', () => {
    const signed = signEnvelope(CREATE_VOLUME, fixtures().alice);
    const commented = signed.replace(/<ds:DigestValue>(.{10})/, '<ds:DigestValue>$1<!---->');
    expect(commented).to.not.equal(signed);
    expect(outcome(commented)).to.equal('AuthFailure: The DigestValue must contain only text.');
  });

  it('refuses two References to one Id', () => {
    const { alice } = fixtures();
    const expected =
      'AuthFailure: The signature must cover exactly the SOAP Body and the WS-Security Timestamp, each once.';
    expect(outcome(craft({ signer: alice, references: ['Body-1', 'Body-1'] }))).to.equal(expected);
    expect(outcome(craft({ signer: alice, references: ['TS-1', 'Body-1', 'Body-1'] }))).to.equal(expected);
    expect(outcome(craft({ signer: alice, references: ['TS-1', 'Body-1', 'X509-1'] }))).to.equal(expected);
  });

  it('refuses duplicate Ids anywhere in the document, in any Id-like attribute', () => {
    const { alice } = fixtures();
    const expected = 'AuthFailure: The request uses the same Id on more than one element.';
    expect(outcome(craft({ signer: alice, extraHeader: '<x:Other xmlns:x="urn:x" wsu:Id="Body-1"/>' }))).to.equal(
      expected,
    );
    expect(outcome(craft({ signer: alice, extraHeader: '<x:Other xmlns:x="urn:x" Id="TS-1"/>' }))).to.equal(expected);
    expect(outcome(craft({ signer: alice, extraHeader: '<x:Other xmlns:x="urn:x" id="Body-1"/>' }))).to.equal(expected);
    expect(
      outcome(
        craft({
          signer: alice,
          body: `<t:CreateVolume xmlns:t="${EC2_NS}" ID="X509-1"><t:size>1</t:size></t:CreateVolume>`,
        }),
      ),
    ).to.equal(expected);
  });

  it("refuses rsa-sha1 by default and accepts it with allowSha1 (zeep's default algorithms; and crafted)", async () => {
    const sent = await zeepRequest(fixtures().alice, true);
    expect(sent).to.include('xmldsig#rsa-sha1');
    expect(outcome(sent)).to.equal(
      'AuthFailure: The signature method uses SHA-1, which this service does not accept; use SHA-256.',
    );
    expect(outcome(sent, options({ allowSha1: true }))).to.equal('accepted:alice');
    const crafted = craft({ signer: fixtures().alice, signatureMethod: RSA_SHA1, digestMethod: SHA1 });
    expect(outcome(crafted)).to.match(/^AuthFailure: .*SHA-1/);
    expect(outcome(crafted, options({ allowSha1: true }))).to.equal('accepted:alice');
    // sha1 digests under an rsa-sha256 signature are the same legacy.
    expect(outcome(craft({ signer: fixtures().alice, digestMethod: SHA1 }))).to.match(
      /^AuthFailure: The digest method uses SHA-1/,
    );
  });

  it('refuses inclusive (non-exclusive) canonicalization', () => {
    expect(
      outcome(craft({ signer: fixtures().alice, c14n: 'http://www.w3.org/TR/2001/REC-xml-c14n-20010315' })),
    ).to.match(/^AuthFailure: Only exclusive XML canonicalization/);
    expect(
      outcome(craft({ signer: fixtures().alice, c14n: 'http://www.w3.org/2001/10/xml-exc-c14n#WithComments' })),
    ).to.match(/^AuthFailure: Only exclusive XML canonicalization/);
  });

  it('refuses a second Signature or Security header anywhere, and unknown elements in Security', () => {
    const { alice } = fixtures();
    const second = '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"/>';
    expect(outcome(craft({ signer: alice, extraHeader: `<x:H xmlns:x="urn:x">${second}</x:H>` }))).to.equal(
      'AuthFailure: The request must carry exactly one signature.',
    );
    expect(outcome(craft({ signer: alice, extraHeader: '<wsse:Security/>' }))).to.equal(
      'AuthFailure: The request must carry exactly one WS-Security header, in the SOAP Header.',
    );
    expect(
      outcome(craft({ signer: alice, body: `<t:CreateVolume xmlns:t="${EC2_NS}"><wsse:Security/></t:CreateVolume>` })),
    ).to.equal('AuthFailure: The request must carry exactly one WS-Security header, in the SOAP Header.');
    expect(outcome(craft({ signer: alice, extraSecurity: '<wsse:UsernameToken/>' }))).to.equal(
      'AuthFailure: The WS-Security header holds an element this service does not support (UsernameToken).',
    );
  });

  it('refuses a token outside the Security header and a SecurityTokenReference to something else', () => {
    const { alice } = fixtures();
    const keyInfo = (uri: string): string =>
      `<wsse:SecurityTokenReference><wsse:Reference URI="${uri}"/></wsse:SecurityTokenReference>`;
    expect(outcome(craft({ signer: alice, keyInfo: keyInfo('#TS-1') }))).to.match(
      /^AuthFailure: The SecurityTokenReference must point/,
    );
    expect(outcome(craft({ signer: alice, keyInfo: keyInfo('http://evil.example/cert') }))).to.match(
      /^AuthFailure: The SecurityTokenReference must point/,
    );
    const outside =
      `<wsse:BinarySecurityToken xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" ` +
      `ValueType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3" wsu:Id="X509-2">${tokenOf(alice.certPem)}</wsse:BinarySecurityToken>`;
    expect(
      outcome(
        craft({ signer: alice, extraHeader: `<x:H xmlns:x="urn:x">${outside}</x:H>`, keyInfo: keyInfo('#X509-2') }),
      ),
    ).to.match(/^AuthFailure: The SecurityTokenReference must point/);
  });

  it('refuses a trusted certificate whose key is neither RSA of 2048 bits or more nor EC P-256, or not the kind its SignatureMethod names', () => {
    const cases: Array<[string[], string | undefined, string]> = [
      [
        ['-newkey', 'rsa:1024'],
        undefined,
        'AuthFailure: The signing certificate must hold an RSA key of at least 2048 bits or an EC P-256 key.',
      ],
      // An EC P-256 key is usable, but not to check a signature labelled rsa-sha256 (craft's default label).
      [
        ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
        'der',
        'AuthFailure: The SignatureMethod is for RSA keys; the signing certificate holds EC P-256.',
      ],
    ];
    for (const [keyArgs, ecdsaEncoding, expected] of cases) {
      const files = scratch({});
      try {
        execFileSync(
          'openssl',
          [
            'req',
            '-x509',
            ...keyArgs,
            '-nodes',
            '-subj',
            '/CN=weak',
            '-days',
            '2',
            '-keyout',
            files.path('key.pem'),
            '-out',
            files.path('cert.pem'),
          ],
          { stdio: 'ignore' },
        );
        const weak = {
          certPem: readFileSync(files.path('cert.pem'), 'utf8'),
          keyPem: readFileSync(files.path('key.pem'), 'utf8'),
        };
        const store = new FingerprintTrustStore();
        store.add(weak.certPem, 'weak');
        const crafted = craft({ signer: weak, ...(ecdsaEncoding === 'der' ? { ecdsaEncoding } : {}) });
        expect(outcome(crafted, options({ resolveCertificate: store.resolve }))).to.equal(expected);
      } finally {
        files.done();
      }
    }
  });

  it('throws only VbsError AuthFailure from verifySignedEnvelope itself', () => {
    const message = parseEnvelope(signEnvelope(CREATE_VOLUME, fixtures().alice).replace('<t:size>1<', '<t:size>2<'));
    expect(() => verifySignedEnvelope(message, options()))
      .to.throw()
      .with.property('code', 'AuthFailure');
  });
});
