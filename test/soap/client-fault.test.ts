/**
 * How SoapClient (faultOf) reads a fault, against a real HTTPS server on 127.0.0.1: the EC2 code,
 * message and request ID from the one vbs:Error element in detail (src/soap/faults.ts), and, from a
 * service that sends no such element, the code from faultcode alone.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VbsError } from '../../src/core/errors.js';
import { schema, type VolumeDelegatePortTypeOperations } from '../../src/generated/volume-delegate.js';
import { ensureServiceTls } from '../../src/security/ca/local-tls.js';
import { SoapClient, SoapFault } from '../../src/soap/client.js';
import { faultEnvelope, faultFor, plainEnvelope } from '../../src/soap/faults.js';

describe('SoapClient: reading a fault', function () {
  this.timeout(20_000);
  let dir: string;
  let server: Server;
  let client: SoapClient<VolumeDelegatePortTypeOperations>;
  let answer = '';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vbs-client-fault-'));
    const tls = ensureServiceTls(dir, 'frontend');
    server = createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(500, { 'content-type': 'text/xml' }).end(answer));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    client = new SoapClient(schema, 'VolumeDelegatePortType', { url: `https://127.0.0.1:${port}/x`, caPem: tls.caPem });
  });
  after(() => {
    client.close();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function faultSeen(): Promise<SoapFault> {
    try {
      await client.call('DescribeCapacity', {});
    } catch (e) {
      if (e instanceof SoapFault) return e;
      throw e;
    }
    return expect.fail('the call succeeded');
  }

  it("takes the code, message and request ID from detail's vbs:Error", async () => {
    answer = faultEnvelope(faultFor(new VbsError('VolumeInUse', 'in use <by> "i-1"')), 'req-42');
    const f = await faultSeen();
    expect([f.code, f.faultcode, f.message, f.requestId]).to.deep.equal([
      'VolumeInUse',
      'soap:Client.VolumeInUse',
      'in use <by> "i-1"',
      'req-42',
    ]);
    expect(f.toVbsError().code).to.equal('VolumeInUse');
  });

  it('takes the code from faultcode when detail holds no vbs:Error', async () => {
    answer = plainEnvelope(
      '<soap:Fault xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><faultcode>soap:Server.Unavailable</faultcode>' +
        '<faultstring>later</faultstring><detail><other xmlns="urn:x"><Code>NotThis</Code></other></detail></soap:Fault>',
    );
    const f = await faultSeen();
    expect([f.code, f.message, f.requestId]).to.deep.equal(['Unavailable', 'later', undefined]);
  });
});
