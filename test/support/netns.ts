/**
 * Test hosts as network namespaces: a switch namespace holding a bridge, and each host a namespace
 * with its own loopback and one veth into the bridge, with an address in a /24 of 10.0.0.0/8 that
 * nothing on this machine routes (checked before it is used). The test process itself gets one
 * veth into the bridge too (an address in the same /24, a route to it and nothing else), so that
 * it can be the client of servers inside the hosts; servers listen only inside the namespaces.
 * Everything is named with a random tag, and destroy() removes all of it (deleting a namespace
 * deletes its veth pairs), also from a test that failed.
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface TestHost {
  readonly name: string;
  /** The namespace's name, for `ip netns exec`. */
  readonly netns: string;
  readonly address: string;
  /** A command run inside the host, to its end; its stdout. */
  run(command: string, args: readonly string[]): string;
  /** A process started inside the host (its PID is the command's own: `ip netns exec` execs it). */
  spawn(command: string, args: readonly string[], options?: SpawnOptions): ChildProcess;
  /** Cuts the host off the network (its link down), as when its cable is pulled; `reconnect` undoes it. */
  disconnect(): void;
  reconnect(): void;
}

export interface TestNetwork {
  /** The test process's own address on the network. */
  readonly clientAddress: string;
  addHost(name: string): TestHost;
  destroy(): void;
}

const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8' });

function unusedSubnet(): string {
  const routes = ip('-4', 'route', 'show', 'table', 'all') + ip('-4', 'addr', 'show');
  for (let attempt = 0; attempt < 50; attempt++) {
    const b = randomBytes(2);
    const prefix = `10.${200 + ((b[0] ?? 0) % 50)}.${b[1] ?? 0}`;
    if (!routes.includes(`${prefix}.`)) return prefix;
  }
  throw new Error('no unused 10.x.y.0/24 subnet found');
}

const live = new Set<TestNetwork>();
process.once('exit', () => {
  for (const n of live) n.destroy();
});

export function createTestNetwork(): TestNetwork {
  const tag = randomBytes(3).toString('hex');
  const prefix = unusedSubnet();
  const sw = `vbs-${tag}-sw`;
  const namespaces: string[] = [];
  const rootLink = `v${tag}r`;
  let hosts = 0;
  let destroyed = false;

  const network: TestNetwork = {
    clientAddress: `${prefix}.254`,
    addHost: (name) => {
      if (!/^[a-z][a-z0-9-]{0,15}$/.test(name)) throw new Error(`not a host name: ${name}`);
      const n = ++hosts;
      if (n > 200) throw new Error('too many test hosts');
      const netns = `vbs-${tag}-${name}`;
      const inside = `v${tag}h${n}`;
      const outside = `v${tag}s${n}`;
      const address = `${prefix}.${n}`;
      ip('netns', 'add', netns);
      namespaces.push(netns);
      ip('-n', netns, 'link', 'set', 'lo', 'up');
      ip('link', 'add', inside, 'netns', netns, 'type', 'veth', 'peer', 'name', outside, 'netns', sw);
      ip('-n', sw, 'link', 'set', outside, 'master', 'br0', 'up');
      ip('-n', netns, 'addr', 'add', `${address}/24`, 'dev', inside);
      ip('-n', netns, 'link', 'set', inside, 'up');
      return {
        name,
        netns,
        address,
        run: (command, args) => execFileSync('ip', ['netns', 'exec', netns, command, ...args], { encoding: 'utf8' }),
        spawn: (command, args, options = {}) => spawn('ip', ['netns', 'exec', netns, command, ...args], options),
        disconnect: () => ip('-n', netns, 'link', 'set', inside, 'down'),
        reconnect: () => ip('-n', netns, 'link', 'set', inside, 'up'),
      };
    },
    destroy: () => {
      if (destroyed) return;
      destroyed = true;
      live.delete(network);
      for (const ns of [...namespaces, sw]) {
        try {
          ip('netns', 'del', ns);
        } catch {
          // already gone
        }
      }
      try {
        ip('link', 'del', rootLink);
      } catch {
        // deleted with its peer in the switch namespace
      }
    },
  };

  try {
    ip('netns', 'add', sw);
    ip('-n', sw, 'link', 'add', 'br0', 'type', 'bridge');
    ip('-n', sw, 'link', 'set', 'br0', 'up');
    ip('link', 'add', rootLink, 'type', 'veth', 'peer', 'name', `v${tag}sr`, 'netns', sw);
    ip('-n', sw, 'link', 'set', `v${tag}sr`, 'master', 'br0', 'up');
    ip('addr', 'add', `${network.clientAddress}/24`, 'dev', rootLink);
    ip('link', 'set', rootLink, 'up');
  } catch (e) {
    network.destroy();
    throw e;
  }
  live.add(network);
  return network;
}
