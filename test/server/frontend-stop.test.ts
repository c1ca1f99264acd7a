/**
 * `vbs-server frontend` stopped by SIGTERM or SIGINT in the middle of load, as one process and as a
 * primary with two workers: several clients keep requests in flight (DescribeVolumes and CreateVolume,
 * on keep-alive connections); every request that was sent gets its HTTP answer (no reset), the process
 * exits 0 within the bound, idle keep-alive connections are closed rather than waited for, and every
 * CreateVolume that was answered has its volume after a restart. A request still running at the bound
 * is cut off and logged, and the frontend still exits 0.
 */
import { expect } from 'chai';
import { Agent, request } from 'node:https';
import type { Socket } from 'node:net';
import { STOP_GRACE_MS } from '../../src/soap/https-host.js';
import { signEnvelope } from '../../src/security/wssec/sign.js';
import { ec2Body } from '../security/e2e/e2e-helpers.js';
import { ec2Client } from '../support/ec2-client.js';
import { ifMade } from '../support/if-made.js';
import { startCluster, type Cluster } from '../support/services.js';
import { waitFor } from '../support/wait.js';
import { createdVolumeId, startLoad, type Sent } from './load.js';
import { alive, signalAndWait } from './stop-helpers.js';

/** The frontend's worker PIDs, from its log (empty for a single process). */
function workerPids(cluster: Cluster): number[] {
  return cluster
    .logLines(cluster.frontend)
    .filter((l) => l['message'] === 'frontend worker started')
    .map((l) => Number(l['pid']));
}

function describeSent(list: readonly Sent[]): string {
  return JSON.stringify(
    list.slice(0, 5).map((s) => ({ op: s.operation, error: s.error, ms: s.endedAt - s.startedAt })),
  );
}

/** An idle keep-alive connection to the frontend: one request answered, then the socket left in the pool. */
async function idleConnection(cluster: Cluster): Promise<{ agent: Agent; closedAt: () => number | undefined }> {
  const agent = new Agent({ keepAlive: true, ca: cluster.caPem, maxSockets: 1 });
  let socket: Socket | undefined;
  let closedAt: number | undefined;
  const body = signEnvelope(ec2Body('DescribeVolumes', { volumeSet: {} }), cluster.users.bob);
  const first = await new Promise<number | undefined>((resolve, reject) => {
    const req = request(
      cluster.frontendUrl,
      { method: 'POST', agent, headers: { soapaction: '"DescribeVolumes"' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      },
    );
    req.on('socket', (s) => {
      socket = s;
      s.once('close', () => (closedAt = Date.now()));
    });
    req.on('error', reject);
    req.end(body);
  });
  expect(first).to.equal(200);
  expect(socket?.destroyed).to.equal(false);
  return { agent, closedAt: () => closedAt };
}

describe('graceful stop of the frontend under load', function () {
  this.timeout(120_000);

  const cases = [
    { workers: 1, signal: 'SIGTERM' },
    { workers: 1, signal: 'SIGINT' },
    { workers: 2, signal: 'SIGTERM' },
    { workers: 2, signal: 'SIGINT' },
  ] as const;
  for (const { workers, signal } of cases) {
    describe(`${workers === 1 ? 'one process' : `${workers} workers`}, ${signal}`, () => {
      let cluster: Cluster;
      before(async () => {
        cluster = await startCluster({ frontend: { workers } });
      });
      after(async () => {
        await ifMade(cluster)?.stop();
      });

      it('answers every request that was sent, exits 0 within the bound, and keeps every volume it answered', async () => {
        const workersBefore = workerPids(cluster);
        expect(workersBefore).to.have.length(workers === 1 ? 0 : workers);
        const idle = await idleConnection(cluster);
        const load = startLoad({
          url: cluster.frontendUrl,
          caPem: cluster.caPem,
          signers: [cluster.users.alice, cluster.users.bob, cluster.users.admin],
          concurrency: 8,
          createEvery: 3,
        });
        // Under way: answers coming on every client, CreateVolume among them.
        await waitFor(
          'load under way',
          () => load.results.filter((r) => r.status === 200).length,
          (n) => n >= 150,
        );
        const signalledAt = Date.now();
        const exit = await signalAndWait(cluster.frontend, signal, STOP_GRACE_MS + 20_000);
        load.stop();
        await load.done;
        idle.agent.destroy();

        expect({ code: exit.code, signal: exit.signal }, 'exit').to.deep.equal({ code: 0, signal: null });
        expect(exit.afterMs, 'exit within the bound').to.be.below(STOP_GRACE_MS);
        const sentUnanswered = load.results.filter((r) => r.sent && r.status === undefined);
        expect(sentUnanswered, `sent and not answered: ${describeSent(sentUnanswered)}`).to.have.length(0);
        const answered = load.results.filter((r) => r.status !== undefined);
        const notOk = answered.filter((r) => r.status !== 200);
        expect(notOk.map((r) => `${r.operation} ${r.status}: ${r.body.slice(0, 300)}`)).to.deep.equal([]);
        // It really had requests in flight when the signal came, and answered them after it.
        const inFlight = answered.filter((r) => r.startedAt < signalledAt && r.endedAt > signalledAt);
        expect(inFlight.length, 'requests answered across the signal').to.be.greaterThan(0);
        // What got no answer was refused before it was sent: the frontend no longer accepted connections.
        const refused = load.results.filter((r) => !r.sent);
        expect(refused.length, 'loops ended by a refusal').to.be.greaterThan(0);
        expect(idle.closedAt(), 'the idle keep-alive connection was closed').to.be.a('number');
        for (const pid of workersBefore) expect(alive(pid), `worker ${pid}`).to.equal(false);
        expect(
          cluster.logLines(cluster.frontend).filter((l) => l['message'] === 'request cut off by stop'),
        ).to.deep.equal([]);

        const created = answered
          .filter((r) => r.operation === 'CreateVolume')
          .map(createdVolumeId)
          .filter((id): id is string => id !== undefined);
        expect(created.length, 'CreateVolume answered').to.be.greaterThan(0);
        await cluster.restart(cluster.frontend);
        const admin = ec2Client(cluster, 'admin');
        try {
          const listed = await admin.call('DescribeVolumes', { volumeSet: {} });
          const ids = new Set((listed.volumeSet.item ?? []).map((v) => v.volumeId));
          expect(
            created.filter((id) => !ids.has(id)),
            'answered CreateVolume without a volume',
          ).to.deep.equal([]);
        } finally {
          admin.close();
        }
        console.log(
          `      ${load.results.length} requests, ${inFlight.length} answered across the signal, ${created.length} volumes; exit after ${exit.afterMs} ms`,
        );
      });
    });
  }

  describe('a request still running at the bound (2 workers, SIGTERM)', () => {
    let cluster: Cluster;
    before(async () => {
      cluster = await startCluster({ frontend: { workers: 2 } });
    });
    after(async () => {
      await ifMade(cluster)?.stop();
    });

    it('is cut off and logged; every other request is answered; the frontend exits 0 just after the bound', async () => {
      // Its headers and half its body, then a byte a second: a request the frontend cannot finish
      // before the bound (a body that stalled would be abandoned after BODY_IDLE_TIMEOUT_MS, and
      // one that trickles is cut off only at REQUEST_DEADLINE_MS, past the bound).
      let written = false;
      let trickle: NodeJS.Timeout | undefined;
      const stalled = new Promise<string>((resolve) => {
        const req = request(cluster.frontendUrl, {
          method: 'POST',
          ca: cluster.caPem,
          agent: false,
          headers: {
            'content-type': 'text/xml; charset=utf-8',
            'content-length': '2000',
            soapaction: '"DescribeVolumes"',
          },
        });
        req.on('response', (res) => resolve(`answered ${res.statusCode}`));
        req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
        req.on('close', () => clearInterval(trickle));
        req.on('socket', (socket) =>
          socket.once('secureConnect', () => {
            req.write('x'.repeat(1000), () => (written = true));
            trickle = setInterval(() => req.write('x'), 1000);
          }),
        );
      });
      await waitFor(
        'the stalled request written',
        () => written,
        (w) => w,
      );
      const load = startLoad({
        url: cluster.frontendUrl,
        caPem: cluster.caPem,
        signers: [cluster.users.alice],
        concurrency: 4,
        createEvery: 4,
      });
      await waitFor(
        'load under way',
        () => load.results.length,
        (n) => n >= 20,
      );
      // The stalled request is in flight by now: its bytes left before the load began.
      const exit = await signalAndWait(cluster.frontend, 'SIGTERM', STOP_GRACE_MS + 20_000);
      load.stop();
      await load.done;

      expect({ code: exit.code, signal: exit.signal }).to.deep.equal({ code: 0, signal: null });
      expect(exit.afterMs)
        .to.be.at.least(STOP_GRACE_MS - 500)
        .and.below(STOP_GRACE_MS + 5000);
      expect(await stalled).to.be.oneOf(['ECONNRESET', 'socket hang up']);
      const cut = cluster.logLines(cluster.frontend).filter((l) => l['message'] === 'request cut off by stop');
      expect(cut).to.have.length(1);
      expect(cut[0]).to.deep.include({ path: '/vbs', soapAction: '"DescribeVolumes"', graceMs: STOP_GRACE_MS });
      const sentUnanswered = load.results.filter((r) => r.sent && r.status === undefined);
      expect(sentUnanswered, describeSent(sentUnanswered)).to.have.length(0);
    });
  });
});
