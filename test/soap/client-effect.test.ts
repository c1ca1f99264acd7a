/**
 * What a failed call of SoapClient says about its effect, against real sockets on 127.0.0.1: a
 * refused connection had none (nothing was sent), a service that took the request and then said
 * nothing, or closed the connection, may have acted on it ('unknown'). The frontend retries or
 * places a job elsewhere only after 'none'.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { schema, type VolumeDelegatePortTypeOperations } from '../../src/generated/volume-delegate.js';
import { ensureServiceTls } from '../../src/security/ca/local-tls.js';
import { SoapClient, TransportError } from '../../src/soap/client.js';

async function effectOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof TransportError) return e.effect;
    throw e;
  }
  return 'answered';
}

describe('SoapClient: the effect of a failed call', function () {
  this.timeout(20_000);
  let dir: string;
  let caPem: string;
  let certPem: string;
  let keyPem: string;
  const servers: Server[] = [];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'vbs-effect-'));
    ({ caPem, certPem, keyPem } = ensureServiceTls(dir, 'frontend'));
  });
  after(() => {
    for (const s of servers) s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const client = (port: number, timeoutMs = 500): SoapClient<VolumeDelegatePortTypeOperations> =>
    new SoapClient(schema, 'VolumeDelegatePortType', { url: `https://127.0.0.1:${port}/x`, caPem, timeoutMs });

  async function listen(
    handler: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void,
  ): Promise<number> {
    const server = createHttpsServer({ cert: certPem, key: keyPem }, handler);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  }

  it("is 'none' when nothing listens: the request never left", async () => {
    const probe = createNetServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    expect(await effectOf(client(port).call('DescribeCapacity', {}))).to.equal('none');
  });

  it("is 'none' when TLS is never established (a plain TCP listener that says nothing)", async () => {
    const silent = createNetServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const port = (silent.address() as AddressInfo).port;
      expect(await effectOf(client(port, 300).call('DescribeCapacity', {}))).to.equal('none');
    } finally {
      silent.close();
    }
  });

  it("is 'unknown' when the service took the request and did not answer in time", async () => {
    const received: string[] = [];
    const port = await listen((req) => {
      req.on('data', (d: Buffer) => received.push(d.toString()));
    });
    expect(await effectOf(client(port, 300).call('DescribeCapacity', {}))).to.equal('unknown');
    expect(received.join(''), 'the request did arrive').to.include('DescribeCapacity');
  });

  it("is 'unknown' when the service closed the connection after reading the request", async () => {
    const port = await listen((req) => {
      req.on('end', () => req.socket.destroy());
      req.resume();
    });
    expect(await effectOf(client(port).call('DescribeCapacity', {}))).to.equal('unknown');
  });

  it("is 'unknown' when the answer is not SOAP", async () => {
    const port = await listen((req, res) => {
      req.resume();
      res.writeHead(502, { 'content-type': 'text/plain' }).end('bad gateway');
    });
    expect(await effectOf(client(port).call('DescribeCapacity', {}))).to.equal('unknown');
  });
});
