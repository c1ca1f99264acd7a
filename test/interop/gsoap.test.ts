/**
 * Interop: a stock gSOAP 2.8 C client (Debian gsoap + libgsoap-dev), generated from Amazon's own
 * EC2 WSDL with the wsse plugin (test/interop/gsoap-client.ts builds it), against the REAL
 * frontend's EC2 endpoint. It runs in strict mode, signs with rsa-sha256, and its wsse plugin
 * verifies every answer (soap_wsse_verify_auto: the answer's certificate must come from the VBS CA
 * and verify the signature). Two things only a client like this checks:
 *  - the answer's signature: the frontend answers an RSA signer with its RSA certificate
 *    (frontend.rsa.pem); gSOAP cannot verify an ECDSA answer at all (it passes XML-DSig's r || s to
 *    OpenSSL, which wants DER), which is what every answer was before;
 *  - a fault, read in strict mode: faultcode with the EC2 code, and detail's one element (vbs:Error);
 *    with two elements in detail gSOAP refused the fault and reported only "HTTP 500".
 *
 * Needs Amazon's WSDL (test/support/external-file.ts: skipped with a message without it, failed
 * under CI=true) and the gSOAP tools (scripts/test-deps.sh). The first run builds the client (~10 s
 * of gcc); later runs reuse it.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { requireExternalFile } from '../support/external-file.js';
import { ifMade } from '../support/if-made.js';
import { EC2_WSDL } from '../support/repo.js';
import { startCluster, type Cluster } from '../support/services.js';
import { ec2Client } from '../support/ec2-client.js';
import { gsoapClient, missingGsoapTools } from './gsoap-client.js';

const run = promisify(execFile);
const UNKNOWN_VOLUME = 'vol-0123456789abcdef0';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Seen {
  readonly ok: boolean;
  readonly soapError: number;
  readonly signedBody: number;
  readonly signedTimestamp: number;
  readonly signerCn: string;
  readonly requestId?: string;
  readonly volumes?: string[];
  readonly faultcode?: string;
  readonly faultstring?: string;
  readonly detail?: string;
}

describe("interop: stock gSOAP 2.8 client from Amazon's EC2 WSDL (strict mode, wsse plugin)", function () {
  this.timeout(120_000);
  let cluster: Cluster | undefined;
  let binary = '';
  let volumeId = '';

  before(async function () {
    const wsdl = requireExternalFile(this, EC2_WSDL);
    const missing = missingGsoapTools();
    if (missing.length > 0)
      throw new Error(`gSOAP is not installed (${missing.join(', ')}): run scripts/test-deps.sh (npm test does)`);
    const built = await gsoapClient(wsdl);
    binary = built.path;
    if (built.buildMs > 0) console.log(`      (built the gSOAP client in ${(built.buildMs / 1000).toFixed(1)} s)`);
    cluster = await startCluster();
    const alice = ec2Client(cluster, 'alice');
    try {
      volumeId = (await alice.call('CreateVolume', { size: '1', availabilityZone: 'vbs-local-1a' })).volumeId;
    } finally {
      alice.close();
    }
  });

  after(async () => {
    await ifMade(cluster)?.stop();
  });

  async function describe_(volume: string): Promise<Seen> {
    const c = cluster ?? expect.fail('no cluster');
    const home = c.home;
    const { stdout } = await run(binary, [
      c.ec2Url,
      `${home}/certs/ca.pem`,
      `${home}/users/alice/alice.key`,
      `${home}/users/alice/alice.pem`,
      volume,
    ]);
    return JSON.parse(stdout.trim()) as Seen;
  }

  it("verifies the frontend's signature on an answer (rsa-sha256, its certificate from the VBS CA)", async () => {
    const seen = await describe_('-');
    expect(seen, JSON.stringify(seen)).to.deep.include({
      ok: true,
      soapError: 0,
      signedBody: 1,
      signedTimestamp: 1,
      signerCn: 'frontend',
    });
    expect(seen.volumes).to.deep.equal([volumeId]);
    expect(seen.requestId).to.match(UUID);
  });

  it('reads a fault in strict mode: the EC2 code in faultcode, one vbs:Error in detail, its signature verified', async () => {
    const seen = await describe_(UNKNOWN_VOLUME);
    expect(seen, JSON.stringify(seen)).to.deep.include({
      ok: false,
      signedBody: 1,
      signedTimestamp: 1,
      signerCn: 'frontend',
      faultcode: 'SOAP-ENV:Client.InvalidVolume.NotFound',
      faultstring: `The volume '${UNKNOWN_VOLUME}' does not exist.`,
    });
    const detail = seen.detail ?? '';
    expect(detail).to.match(/^<vbs:Error xmlns:vbs="urn:vbs:fault:2026-11">/);
    expect(detail).to.include('<vbs:Code>InvalidVolume.NotFound</vbs:Code>');
    expect(detail).to.include(`<vbs:Message>The volume '${UNKNOWN_VOLUME}' does not exist.</vbs:Message>`);
    expect(/<vbs:RequestID>([^<]*)<\/vbs:RequestID>/.exec(detail)?.[1]).to.match(UUID);
  });
});
