/**
 * What a failed call of SoapClient says about its effect, against real sockets on 127.0.0.1: a
 * refused connection had none (nothing was sent), a service that took the request and then said
 * nothing, or closed the connection, may have acted on it ('unknown'). The frontend retries or
 * places a job elsewhere only after 'none'. An answer over the client's cap is not read further.
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
  return (await failureOf(p)).effect;
}

async function failureOf(p: Promise<unknown>): Promise<{ effect: string; message: string }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof TransportError) return { effect: e.effect, message: e.message };
    throw e;
  }
  return { effect: 'answered', message: '' };
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

  const client = (
    port: number,
    timeoutMs = 500,
    maxResponseBytes?: number,
  ): SoapClient<VolumeDelegatePortTypeOperations> =>
    new SoapClient(schema, 'VolumeDelegatePortType', {
      url: `https://127.0.0.1:${port}/x`,
      caPem,
      timeoutMs,
      ...(maxResponseBytes === undefined ? {} : { maxResponseBytes }),
    });

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

  it("stops reading an answer past its cap: 'unknown', and the service sees the connection dropped", async () => {
    const cap = 1024 * 1024;
    let sent = 0;
    let dropped: Promise<boolean> = Promise.resolve(false);
    const port = await listen((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/xml' });
      // Up to 64 MiB, as fast as the client reads; it should stop reading after 1 MiB.
      dropped = new Promise((resolve) => res.once('close', () => resolve(!res.writableFinished)));
      const chunk = Buffer.alloc(64 * 1024, 'x');
      const write = (): void => {
        while (sent < 64 * 1024 * 1024 && !res.destroyed) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', write);
        }
        res.end();
      };
      write();
    });
    const failure = await failureOf(client(port, 5_000, cap).call('DescribeCapacity', {}));
    expect(failure).to.deep.equal({
      effect: 'unknown',
      message: `https://127.0.0.1:${port}: the answer is larger than ${cap} bytes`,
    });
    expect(await dropped, 'the answer was cut off').to.equal(true);
    expect(sent).to.be.below(16 * 1024 * 1024);
  });

  it("refuses an answer whose Content-Length is over the cap before reading it: 'unknown'", async () => {
    const port = await listen((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/xml', 'content-length': String(2 ** 31) }).write('<');
    });
    const started = Date.now();
    const failure = await failureOf(client(port, 5_000).call('DescribeCapacity', {}));
    expect(failure.effect).to.equal('unknown');
    expect(failure.message).to.match(/the answer is larger than 16777216 bytes/);
    expect(Date.now() - started).to.be.below(2_000);
  });

  it("is 'unknown' when the answer is not SOAP", async () => {
    const port = await listen((req, res) => {
      req.resume();
      res.writeHead(502, { 'content-type': 'text/plain' }).end('bad gateway');
    });
    expect(await effectOf(client(port).call('DescribeCapacity', {}))).to.equal('unknown');
  });
});
