/**
 * The connection and request limits (src/soap/limits.ts), each met by an abusive client at the real
 * frontend over raw TCP and TLS sockets: XML that is dear to parse is refused before it is parsed; a
 * silent connection, trickled headers, a stalled or trickled body and an idle keep-alive connection
 * are each closed within a few seconds; connections past the caps (per address, in all) are closed
 * at once; pipelining past its cap is answered 503 without running; a client that hangs up is a log
 * line at info; and a signed request is answered quickly while 200 abusive connections are open.
 *
 * The frontend runs one worker, as the connection caps hold per process. Each loopback address
 * (127.x.y.z) is a client of its own. Cost: about 25 s, most of it the request deadline (15 s), which
 * the slow-client probes wait out together.
 */
import { expect } from 'chai';
import { schema, type AmazonEC2PortTypeOperations, type FilterType } from '../../src/generated/frontend.js';
import { signedAs } from '../../src/security/wssec/sign.js';
import { SoapClient } from '../../src/soap/client.js';
import {
  BODY_IDLE_TIMEOUT_MS,
  HEADERS_TIMEOUT_MS,
  KEEP_ALIVE_IDLE_MS,
  MAX_CONNECTIONS,
  MAX_CONNECTIONS_PER_CLIENT,
  MAX_REQUESTS_IN_FLIGHT_PER_CONNECTION,
  MAX_XML_DEPTH,
  MAX_XML_NODES,
  REQUEST_DEADLINE_MS,
  TLS_HANDSHAKE_TIMEOUT_MS,
} from '../../src/soap/limits.js';
import { type Ec2Client } from '../support/ec2-client.js';
import { EC2_NS, envelope, faultCode, rawPost } from '../support/raw-soap.js';
import { startCluster, type Cluster } from '../support/services.js';
import {
  postHead,
  rawTcp,
  rawTls,
  statuses,
  targetOf,
  trickle,
  type Probe,
  type Target,
} from '../support/slow-client.js';
import { waitFor } from '../support/wait.js';

/** How much later than its limit a connection may close: Node checks deadlines every 500 ms, and CI is slow. */
const SLACK_MS = 3_000;
/** Node closes an idle keep-alive connection a second after keepAliveTimeout. */
const KEEP_ALIVE_GRACE_MS = 1_000;
/** A generous bound for what the frontend answers in a few ms; an abusive request used to take it seconds. */
const FAST_MS = 500;

const op = (name: string, inner: string): string => `<${name} xmlns="${EC2_NS}">${inner}</${name}>`;

/** Opens `count` probes, `batch` at a time (so that the listen backlog never overflows). */
async function openMany(count: number, batch: number, open: (i: number) => Promise<Probe>): Promise<Probe[]> {
  const probes: Probe[] = [];
  for (let i = 0; i < count; i += batch) {
    probes.push(...(await Promise.all(Array.from({ length: Math.min(batch, count - i) }, (_, j) => open(i + j)))));
  }
  return probes;
}

/** How many of the probes closed within `watchMs` of `since`. */
async function closedCount(probes: readonly Probe[], since: number, watchMs: number): Promise<number> {
  const after = await Promise.all(probes.map((p) => p.closedAfter(since, watchMs)));
  return after.filter((ms) => ms !== undefined).length;
}

describe('request limits at the frontend', function () {
  this.timeout(90_000);
  let cluster: Cluster;
  let target: Target;
  let client: Ec2Client;

  const logLines = (message: string): Record<string, unknown>[] =>
    cluster.logLines(cluster.frontend).filter((l) => l['message'] === message);

  before(async () => {
    cluster = await startCluster({ frontend: { workers: 1 } });
    target = targetOf(cluster.frontendUrl, cluster.caPem);
    client = new SoapClient<AmazonEC2PortTypeOperations>(schema, 'AmazonEC2PortType', {
      url: cluster.frontendUrl,
      caPem: cluster.caPem,
      envelope: signedAs(cluster.users.alice),
      timeoutMs: 10_000,
    });
  });
  after(async () => {
    client.close();
    await cluster.stop();
  });

  it('refuses XML that is dear to parse before parsing it, in milliseconds, and takes a signed request at every filter cap', async () => {
    const bombs: readonly [string, string, RegExp][] = [
      [
        '100,000 nested elements (700 KB)',
        envelope(op('CreateVolume', `${'<a>'.repeat(100_000)}${'</a>'.repeat(100_000)}`)),
        new RegExp(`nested deeper than ${MAX_XML_DEPTH}`),
      ],
      [
        '120,000 comments',
        envelope(op('CreateVolume', '<!--x-->'.repeat(120_000))),
        new RegExp(`more than ${MAX_XML_NODES} XML nodes`),
      ],
      [
        '100,000 attributes',
        envelope(op('CreateVolume', `<a ${Array.from({ length: 100_000 }, (_, i) => `b${i}=""`).join(' ')}/>`)),
        new RegExp(`more than ${MAX_XML_NODES} XML nodes`),
      ],
      [
        '200,000 character references',
        envelope(op('CreateVolume', `<size>${'&#49;'.repeat(200_000)}</size>`)),
        new RegExp(`more than ${MAX_XML_NODES} XML nodes`),
      ],
    ];
    for (const [what, body, message] of bombs) {
      const started = Date.now();
      const answer = await rawPost(cluster.frontendUrl, cluster.caPem, body);
      const ms = Date.now() - started;
      expect(faultCode(answer), what).to.equal('InvalidRequest');
      expect(answer.body, what).to.match(message);
      expect(ms, what).to.be.below(FAST_MS);
    }
    // 20 filters of 200 values each: about 8,100 nodes with the signature, under MAX_XML_NODES.
    const filters: FilterType[] = Array.from({ length: 20 }, (_, f) => ({
      name: 'volume-id',
      valueSet: { item: Array.from({ length: 200 }, (_, v) => ({ value: `vol-${f}-${v}` })) },
    }));
    const answer = await client.call('DescribeVolumes', { volumeSet: {}, filterSet: { item: filters } });
    expect(answer.volumeSet.item ?? []).to.deep.equal([]);
  });

  describe('slow clients', () => {
    /** Each probe: when its connection closed after it began (undefined: still open), and what it was sent. */
    let outcomes: Record<string, Promise<{ readonly afterMs: number | undefined; readonly received: string }>>;

    const outcome = async (
      open: () => Promise<Probe>,
      act: (p: Probe) => void | Promise<void>,
      watchMs: number,
    ): Promise<{ afterMs: number | undefined; received: string }> => {
      const probe = await open();
      const since = Date.now();
      await act(probe);
      const afterMs = await probe.closedAfter(since, watchMs);
      return { afterMs, received: probe.received };
    };

    before(() => {
      // All at once, each from its own address: the whole set takes as long as the longest (the deadline).
      outcomes = {
        silentTcp: outcome(
          () => rawTcp(target, '127.0.3.1'),
          () => undefined,
          TLS_HANDSHAKE_TIMEOUT_MS + SLACK_MS,
        ),
        silentTls: outcome(
          () => rawTls(target, '127.0.3.2'),
          () => undefined,
          HEADERS_TIMEOUT_MS + SLACK_MS,
        ),
        headerTrickle: outcome(
          () => rawTls(target, '127.0.3.3'),
          (p) => trickle(p.socket, postHead('/vbs', 10), 200),
          HEADERS_TIMEOUT_MS + SLACK_MS,
        ),
        bodyStall: outcome(
          () => rawTls(target, '127.0.3.4'),
          (p) => void p.socket.write(`${postHead('/vbs', 1000)}<soap:Envelope`),
          BODY_IDLE_TIMEOUT_MS + SLACK_MS,
        ),
        bodyTrickle: outcome(
          () => rawTls(target, '127.0.3.5'),
          (p) => {
            p.socket.write(postHead('/vbs', 1000));
            trickle(p.socket, 'x'.repeat(1000), 1000);
          },
          REQUEST_DEADLINE_MS + SLACK_MS,
        ),
        keepAliveIdle: outcome(
          () => rawTls(target, '127.0.3.6'),
          async (p) => {
            p.socket.write('GET /vbs?wsdl HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
            expect(await p.receivedText('</definitions>', 5_000)).to.equal(true);
          },
          KEEP_ALIVE_IDLE_MS + KEEP_ALIVE_GRACE_MS + SLACK_MS,
        ),
      };
    });

    /** Closed no sooner than `limit` (an honest client has all of it) and no later than the slack after. */
    const expectClosedAt = (afterMs: number | undefined, limit: number): void => {
      expect(afterMs, 'still open').to.not.equal(undefined);
      expect(afterMs).to.be.within(limit - 100, limit + SLACK_MS);
    };

    it(`closes a TCP connection that never starts TLS after ${TLS_HANDSHAKE_TIMEOUT_MS} ms`, async () => {
      const { afterMs } = await (outcomes['silentTcp'] ?? expect.fail());
      expectClosedAt(afterMs, TLS_HANDSHAKE_TIMEOUT_MS);
    });

    it(`answers 408 and closes a TLS connection that sends no request for ${HEADERS_TIMEOUT_MS} ms`, async () => {
      const { afterMs, received } = await (outcomes['silentTls'] ?? expect.fail());
      expectClosedAt(afterMs, HEADERS_TIMEOUT_MS);
      expect(statuses(received)).to.deep.equal([408]);
    });

    it(`answers 408 and closes a connection whose headers trickle for ${HEADERS_TIMEOUT_MS} ms`, async () => {
      const { afterMs, received } = await (outcomes['headerTrickle'] ?? expect.fail());
      expectClosedAt(afterMs, HEADERS_TIMEOUT_MS);
      expect(statuses(received)).to.deep.equal([408]);
    });

    it(`answers 408 to a body that stalls for ${BODY_IDLE_TIMEOUT_MS} ms, and logs it at info`, async () => {
      const { afterMs, received } = await (outcomes['bodyStall'] ?? expect.fail());
      expectClosedAt(afterMs, BODY_IDLE_TIMEOUT_MS);
      expect(statuses(received)).to.deep.equal([408]);
      const line = logLines('request abandoned by its client').find((l) => l['reason'] === 'stalled');
      expect(line).to.include({ level: 'info', receivedBytes: '<soap:Envelope'.length });
    });

    it(`cuts off a body that trickles steadily at the request deadline (${REQUEST_DEADLINE_MS} ms)`, async () => {
      const { afterMs, received } = await (outcomes['bodyTrickle'] ?? expect.fail());
      expectClosedAt(afterMs, REQUEST_DEADLINE_MS);
      expect(statuses(received)).to.deep.equal([408]);
    });

    it(`closes a keep-alive connection idle for ${KEEP_ALIVE_IDLE_MS} ms after its answer`, async () => {
      const { afterMs, received } = await (outcomes['keepAliveIdle'] ?? expect.fail());
      expect(statuses(received)).to.deep.equal([200]);
      expectClosedAt(afterMs, KEEP_ALIVE_IDLE_MS + KEEP_ALIVE_GRACE_MS);
    });
  });

  it('logs a client that hangs up in the middle of its request at info, without a stack', async () => {
    const probe = await rawTls(target, '127.0.3.7');
    probe.socket.write(`${postHead('/vbs', 1000)}<soap:Envelope`);
    await new Promise((r) => setTimeout(r, 200));
    probe.socket.destroy();
    const line = await waitFor(
      'the hang-up in the log',
      () => logLines('request abandoned by its client').find((l) => l['reason'] === 'disconnected'),
      (l) => l !== undefined,
      5_000,
    );
    expect(line).to.include({ level: 'info' });
    expect(JSON.stringify(line)).to.not.match(/stack|\bat .*\.js/);
    expect(cluster.logLines(cluster.frontend).filter((l) => l['level'] === 'error')).to.deep.equal([]);
  });

  it(`answers 503 to requests pipelined beyond ${MAX_REQUESTS_IN_FLIGHT_PER_CONNECTION} on one connection, without running them`, async () => {
    const probe = await rawTls(target, '127.0.6.1');
    const before = logLines('request').length;
    probe.socket.write(`${postHead('/vbs', 4)}<x/>`.repeat(10));
    const since = Date.now();
    expect(await probe.closedAfter(since, 5_000), 'closed after the 503').to.not.equal(undefined);
    expect(statuses(probe.received)).to.deep.equal([
      ...Array.from({ length: MAX_REQUESTS_IN_FLIGHT_PER_CONNECTION }, () => 500),
      503,
    ]);
    // Only those run are logged (one line each, once answered); the 503s never reached the endpoint.
    await waitFor(
      'the requests run',
      () => logLines('request').length - before,
      (n) => n >= 4,
      5_000,
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(logLines('request').length - before).to.equal(MAX_REQUESTS_IN_FLIGHT_PER_CONNECTION);
  });

  it(`closes at once connections from one address beyond ${MAX_CONNECTIONS_PER_CLIENT}, and no other client's`, async () => {
    const extra = 10;
    const probes = await openMany(MAX_CONNECTIONS_PER_CLIENT + extra, 100, () => rawTcp(target, '127.0.4.1'));
    const other = await openMany(10, 10, () => rawTcp(target, '127.0.4.2'));
    const since = Date.now();
    // Well within the handshake timeout, which closes all of them later.
    expect(await closedCount(probes, since, 1_500)).to.equal(extra);
    expect(await closedCount(other, since, 0)).to.equal(0);
    expect(
      logLines('connections refused: over the connection caps').some(
        (l) => l['cap'] === 'perClient' && l['lastClient'] === '127.0.4.1',
      ),
    ).to.equal(true);
  });

  it(`does not count a client's answered keep-alive connections against its address: ${MAX_CONNECTIONS_PER_CLIENT} + 50 are kept`, async () => {
    const wanted = MAX_CONNECTIONS_PER_CLIENT + 50;
    // A batch at a time, each answered before the next opens, as a client's pool fills under load.
    const probes = await openMany(wanted, 50, async () => {
      const p = await rawTls(target, '127.0.4.3');
      p.socket.write('GET /vbs?wsdl HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      expect(await p.receivedText('</definitions>', 5_000), 'answered').to.equal(true);
      return p;
    });
    try {
      // Well within the keep-alive idle limit: every one is still open, and one more is taken.
      const more = await rawTls(target, '127.0.4.3');
      probes.push(more);
      const since = Date.now();
      expect(await closedCount(probes, since, 500)).to.equal(0);
      expect(statuses(probes.map((p) => p.received).join(''))).to.have.length(wanted);
    } finally {
      for (const p of probes) p.socket.destroy();
    }
  });

  it(`closes at once connections beyond ${MAX_CONNECTIONS} in all`, async () => {
    const extra = 20;
    // Clients of 200 connections each: none meets the per-address cap.
    const probes = await openMany(MAX_CONNECTIONS + extra, 200, (i) =>
      rawTcp(target, `127.0.5.${1 + Math.floor(i / 200)}`),
    );
    const since = Date.now();
    // A few more when earlier clients' keep-alive connections are still open: they count too.
    expect(await closedCount(probes, since, 1_500)).to.be.within(extra, extra + 5);
    expect(logLines('connections refused: over the connection caps').some((l) => l['cap'] === 'total')).to.equal(true);
  });

  // Last: before these limits, its XML bombs kept the worker busy for a minute.
  describe('under abuse', () => {
    it('answers a signed request quickly while 200 abusive connections from its own address are open', async () => {
      const bomb = envelope(op('CreateVolume', `${'<a>'.repeat(100_000)}${'</a>'.repeat(100_000)}`));
      const kinds: readonly ((p: Probe) => void)[] = [
        () => undefined,
        (p) => trickle(p.socket, postHead('/vbs', 10), 200),
        (p) => {
          p.socket.write(postHead('/vbs', 1000));
          trickle(p.socket, 'x'.repeat(1000), 1000);
        },
        // The XML bomb that cost a worker a second each, sent whole on each of 50 connections.
        (p) => void p.socket.write(`${postHead('/vbs', Buffer.byteLength(bomb))}${bomb}`),
      ];
      // From 127.0.0.1, the signed client's own address: the cap per address counts only the abusive ones.
      const probes = await openMany(200, 50, () => rawTls(target, '127.0.0.1'));
      try {
        probes.forEach((p, i) => kinds[i % kinds.length]?.(p));
        // One after another while the abuse goes on, the first on a new connection.
        const times: number[] = [];
        for (let i = 0; i < 20; i++) {
          const started = Date.now();
          const answer = await client.call('DescribeVolumes', { volumeSet: {} });
          times.push(Date.now() - started);
          expect(answer.volumeSet).to.be.an('object');
        }
        if (process.env['VBS_TEST_TIMINGS']) console.log(`signed DescribeVolumes under abuse, ms: ${times.join(' ')}`);
        expect(Math.max(...times)).to.be.below(FAST_MS);
        // The abuse lasted: the silent and trickling connections were all still open.
        expect(probes.filter((p, i) => i % kinds.length !== 3 && p.closedAt === undefined)).to.have.length(150);
      } finally {
        for (const p of probes) p.socket.destroy();
      }
    });
  });
});
