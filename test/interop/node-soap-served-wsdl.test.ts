/**
 * Interop: a node-soap client built only from the WSDL the running frontend serves (https …/vbs?wsdl),
 * trusting only the cluster's CA, drives the whole volume/snapshot life cycle against the real
 * frontend and Volume Delegate processes. It signs as alice with node-soap's WSSecurityCert in its
 * default Id mode (plain `Id`), as a node-soap user would, and checks that the answers it gets are
 * signed by the frontend's service certificate.
 */
import { readFileSync } from 'node:fs';
import { Agent, get } from 'node:https';
import { join } from 'node:path';
import { expect } from 'chai';
import { createClientAsync } from 'soap';
import { ifMade } from '../support/if-made.js';
import { REPO_ROOT } from '../support/repo.js';
import { startCluster, type Cluster } from '../support/services.js';
import { frontendRsaCertPem, signedBy } from '../security/e2e/signed-answer.js';
import { defineLifecycle, nodeSoapApi, type Ec2Api } from './ec2-lifecycle.js';
import { signAs } from './node-soap-signing.js';

const OPERATIONS = [
  'AttachVolume',
  'CreateSnapshot',
  'CreateVolume',
  'DeleteSnapshot',
  'DeleteVolume',
  'DescribeAvailabilityZones',
  'DescribeSnapshots',
  'DescribeVolumes',
  'DetachVolume',
];

function fetchText(url: string, agent: Agent): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'] ?? '', body }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

describe('interop: node-soap client from the served WSDL', function () {
  this.timeout(40_000);
  let cluster: Cluster | undefined;
  let agent: Agent;
  let api: Ec2Api | undefined;

  before(async function () {
    this.timeout(30_000);
    cluster = await startCluster();
    agent = new Agent({ ca: cluster.caPem });
    const client = await createClientAsync(`${cluster.frontendUrl}?wsdl`, { wsdl_options: { httpsAgent: agent } });
    signAs(client, cluster.users.alice);
    api = nodeSoapApi(client, agent);
  });

  after(async () => {
    ifMade(agent)?.destroy();
    await cluster?.stop();
  });

  const ready = (): Ec2Api => api ?? expect.fail('no client');

  it('serves its WSDL with soap:address rewritten to the real endpoint, otherwise as in wsdl/frontend.wsdl', async () => {
    const url = cluster?.frontendUrl ?? expect.fail('no cluster');
    const port = new URL(url).port;
    expect(port).to.match(/^\d+$/).and.not.equal('8443');
    const served = await fetchText(`${url}?wsdl`, agent);
    expect(served.status).to.equal(200);
    expect(served.type).to.match(/^text\/xml/);
    const locations = [...served.body.matchAll(/<soap:address location="([^"]*)"/g)].map((m) => m[1]);
    expect(locations).to.deep.equal([url]);
    expect(new URL(locations[0] ?? '').port).to.equal(port);
    const source = readFileSync(join(REPO_ROOT, 'wsdl', 'frontend.wsdl'), 'utf8');
    expect(served.body).to.equal(source.replace(/(<soap:address location=")[^"]*(")/, `$1${url}$2`));
  });

  it('gives node-soap all nine EBS operations and sends them to the advertised address', async () => {
    const c = cluster ?? expect.fail('no cluster');
    const url = c.frontendUrl;
    const client = await createClientAsync(`${url}?wsdl`, { wsdl_options: { httpsAgent: agent } });
    signAs(client, c.users.alice);
    const described: unknown = client.describe();
    const port =
      (described as Record<string, Record<string, Record<string, unknown>>>)['AmazonEC2']?.['AmazonEC2Port'] ?? {};
    expect(Object.keys(port).sort()).to.deep.equal(OPERATIONS);
    // No endpoint was given to the client: it must have taken the served soap:address.
    await nodeSoapApi(client, agent).call('DescribeAvailabilityZones', { availabilityZoneSet: {} });
    expect(client.lastEndpoint).to.equal(url);
    // The request went out signed (plain Id), and the answer came back signed by the frontend.
    expect(client.lastRequest ?? '')
      .to.match(/<soap:Body [^>]*\bId="/)
      .and.include('xmldsig-more#rsa-sha256');
    // node-soap types lastResponse as any; it is the answer's text.
    const answer: unknown = client.lastResponse;
    const answerText = typeof answer === 'string' ? answer : expect.fail('node-soap kept no answer text');
    expect(signedBy(answerText, frontendRsaCertPem(c.home))).to.equal('signed:signer');
  });

  defineLifecycle(ready, 'node-soap served-WSDL interop');
});
