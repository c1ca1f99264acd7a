/**
 * The HTTPS host's graceful stop in one process, where the timing can be made exact: a keep-alive
 * client that sends its next request while the stopping server's event loop is held up (a slow fsync
 * in SQLite does that) is answered, not reset, because an idle connection is closed only after the
 * loop has read what arrived on it; the answers of a stop say `Connection: close`; and a request
 * running at the bound is cut off.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { silentLogger } from '../../src/log.js';
import { ensureServiceTls } from '../../src/security/ca/local-tls.js';
import { FRONTEND_IDENTITY } from '../../src/security/identities.js';
import { startHttpsHost, type RunningHost } from '../../src/soap/https-host.js';

interface Answer {
  readonly status: number | undefined;
  readonly connection: string | undefined;
  readonly error: string | undefined;
}

/**
 * A keep-alive client (CommonJS, for a worker thread): posts, says so when the answer is in, posts
 * again on the same connection 100 ms later, and posts both answers.
 */
const CLIENT = `
const { parentPort, workerData } = require('node:worker_threads');
const { Agent, request } = require('node:https');
const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: workerData.caPem });
const post = () => new Promise((resolve) => {
  const req = request(workerData.url, { method: 'POST', agent }, (res) => {
    res.resume();
    res.on('end', () => resolve({ status: res.statusCode, connection: res.headers.connection, error: undefined }));
  });
  req.on('error', (e) => resolve({ status: undefined, connection: undefined, error: e.code || e.message }));
  req.end('x');
});
(async () => {
  const first = await post();
  parentPort.postMessage({ first });
  await new Promise((r) => setTimeout(r, 100));
  const second = await post();
  agent.destroy();
  parentPort.postMessage({ answers: [first, second] });
})();
`;

/** Blocks this thread's event loop, as a synchronous fsync under disk load does. */
function holdLoop(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // busy on purpose
  }
}

describe('HTTPS host: graceful stop', function () {
  this.timeout(30_000);
  let dir: string;
  let ca = '';
  let host: RunningHost | undefined;
  let agent: Agent | undefined;
  /** Answers after the delay its URL asks for (?ms=N). */
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    req.resume();
    await new Promise((resolve) => req.once('end', resolve));
    const ms = Number(new URL(req.url ?? '/', 'https://x').searchParams.get('ms') ?? '0');
    await new Promise((resolve) => setTimeout(resolve, ms));
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vbs-host-stop-'));
    const tls = ensureServiceTls(dir, FRONTEND_IDENTITY);
    ca = tls.caPem;
    host = await startHttpsHost({
      host: '127.0.0.1',
      port: 0,
      certPem: tls.certPem,
      keyPem: tls.keyPem,
      endpoints: [{ path: '/t', wsdl: () => '', handle }],
      logger: silentLogger(),
    });
    agent = new Agent({ keepAlive: true, maxSockets: 1, ca: tls.caPem });
  });
  afterEach(async () => {
    agent?.destroy();
    await host?.close(100);
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (ms = 0): Promise<Answer> =>
    new Promise((resolve) => {
      const req = request(`${host?.origin ?? ''}/t?ms=${ms}`, { method: 'POST', agent }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode, connection: res.headers.connection, error: undefined }));
      });
      req.on('error', (e: NodeJS.ErrnoException) =>
        resolve({ status: undefined, connection: undefined, error: e.code ?? e.message }),
      );
      req.end('x');
    });

  it('answers a request in flight with Connection: close, refuses new connections, cuts off what runs at the bound', async () => {
    const running = host ?? expect.fail('no host');
    const fresh = new Agent({ keepAlive: true, ca });
    try {
      const quick = post(300);
      const slow = new Promise<Answer>((resolve) => {
        const req = request(`${running.origin}/t?ms=5000`, { method: 'POST', agent: fresh }, (res) => {
          res.resume();
          res.on('end', () =>
            resolve({ status: res.statusCode, connection: res.headers.connection, error: undefined }),
          );
        });
        req.on('error', (e: NodeJS.ErrnoException) =>
          resolve({ status: undefined, connection: undefined, error: e.code ?? e.message }),
        );
        req.end('x');
      });
      // Both requests are in by the time the server has answered something on a third connection.
      const probe = new Agent({ ca });
      await new Promise((resolve) =>
        request(`${running.origin}/t`, { method: 'POST', agent: probe }, resolve).end('x'),
      );
      probe.destroy();
      const stopped = running.close(1000);
      const refused = await new Promise<string>((resolve) => {
        const req = request(`${running.origin}/t`, { method: 'POST', agent: new Agent({ ca }) }, () =>
          resolve('answered'),
        );
        req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
        req.end('x');
      });
      expect(refused).to.equal('ECONNREFUSED');
      expect(await quick).to.deep.equal({ status: 200, connection: 'close', error: undefined });
      expect((await slow).status).to.equal(undefined);
      const outcome = await stopped;
      expect(outcome.cutOff).to.equal(1);
      expect(outcome.durationMs).to.be.at.least(950).and.below(3000);
    } finally {
      fresh.destroy();
    }
  });

  it('answers a request sent on an idle keep-alive connection while the stopping loop was held up', async () => {
    const running = host ?? expect.fail('no host');
    // The client runs in a thread of its own, so that it sends while this thread's loop is held.
    const client = new Worker(CLIENT, { eval: true, workerData: { url: `${running.origin}/t`, caPem: ca } });
    try {
      const answers = new Promise<Answer[]>((resolve, reject) => {
        client.on('message', (m: { first?: Answer; answers?: Answer[] }) => {
          if (m.answers) resolve(m.answers);
          if (m.first) {
            // Its first answer is in: stop, and hold the loop while it reuses the connection 100 ms later.
            // The connection then looks idle for longer than the idle grace, with its request unread.
            void running.close();
            holdLoop(800);
          }
        });
        client.on('error', reject);
      });
      expect(await answers).to.deep.equal([
        { status: 200, connection: 'keep-alive', error: undefined },
        { status: 200, connection: 'close', error: undefined },
      ]);
      expect((await running.close()).cutOff).to.equal(0);
    } finally {
      await client.terminate();
    }
  });
});
