/**
 * A TCP proxy on 127.0.0.1 in front of a service, to make its network misbehave on purpose (TLS goes
 * through it untouched). Each new connection takes the mode of the moment:
 *  - 'pass': both directions are forwarded;
 *  - 'swallow': the request reaches the service, its answer never comes back (a timeout after the
 *    service acted: "unknown"). TLS must still be set up, so the service's bytes pass until the
 *    client has sent more than a handshake's worth (SWALLOW_AFTER_BYTES): from then on, what the
 *    client sent is its request, and nothing more comes back;
 *  - 'hold': the connection is accepted and nothing is forwarded (the request never arrives).
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export type ProxyMode = 'pass' | 'swallow' | 'hold';

/** More than a TLS client sends to set up a connection (its hello, key share, finished), less than a signed request. */
const SWALLOW_AFTER_BYTES = 1500;

export interface TcpProxy {
  readonly port: number;
  mode: ProxyMode;
  /** Connections accepted so far, by the mode they were accepted in. */
  readonly accepted: Record<ProxyMode, number>;
  /** Breaks every connection open now, so that the next request opens one in the current mode. */
  cut(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, mode: ProxyMode = 'pass'): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const accepted: Record<ProxyMode, number> = { pass: 0, swallow: 0, hold: 0 };
  const track = (s: Socket): Socket => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
    return s;
  };
  const proxy: { mode: ProxyMode } = { mode };
  const server = createServer((client) => {
    track(client);
    const now = proxy.mode;
    accepted[now]++;
    if (now === 'hold') return;
    const upstream = track(connect(targetPort, '127.0.0.1'));
    client.pipe(upstream);
    if (now === 'pass') upstream.pipe(client);
    else {
      let sent = 0;
      client.on('data', (chunk: Buffer) => (sent += chunk.length));
      upstream.on('data', (chunk: Buffer) => {
        if (sent <= SWALLOW_AFTER_BYTES) client.write(chunk);
      });
    }
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    get mode() {
      return proxy.mode;
    },
    set mode(m: ProxyMode) {
      proxy.mode = m;
    },
    accepted,
    cut: () => {
      for (const s of sockets) s.destroy();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The same URL on the proxy's port. */
export function viaProxy(url: string, proxy: TcpProxy): string {
  const u = new URL(url);
  u.port = String(proxy.port);
  return u.toString();
}
