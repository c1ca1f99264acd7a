/**
 * Clients no honest program is: raw TCP and TLS connections to a service, from any loopback address
 * (Linux routes all of 127.0.0.0/8 to lo, so each address is a client of its own for per-address
 * caps), that stay silent, trickle bytes or stall; and what became of each: when it was closed, and
 * what the service sent before.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';

export interface Target {
  readonly port: number;
  readonly caPem: string;
}

export function targetOf(url: string, caPem: string): Target {
  return { port: Number(new URL(url).port), caPem };
}

/**
 * A raw connection and what became of it, recorded from the start (a connection refused at once may
 * close before the test looks at it): what the service sent, and when it closed.
 */
export class Probe {
  received = '';
  closedAt: number | undefined;
  private readonly closing: Promise<void>;

  constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => (this.received += d.toString('latin1')));
    // A reset is a close too; the error itself says nothing more here.
    socket.on('error', () => undefined);
    this.closing = new Promise((resolve) =>
      socket.once('close', () => {
        this.closedAt = Date.now();
        resolve();
      }),
    );
  }

  /**
   * Waits until the connection closes or `watchMs` passes (then destroys it, so that nothing outlives
   * the test), and says how long after `since` it closed: undefined when it was still open.
   */
  async closedAfter(since: number, watchMs: number): Promise<number | undefined> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.closing, new Promise((resolve) => (timer = setTimeout(resolve, watchMs)))]);
    clearTimeout(timer);
    const at = this.closedAt;
    this.socket.destroy();
    return at === undefined ? undefined : at - since;
  }

  /** Waits until the service has sent `text` (true), or closed or `watchMs` passed first (false). */
  async receivedText(text: string, watchMs: number): Promise<boolean> {
    const until = Date.now() + watchMs;
    while (!this.received.includes(text) && this.closedAt === undefined && Date.now() < until)
      await new Promise((r) => setTimeout(r, 20));
    return this.received.includes(text);
  }
}

/** A TCP connection that never starts TLS; resolves once connected. */
export function rawTcp(target: Target, localAddress: string): Promise<Probe> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: '127.0.0.1', port: target.port, localAddress });
    const probe = new Probe(socket);
    socket.once('connect', () => resolve(probe));
    socket.once('error', reject);
  });
}

/** A TLS connection (the service's certificate checked) that has sent nothing yet. */
export function rawTls(target: Target, localAddress: string): Promise<Probe> {
  return new Promise((resolve, reject) => {
    const tcp = netConnect({ host: '127.0.0.1', port: target.port, localAddress });
    const socket: TLSSocket = tlsConnect({ socket: tcp, host: '127.0.0.1', ca: target.caPem });
    const probe = new Probe(socket);
    socket.once('secureConnect', () => resolve(probe));
    socket.once('error', reject);
    tcp.once('error', reject);
  });
}

/** Writes `text` one byte every `everyMs` until it is all sent or the socket closes. */
export function trickle(socket: Socket, text: string, everyMs: number): void {
  let i = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || i >= text.length) {
      clearInterval(timer);
      return;
    }
    socket.write(text.charAt(i++));
  }, everyMs);
  socket.once('close', () => clearInterval(timer));
}

/** The HTTP statuses in a stream of answers, in order. */
export function statuses(received: string): number[] {
  return [...received.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
}

/** The request line and headers of a POST to `path` announcing `length` bytes of body. */
export function postHead(path: string, length: number, extra = ''): string {
  return `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: ${length}\r\n${extra}\r\n`;
}
