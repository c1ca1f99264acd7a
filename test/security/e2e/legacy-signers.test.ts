/**
 * Legacy signers, through REAL running frontends: Python zeep with its DEFAULT signer
 * (BinarySignature(key, cert), no methods chosen: rsa-sha1 over sha1 digests, as EC2-era tooling
 * signed) is refused by a frontend with the default config (allowSha1Signatures off), and served by
 * one with allowSha1Signatures: true, which answers with rsa-sha256 by frontend.rsa.pem; zeep checks
 * that answer itself (its call completes only if the answer verifies against frontend.rsa.pem).
 */
import { expect } from 'chai';
import { startCluster, type Cluster } from '../../support/services.js';
import { ifMade } from '../../support/if-made.js';
import { zeepCall, zeepDefaultRequest } from '../wssec/interop-tools.js';
import { answerOf, expectFrontendSigned, expectSignedFault, picture, post } from './e2e-helpers.js';
import { frontendRsaCertPem } from './signed-answer.js';

/** The zone zeep_wssec.py asks for. */
const ZEEP_ZONE = 'zone-a';
const SHA1_REFUSED = 'The signature method uses SHA-1, which this service does not accept; use SHA-256.';

describe("e2e: legacy signers (zeep's default rsa-sha1), by the operator's choice", function () {
  this.timeout(120_000);
  let strict: Cluster | undefined;
  let legacy: Cluster | undefined;
  const live = (c: Cluster | undefined): Cluster => c ?? expect.fail('no cluster');

  before(async () => {
    [strict, legacy] = await Promise.all([
      startCluster({ frontend: { zones: [ZEEP_ZONE], workers: 1 } }),
      startCluster({ frontend: { zones: [ZEEP_ZONE], workers: 1, allowSha1Signatures: true } }),
    ]);
  });
  after(async () => {
    await Promise.all([ifMade(strict)?.stop(), ifMade(legacy)?.stop()]);
  });

  it("zeep's default signer signs with rsa-sha1 and sha1 digests", async () => {
    const request = await zeepDefaultRequest(live(strict).users.alice);
    expect(request).to.include('Algorithm="http://www.w3.org/2000/09/xmldsig#rsa-sha1"');
    expect(request).to.include('Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"');
    expect(request).to.not.include('sha256');
  });

  it('is refused with AuthFailure by the default config, and nothing is made', async () => {
    const cluster = live(strict);
    const raw = await post(cluster, await zeepDefaultRequest(cluster.users.alice), 'CreateVolume');
    expect(await expectSignedFault(cluster, raw, 'AuthFailure')).to.equal(SHA1_REFUSED);
    const failed = await zeepCall(cluster.frontendUrl, cluster.users.alice, frontendRsaCertPem(cluster.home), {
      algorithm: 'default',
      caPem: cluster.caPem,
    }).then(
      () => 'served',
      (e: unknown) => String(e),
    );
    expect(failed).to.include('SHA-1');
    expect((await picture(cluster)).volumes).to.deep.equal([]);
  });

  it('is served with allowSha1Signatures: true, its answer signed rsa-sha256 and checked by zeep', async () => {
    const cluster = live(legacy);
    const volumeId = await zeepCall(cluster.frontendUrl, cluster.users.alice, frontendRsaCertPem(cluster.home), {
      algorithm: 'default',
      caPem: cluster.caPem,
    });
    expect(volumeId).to.match(/^vol-[0-9a-f]{8,17}$/);
    const raw = await post(cluster, await zeepDefaultRequest(cluster.users.bob), 'CreateVolume');
    expect(answerOf(raw)).to.deep.include({ status: 200, element: 'CreateVolumeResponse' });
    await expectFrontendSigned(cluster, raw, 'rsa');
    // Replays of a SHA-1 request are refused like any other.
    const once = await zeepDefaultRequest(cluster.users.bob);
    expect(answerOf(await post(cluster, once, 'CreateVolume')).element).to.equal('CreateVolumeResponse');
    expect(answerOf(await post(cluster, once, 'CreateVolume')).code).to.equal('AuthFailure');
  });
});
