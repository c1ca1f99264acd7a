/**
 * Which of the frontend's keys signs an answer, through the REAL running frontend (startCluster): a
 * request signed with RSA (every user's) is answered with rsa-sha256 by HOME/certs/frontend.rsa.pem
 * (CN frontend, issued by the VBS CA, an RSA key), faults too, so that clients that verify only RSA
 * (stock gSOAP 2.8) can check it; a request signed with EC P-256 (a service's) and one with no
 * signature are answered with ecdsa-sha256 by frontend.pem. Each answer is checked by VBS's verifier
 * and by xmlsec1 (expectFrontendSigned), and its BinarySecurityToken must be that certificate.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { envelope, type RawAnswer } from '../../support/raw-soap.js';
import { startCluster, type Cluster } from '../../support/services.js';
import { ifMade } from '../../support/if-made.js';
import { answerOf, ec2Body, expectFrontendSigned, post, signedPost, UNKNOWN_VOLUME } from './e2e-helpers.js';
import { frontendCertPem, frontendRsaCertPem } from './signed-answer.js';

function tokenOf(raw: RawAnswer): string | undefined {
  return /<wsse:BinarySecurityToken [^>]*>([^<]*)<\/wsse:BinarySecurityToken>/.exec(raw.body)?.[1];
}

describe("e2e: the frontend answers in the signer's kind of key", function () {
  this.timeout(60_000);
  let cluster: Cluster | undefined;
  const live = (): Cluster => cluster ?? expect.fail('no cluster');

  before(async () => {
    cluster = await startCluster();
  });
  after(async () => {
    await ifMade(cluster)?.stop();
  });

  it('has a second certificate for RSA signers: CN frontend, an RSA key, from the VBS CA, for serverAuth', () => {
    const certs = join(live().home, 'certs');
    const rsa = new X509Certificate(frontendRsaCertPem(live().home));
    const ec = new X509Certificate(frontendCertPem(live().home));
    const ca = new X509Certificate(readFileSync(join(certs, 'ca.pem')));
    expect(rsa.subject).to.equal('CN=frontend');
    expect(rsa.publicKey.asymmetricKeyType).to.equal('rsa');
    expect(rsa.publicKey.asymmetricKeyDetails?.modulusLength).to.equal(2048);
    expect(ec.publicKey.asymmetricKeyType, 'the TLS and service certificate stays EC').to.equal('ec');
    expect(rsa.checkIssued(ca) && rsa.verify(ca.publicKey)).to.equal(true);
    expect(rsa.keyUsage).to.include('1.3.6.1.5.5.7.3.1');
    expect(statSync(join(certs, 'frontend.rsa-key.pem')).mode & 0o777).to.equal(0o600);
  });

  it('answers a request signed with RSA (a user) with rsa-sha256 by frontend.rsa.pem, faults too', async () => {
    const rsaToken = new X509Certificate(frontendRsaCertPem(live().home)).raw.toString('base64');
    const ok = await signedPost(live(), live().users.alice, ec2Body('DescribeVolumes', { volumeSet: {} }));
    expect(answerOf(ok)).to.deep.include({ status: 200, element: 'DescribeVolumesResponse' });
    await expectFrontendSigned(live(), ok, 'rsa');
    expect(tokenOf(ok)).to.equal(rsaToken);
    const fault = await signedPost(
      live(),
      live().users.bob,
      ec2Body('DescribeVolumes', { volumeSet: { item: [{ volumeId: UNKNOWN_VOLUME }] } }),
    );
    expect(answerOf(fault)).to.deep.include({ element: 'Fault', code: 'InvalidVolume.NotFound' });
    await expectFrontendSigned(live(), fault, 'rsa');
    expect(tokenOf(fault)).to.equal(rsaToken);
  });

  it('answers a request signed with EC P-256 (a service key), and an unsigned one, with ecdsa-sha256 by frontend.pem', async () => {
    const ecToken = new X509Certificate(frontendCertPem(live().home)).raw.toString('base64');
    const certs = join(live().home, 'certs');
    const delegate = {
      certPem: readFileSync(join(certs, 'volume-delegate-vd-1.pem'), 'utf8'),
      keyPem: readFileSync(join(certs, 'volume-delegate-vd-1-key.pem'), 'utf8'),
    };
    // A service certificate is no user: refused, and the refusal is signed in the caller's kind.
    const ec = await signedPost(live(), delegate, ec2Body('DescribeVolumes', { volumeSet: {} }));
    expect(answerOf(ec)).to.deep.include({ element: 'Fault', code: 'AuthFailure' });
    await expectFrontendSigned(live(), ec, 'ec');
    expect(tokenOf(ec)).to.equal(ecToken);
    const unsigned = await post(live(), envelope(ec2Body('DescribeVolumes', { volumeSet: {} })));
    expect(answerOf(unsigned)).to.deep.include({ element: 'Fault', code: 'AuthFailure' });
    await expectFrontendSigned(live(), unsigned, 'ec');
    expect(tokenOf(unsigned)).to.equal(ecToken);
  });
});
