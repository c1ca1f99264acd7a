/**
 * Interop: a node-soap client built from Amazon's own EC2 2010-08-31 WSDL, with nothing changed but
 * the endpoint, drives the whole volume/snapshot life cycle against the real frontend and Volume
 * Delegate processes. This is the promise in wsdl/frontend.wsdl: an EC2 client works as it is, once
 * it signs its requests (WS-Security X.509, as EC2's SOAP API required): here as alice, with
 * node-soap's WSSecurityCert in its `wsu:Id` mode (idMode 'wssecurity').
 */
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { expect } from 'chai';
import { createClientAsync, type Client } from 'soap';
import { requireExternalFile } from '../support/external-file.js';
import { EC2_WSDL } from '../support/repo.js';
import { startCluster, type Cluster } from '../support/services.js';
import { frontendRsaCertPem, signedBy } from '../security/e2e/signed-answer.js';
import { signAs } from './node-soap-signing.js';
import { defineLifecycle, items, nodeSoapApi, text, until, ZONE, type Ec2Api } from './ec2-lifecycle.js';

describe("interop: node-soap client from Amazon's EC2 2010-08-31 WSDL", function () {
  this.timeout(40_000);
  let wsdlPath = '';
  let cluster: Cluster | undefined;
  let agent: Agent | undefined;
  let client: Client | undefined;
  let api: Ec2Api | undefined;

  before(async function () {
    this.timeout(30_000);
    // First: without the WSDL the whole describe is skipped (or fails under CI) before anything starts.
    wsdlPath = requireExternalFile(this, EC2_WSDL);
    cluster = await startCluster();
    agent = new Agent({ ca: cluster.caPem });
    client = await createClientAsync(wsdlPath, { endpoint: cluster.ec2Url });
    signAs(client, cluster.users.alice, 'wssecurity');
    api = nodeSoapApi(client, agent);
  });

  after(async () => {
    agent?.destroy();
    await cluster?.stop();
  });

  const ready = (): Ec2Api => api ?? expect.fail('no client');

  it("is Amazon's WSDL, with only the endpoint pointed at VBS", async () => {
    const wsdl = readFileSync(wsdlPath, 'utf8');
    expect(wsdl).to.include('<soap:address location="https://ec2.amazonaws.com/"/>');
    const c = client ?? expect.fail('no client');
    const described: unknown = c.describe();
    const port =
      (described as Record<string, Record<string, Record<string, unknown>>>)['AmazonEC2']?.['AmazonEC2Port'] ?? {};
    // The whole EC2 API of 2010, not just the EBS part VBS serves.
    expect(Object.keys(port)).to.include.members(['RunInstances', 'CreateVolume', 'DescribeSnapshots']);
    expect(Object.keys(port).length).to.be.above(80);
    const zones = await ready().call('DescribeAvailabilityZones', { availabilityZoneSet: {} });
    expect(zones).to.have.property('requestId');
    expect(c.lastEndpoint).to.equal(cluster?.ec2Url);
    // Signed with wsu:Id; answered, signed by the frontend.
    expect(c.lastRequest ?? '').to.match(/<soap:Body [^>]*wsu:Id="/);
    // node-soap types lastResponse as any; it is the answer's text.
    const answer: unknown = c.lastResponse;
    const answerText = typeof answer === 'string' ? answer : expect.fail('node-soap kept no answer text');
    expect(signedBy(answerText, frontendRsaCertPem(cluster?.home ?? expect.fail('no cluster')))).to.equal(
      'signed:signer',
    );
  });

  it('sends EC2-shaped requests only (no VBS extension elements)', async () => {
    const c = client ?? expect.fail('no client');
    const created = await ready().call('CreateVolume', { size: '1', availabilityZone: ZONE });
    const sent = c.lastRequest ?? '';
    expect(sent).to.match(/<CreateVolume xmlns="http:\/\/ec2\.amazonaws\.com\/doc\/2010-08-31\/">/);
    expect(sent).to.not.include('volumeType');
    // And the answers carry only Amazon's elements, so a strict client has nothing to refuse.
    expect(c.lastResponse ?? '')
      .to.include('CreateVolumeResponse')
      .and.not.include('volumeType');
    const id = text(created, 'volumeId');
    // Clean up at once so that the life cycle below sees only its own volumes.
    const status = async (): Promise<string> =>
      text(
        items(await ready().call('DescribeVolumes', { volumeSet: { item: [{ volumeId: id }] } }), 'volumeSet')[0] ??
          expect.fail('not listed'),
        'status',
      );
    expect(await until('volume created', status, (s) => s !== 'creating')).to.equal('available');
    expect((await ready().call('DeleteVolume', { volumeId: id }))['return']).to.equal(true);
  });

  defineLifecycle(ready, 'node-soap EC2-WSDL interop');
});
