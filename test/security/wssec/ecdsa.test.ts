/**
 * ECDSA P-256, the services' signatures (every answer, frontend ↔ delegate calls): an envelope
 * signed with an EC service key must pass our verifier, xmlsec1 and zeep; a signature is checked only
 * with the key kind its SignatureMethod names (an EC key never checks a value labelled rsa-sha256, an
 * RSA key never one labelled ecdsa-sha256); only P-256 among the curves; the value must be XML-DSig's
 * r || s, not DER; and (r, n - s), the twin every ECDSA signature has, is a replay, not a new message.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { MemoryReplayCache, type ReplayCache } from '../../../src/security/wssec/replay-cache.js';
import { signEnvelope } from '../../../src/security/wssec/sign.js';
import { FingerprintTrustStore } from '../../../src/security/wssec/trust-store.js';
import type { VerifyOptions } from '../../../src/security/wssec/verify.js';
import { serviceResolver } from '../../../src/security/truststore/service-trust.js';
import { craft, ECDSA_SHA256, RSA_SHA256 } from './craft.js';
import { CREATE_VOLUME, fixtures, options, outcome, scratch, type Identity } from './helpers.js';
import { xmlsec1Verifies, zeepEcdsaRequest, zeepVerifies } from './interop-tools.js';

/** The order of P-256's group. */
const P256_N = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');
/** Ours writes ds:SignatureValue; zeep (xmlsec) a default-namespace SignatureValue, its base64 in lines. */
const VALUE = /<(ds:)?SignatureValue>([^<]+)<\/(?:ds:)?SignatureValue>/;
const MISMATCH_RSA = 'AuthFailure: The SignatureMethod is for RSA keys; the signing certificate holds EC P-256.';
const MISMATCH_EC = 'AuthFailure: The SignatureMethod is for EC P-256 keys; the signing certificate holds RSA.';
const UNUSABLE = 'AuthFailure: The signing certificate must hold an RSA key of at least 2048 bits or an EC P-256 key.';

/** Replays are the subject of one test only, which brings its own cache (made before it signs). */
const NO_REPLAY_CHECK: ReplayCache = { record: () => 'new', since: 0 };

/** What the frontend's peers do: trust a service certificate the VBS CA issued, named frontend. */
function asService(overrides: Partial<VerifyOptions> = {}): VerifyOptions {
  return options({
    resolveCertificate: serviceResolver(fixtures().ca.certPem, (cn) => cn === 'frontend'),
    replayCache: NO_REPLAY_CHECK,
    ...overrides,
  });
}

function signatureValueOf(xml: string): Buffer {
  return Buffer.from((VALUE.exec(xml)?.[2] ?? expect.fail('no SignatureValue')).replace(/\s+/g, ''), 'base64');
}

function withSignatureValue(xml: string, value: Buffer): string {
  return xml.replace(
    VALUE,
    (_m, ds: string | undefined) =>
      `<${ds ?? ''}SignatureValue>${value.toString('base64')}</${ds ?? ''}SignatureValue>`,
  );
}

/** r || s as a DER SEQUENCE of two INTEGERs: the same signature, in the encoding XML-DSig does not use. */
function derOf(p1363: Buffer): Buffer {
  const integer = (half: Buffer): Buffer => {
    let i = 0;
    while (i < half.length - 1 && half[i] === 0) i++;
    const digits = (half[i] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), half.subarray(i)]) : half.subarray(i);
    return Buffer.concat([Buffer.from([0x02, digits.length]), digits]);
  };
  const body = Buffer.concat([integer(p1363.subarray(0, 32)), integer(p1363.subarray(32))]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

/** (r, n - s): verifies exactly as (r, s) does. */
function twinOf(p1363: Buffer): Buffer {
  const s = BigInt(`0x${p1363.subarray(32).toString('hex')}`);
  return Buffer.concat([p1363.subarray(0, 32), Buffer.from((P256_N - s).toString(16).padStart(64, '0'), 'hex')]);
}

/** A self-signed certificate for a key the VBS CA would refuse to certify, made by openssl. */
function selfSigned(keyArgs: readonly string[]): Identity {
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
        '/CN=frontend',
        '-days',
        '2',
        '-keyout',
        files.path('key.pem'),
        '-out',
        files.path('cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    return {
      certPem: readFileSync(files.path('cert.pem'), 'utf8'),
      keyPem: readFileSync(files.path('key.pem'), 'utf8'),
    };
  } finally {
    files.done();
  }
}

function trusting(who: Identity): VerifyOptions {
  const store = new FingerprintTrustStore();
  store.add(who.certPem, 'frontend');
  return options({ resolveCertificate: store.resolve, replayCache: NO_REPLAY_CHECK });
}

describe('WS-Security: ECDSA P-256 service signatures', function () {
  this.timeout(60_000);
  before(() => fixtures());

  it('signEnvelope signs with ecdsa-sha256 (64-byte r || s) for an EC P-256 key and rsa-sha256 for an RSA key', () => {
    const { service, rsaService } = fixtures();
    expect(new X509Certificate(service.certPem).publicKey.asymmetricKeyDetails?.namedCurve).to.equal('prime256v1');
    const ec = signEnvelope(CREATE_VOLUME, service);
    expect(ec).to.include(`<ds:SignatureMethod Algorithm="${ECDSA_SHA256}">`);
    expect(signatureValueOf(ec)).to.have.length(64);
    const rsa = signEnvelope(CREATE_VOLUME, rsaService);
    expect(rsa).to.include(`<ds:SignatureMethod Algorithm="${RSA_SHA256}">`);
    expect(signatureValueOf(rsa)).to.have.length(256);
    expect(outcome(rsa, asService())).to.equal('accepted:frontend');
  });

  it('accepts an EC-signed envelope: our verifier, xmlsec1 and zeep; another certificate or a changed Body fails', async () => {
    const { service, rsaService } = fixtures();
    const signed = signEnvelope(CREATE_VOLUME, service);
    expect(outcome(signed, asService())).to.equal('accepted:frontend');
    expect(outcome(signed, trusting(service))).to.equal('accepted:frontend');
    expect(await xmlsec1Verifies(signed, service.certPem)).to.equal(true);
    expect(await zeepVerifies(signed, service.certPem)).to.equal(true);

    expect(await xmlsec1Verifies(signed, rsaService.certPem)).to.equal(false);
    expect(await zeepVerifies(signed, rsaService.certPem)).to.equal(false);
    const changed = signed.replace('<t:size>1<', '<t:size>2<');
    expect(outcome(changed, asService())).to.equal('AuthFailure: The signed Body was changed after it was signed.');
    expect(await xmlsec1Verifies(changed, service.certPem)).to.equal(false);
  });

  it('accepts an ecdsa-sha256 request signed by zeep + xmlsec (an independent writer of r || s)', async () => {
    const { service } = fixtures();
    const sent = await zeepEcdsaRequest(service);
    expect(sent).to.include(ECDSA_SHA256);
    expect(signatureValueOf(sent)).to.have.length(64);
    expect(outcome(sent, asService())).to.equal('accepted:frontend');
    expect(outcome(sent.replace('>1</', '>2</'), asService())).to.equal(
      'AuthFailure: The signed Body was changed after it was signed.',
    );
  });

  it('accepts crafted messages when label and key agree (control for the refusals below)', () => {
    const { service, rsaService } = fixtures();
    expect(outcome(craft({ signer: service, signatureMethod: ECDSA_SHA256 }), asService())).to.equal(
      'accepted:frontend',
    );
    expect(outcome(craft({ signer: rsaService, signatureMethod: RSA_SHA256 }), asService())).to.equal(
      'accepted:frontend',
    );
  });

  it('refuses an EC key behind an rsa-sha256 label, and an RSA key behind an ecdsa-sha256 label', () => {
    const { service, rsaService } = fixtures();
    // The ECDSA value is valid for the SignedInfo in either encoding; only the label lies.
    for (const ecdsaEncoding of ['der', 'ieee-p1363'] as const) {
      expect(outcome(craft({ signer: service, signatureMethod: RSA_SHA256, ecdsaEncoding }), asService())).to.equal(
        MISMATCH_RSA,
      );
    }
    expect(outcome(craft({ signer: rsaService, signatureMethod: ECDSA_SHA256 }), asService())).to.equal(MISMATCH_EC);
    // And the same from signEnvelope's own output, relabelled.
    const relabelled = signEnvelope(CREATE_VOLUME, service).replace(ECDSA_SHA256, RSA_SHA256);
    expect(outcome(relabelled, asService())).to.equal(MISMATCH_RSA);
  });

  it('refuses P-384 and secp256k1 keys under either label, and signEnvelope does not sign with them', () => {
    for (const curve of ['P-384', 'secp256k1']) {
      const other = selfSigned(['-newkey', 'ec', '-pkeyopt', `ec_paramgen_curve:${curve}`]);
      for (const signatureMethod of [ECDSA_SHA256, RSA_SHA256]) {
        expect(
          outcome(craft({ signer: other, signatureMethod }), trusting(other)),
          `${curve} ${signatureMethod}`,
        ).to.equal(UNUSABLE);
      }
      expect(() => signEnvelope(CREATE_VOLUME, other), curve).to.throw(/RSA of at least 2048 bits or EC P-256/);
    }
  });

  it('refuses an ECDSA SignatureValue in DER form (r || s only), and a 64-byte value that is not the signature', () => {
    const { service } = fixtures();
    const signed = signEnvelope(CREATE_VOLUME, service);
    const value = signatureValueOf(signed);
    const der = derOf(value);
    expect(der.length).to.be.within(70, 72);
    const expected =
      'AuthFailure: An ecdsa-sha256 SignatureValue must be the 64 bytes r || s of XML Signature (not DER).';
    expect(outcome(withSignatureValue(signed, der), asService())).to.equal(expected);
    expect(
      outcome(craft({ signer: service, signatureMethod: ECDSA_SHA256, ecdsaEncoding: 'der' }), asService()),
    ).to.equal(expected);
    const flipped = Buffer.from(value);
    flipped[40] = (flipped[40] ?? 0) ^ 1;
    expect(outcome(withSignatureValue(signed, flipped), asService())).to.equal(
      'AuthFailure: The signature does not verify with the signing certificate.',
    );
  });

  it('refuses the twin (r, n - s) of an accepted signature as a replay', () => {
    const { service } = fixtures();
    const seen = asService({ replayCache: new MemoryReplayCache() });
    const signed = signEnvelope(CREATE_VOLUME, service);
    const twin = withSignatureValue(signed, twinOf(signatureValueOf(signed)));
    expect(twin).to.not.equal(signed);
    // The twin is a valid signature in its own right: a service that never saw the original takes it.
    expect(outcome(twin, asService())).to.equal('accepted:frontend');
    expect(outcome(signed, seen)).to.equal('accepted:frontend');
    expect(outcome(twin, seen)).to.equal('AuthFailure: This request was already received; sign each request anew.');
  });
});
