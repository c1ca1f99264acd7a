/**
 * The frontend on two workers (node:cluster), as `vbs-server frontend` runs it, through the real
 * processes: a signed message accepted by one worker is refused by the other (each request on a NEW
 * connection, which the primary hands to the workers in turn; the request log says which worker
 * served it); a killed worker is replaced while the other keeps answering, and the replacement still
 * refuses what was accepted before it started; "frontend started" is written once, when both listen;
 * SIGTERM or SIGINT stops the workers and then the primary.
 */
import { expect } from 'chai';
import { request } from 'node:https';
import { signEnvelope } from '../../src/security/wssec/sign.js';
import { startCluster, type Cluster } from '../support/services.js';
import { answerOf, ec2Body } from '../security/e2e/e2e-helpers.js';
import { ifMade } from '../support/if-made.js';

const REPLAYED = 'This request was already received; sign each request anew.';

interface Sent {
  readonly status: number;
  readonly body: string;
  readonly requestId: string;
}

/** Posts on a connection of its own (no keep-alive agent), so the primary may hand it to either worker. */
function postNew(cluster: Cluster, text: string, action: string): Promise<Sent> {
  return new Promise((resolve, reject) => {
    const req = request(
      cluster.frontendUrl,
      {
        method: 'POST',
        ca: cluster.caPem,
        agent: false,
        headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: `"${action}"`, connection: 'close' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            requestId: String(res.headers['x-vbs-request-id'] ?? ''),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

const describeVolumes = (cluster: Cluster): string =>
  signEnvelope(ec2Body('DescribeVolumes', { volumeSet: {} }), cluster.users.alice);

function expectAnswer(sent: Sent): void {
  expect(answerOf({ status: sent.status, body: sent.body }), sent.body).to.deep.include({
    status: 200,
    element: 'DescribeVolumesResponse',
  });
}

function expectReplayRefused(sent: Sent): void {
  expect(answerOf({ status: sent.status, body: sent.body }), sent.body).to.deep.include({
    element: 'Fault',
    code: 'AuthFailure',
    message: REPLAYED,
  });
}

type Line = Record<string, unknown>;

/** Waits until the log has a line that `match` accepts (winston writes behind the answers). */
async function waitForLine(cluster: Cluster, match: (l: Line) => boolean, timeoutMs = 20_000): Promise<Line> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = cluster.logLines(cluster.frontend).find(match);
    if (line) return line;
    if (Date.now() > deadline) throw new Error('no such line in the frontend log');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The PID of the worker that served each request, from the request log. */
async function servedBy(cluster: Cluster, sent: readonly Sent[]): Promise<number[]> {
  const pids: number[] = [];
  for (const s of sent) {
    const line = await waitForLine(cluster, (l) => l['message'] === 'request' && l['requestId'] === s.requestId);
    expect(line['worker'], JSON.stringify(line)).to.be.a('number');
    pids.push(Number(line['pid']));
  }
  return pids;
}

/** The live worker PIDs: the last "frontend worker started" of each worker number. */
function workerPids(cluster: Cluster): Map<number, number> {
  const out = new Map<number, number>();
  for (const l of cluster.logLines(cluster.frontend)) {
    if (l['message'] === 'frontend worker started') out.set(Number(l['worker']), Number(l['pid']));
  }
  return out;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('frontend on two workers (node:cluster)', function () {
  this.timeout(120_000);
  let cluster: Cluster;

  before(async () => {
    cluster = await startCluster({ frontend: { workers: 2 } });
  });
  after(async () => {
    await ifMade(cluster)?.stop();
  });

  it('writes "frontend started" once, naming both workers, each of which says it listens', async () => {
    const started = cluster.logLines(cluster.frontend).filter((l) => l['message'] === 'frontend started');
    expect(started).to.have.length(1);
    expect(started[0]?.['workers']).to.equal(2);
    const pids = started[0]?.['workerPids'];
    expect(pids).to.be.an('array').with.length(2);
    // Each worker's own line may reach the shared file after the primary's (each process writes behind).
    for (const worker of [1, 2])
      await waitForLine(cluster, (l) => l['message'] === 'frontend worker started' && l['worker'] === worker);
    expect([...workerPids(cluster).entries()].sort((a, b) => a[0] - b[0]).map(([, pid]) => pid)).to.deep.equal(pids);
  });

  it('refuses a replayed message on a new connection, whichever worker gets it', async () => {
    const accepted: Sent[] = [];
    const replays: Sent[][] = [];
    for (let i = 0; i < 8; i++) {
      const message = describeVolumes(cluster);
      const first = await postNew(cluster, message, 'DescribeVolumes');
      expectAnswer(first);
      accepted.push(first);
      const again: Sent[] = [];
      for (let r = 0; r < 3; r++) {
        const replay = await postNew(cluster, message, 'DescribeVolumes');
        expectReplayRefused(replay);
        again.push(replay);
      }
      replays.push(again);
    }
    const acceptedBy = await servedBy(cluster, accepted);
    const refusedBy = await Promise.all(replays.map((r) => servedBy(cluster, r)));
    const workers = [...workerPids(cluster).values()];
    expect([...new Set(acceptedBy.concat(refusedBy.flat()))].sort(), 'both workers served').to.deep.equal(
      workers.sort(),
    );
    // The point: a worker refused a message that the OTHER worker had accepted.
    const crossed = acceptedBy.filter((pid, i) => (refusedBy[i] ?? []).some((other) => other !== pid)).length;
    expect(crossed, 'replays refused by the other worker').to.be.greaterThan(0);
  });

  it('accepts exactly one of the same message sent on several connections at once', async () => {
    for (let round = 0; round < 3; round++) {
      const message = describeVolumes(cluster);
      const sent = await Promise.all(Array.from({ length: 6 }, () => postNew(cluster, message, 'DescribeVolumes')));
      expect(sent.filter((s) => s.status === 200)).to.have.length(1);
      for (const s of sent.filter((x) => x.status !== 200)) expectReplayRefused(s);
      expect(new Set(await servedBy(cluster, sent)).size, 'both workers got the message').to.equal(2);
    }
  });

  it('replaces a killed worker; the other keeps answering; the replacement refuses what was accepted before it', async () => {
    const before = workerPids(cluster);
    const signedEarlier = describeVolumes(cluster);
    const acceptedEarlier = describeVolumes(cluster);
    expectAnswer(await postNew(cluster, acceptedEarlier, 'DescribeVolumes'));
    const victim = before.get(1) ?? expect.fail('no worker 1');
    process.kill(victim, 'SIGKILL');
    const exited = await waitForLine(
      cluster,
      (l) => l['message'] === 'frontend worker exited; starting another' && l['pid'] === victim,
    );
    expect(exited).to.deep.include({ worker: 1, signal: 'SIGKILL', level: 'error' });
    // Until the replacement listens, the other worker answers every new connection.
    const meanwhile = await Promise.all(
      Array.from({ length: 6 }, () => postNew(cluster, describeVolumes(cluster), 'DescribeVolumes')),
    );
    meanwhile.forEach(expectAnswer);
    await waitForLine(cluster, (l) => l['message'] === 'frontend worker restarted' && l['worker'] === 1);
    // The replacement's own line may reach the shared file after the primary's.
    await waitForLine(
      cluster,
      (l) => l['message'] === 'frontend worker started' && l['worker'] === 1 && l['pid'] !== victim,
    );
    const after = workerPids(cluster);
    const replacement = after.get(1) ?? expect.fail('no worker 1');
    expect(replacement).to.not.equal(victim);
    expect(after.get(2)).to.equal(before.get(2));
    expect(alive(victim)).to.equal(false);
    expect(cluster.frontend.child.exitCode).to.equal(null);
    // Both workers, the replacement too, refuse the message accepted before it started...
    const replays = await Promise.all(
      Array.from({ length: 6 }, () => postNew(cluster, acceptedEarlier, 'DescribeVolumes')),
    );
    replays.forEach(expectReplayRefused);
    expect(new Set(await servedBy(cluster, replays))).to.deep.equal(new Set([replacement, after.get(2)]));
    // ...and take a message signed before it started but after the frontend (the primary) did, once.
    const late = await Promise.all(Array.from({ length: 4 }, () => postNew(cluster, signedEarlier, 'DescribeVolumes')));
    expect(late.filter((s) => s.status === 200)).to.have.length(1);
    for (const s of late.filter((x) => x.status !== 200)) expectReplayRefused(s);
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`stops both workers, then the primary, on ${signal}`, async () => {
      if (cluster.frontend.child.exitCode !== null) await cluster.restart(cluster.frontend);
      const workers = [...workerPids(cluster).values()];
      expect(workers).to.have.length(2);
      expect(workers.every(alive)).to.equal(true);
      await cluster.kill(cluster.frontend, signal);
      expect(cluster.frontend.child.exitCode).to.equal(0);
      expect(workers.filter(alive)).to.deep.equal([]);
    });
  }
});
