/**
 * The test network itself: hosts reach each other and the test process reaches them, nothing is
 * left behind, and HAProxy in one host spreads connections over servers in others and passes over
 * one that died.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import { createTestNetwork, type TestNetwork } from './netns.js';
import { startHaproxy, type Haproxy } from './haproxy.js';

/** Connects, reads what the server says first, and hangs up. */
function hello(address: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, address);
    let got = '';
    s.setTimeout(3000, () => s.destroy(new Error('timeout')));
    s.on('data', (c: Buffer) => (got += c.toString()));
    s.on('end', () => resolve(got));
    s.on('error', reject);
  });
}

const SERVER = `require('net').createServer((s) => s.end(process.argv[1])).listen(7000, process.argv[2])`;

describe('test network: namespaces and HAProxy', function () {
  this.timeout(60_000);
  let net: TestNetwork | undefined;
  let haproxy: Haproxy | undefined;
  afterEach(async () => {
    await haproxy?.stop();
    net?.destroy();
  });

  it('hosts answer the test process, HAProxy balances and passes over a dead server, and all is removed', async () => {
    net = createTestNetwork();
    const a = net.addHost('a');
    const b = net.addHost('b');
    const lb = net.addHost('lb');
    const servers = [a, b].map((h) =>
      h.spawn(process.execPath, ['-e', SERVER, h.name, h.address], { stdio: 'ignore' }),
    );
    try {
      for (const h of [a, b]) {
        for (let i = 0; ; i++) {
          const got = await hello(h.address, 7000).catch(() => '');
          if (got === h.name) break;
          if (i > 100) throw new Error(`server in ${h.name} did not start`);
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      haproxy = await startHaproxy(lb, {
        port: 8000,
        backends: [a, b].map((h) => ({ name: h.name, address: h.address, port: 7000 })),
      });
      const seen = new Set<string>();
      for (let i = 0; i < 6; i++) seen.add(await hello(lb.address, 8000));
      expect([...seen].sort()).to.deep.equal(['a', 'b']);
      const first = servers[0];
      if (first) {
        const gone = new Promise((r) => first.once('exit', r));
        first.kill('SIGKILL');
        await gone;
      }
      const after: string[] = [];
      for (let i = 0; i < 6; i++) after.push(await hello(lb.address, 8000));
      expect(after).to.deep.equal(['b', 'b', 'b', 'b', 'b', 'b']);
    } finally {
      for (const s of servers) s.kill('SIGKILL');
    }
    const names = [a.netns, b.netns, lb.netns];
    await haproxy.stop();
    haproxy = undefined;
    net.destroy();
    net = undefined;
    const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    for (const n of names) expect(left).not.to.include(n);
  });
});
