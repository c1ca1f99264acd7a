/**
 * The caps on a service's open connections (src/soap/limits.ts), checked as each TCP connection is
 * accepted, before TLS: one over a cap is closed at once and costs no handshake.
 *
 * The cap in all counts every open connection. The cap per client address counts only the
 * connections of that address that have not yet been answered once: those still in their TLS
 * handshake or sending their first request. That is what a slow client holds, and what an honest
 * client holds only for the milliseconds its first request takes to arrive; a busy client's pooled
 * keep-alive connections, answered long ago, never count, however many share its address (a NAT,
 * a host running several clients). Once answered, a connection has cost its client a handshake and
 * a whole request, and it is bounded by the idle, header and request deadlines and by the cap in all.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../log.js';
import { MAX_CONNECTIONS, MAX_CONNECTIONS_PER_CLIENT } from './limits.js';

/**
 * Connections refused by a cap are logged as one line per this period, with their count: an
 * abusive client makes thousands, and each must not become a line of the log.
 */
const REFUSALS_LOG_EVERY_MS = 10_000;

export type Cap = 'perClient' | 'total';

interface Admitted {
  readonly client: string;
  answered: boolean;
}

interface Refusals {
  readonly limit: number;
  count: number;
  client: string;
  timer: NodeJS.Timeout | undefined;
}

export class ConnectionCaps {
  private open = 0;
  /** Per client address, its open connections not yet answered. */
  private readonly unanswered = new Map<string, number>();
  /** Open connections by their peer's address and port (the same on the TCP and the TLS socket). */
  private readonly byPeer = new Map<string, Admitted>();
  private readonly refusals: Record<Cap, Refusals>;

  constructor(
    private readonly logger: Logger,
    limits: { readonly perClient: number; readonly total: number } = {
      perClient: MAX_CONNECTIONS_PER_CLIENT,
      total: MAX_CONNECTIONS,
    },
  ) {
    const refusals = (limit: number): Refusals => ({ limit, count: 0, client: '', timer: undefined });
    this.refusals = { perClient: refusals(limits.perClient), total: refusals(limits.total) };
  }

  /** Takes a newly accepted TCP connection in, or closes it at once (false) when it is over a cap. */
  admit(socket: Socket): boolean {
    const client = socket.remoteAddress ?? '?';
    const fromClient = this.unanswered.get(client) ?? 0;
    const over: Cap | undefined =
      this.open >= this.refusals.total.limit
        ? 'total'
        : fromClient >= this.refusals.perClient.limit
          ? 'perClient'
          : undefined;
    if (over) {
      socket.destroy();
      this.refused(over, client);
      return false;
    }
    const peer = peerOf(socket);
    const admitted: Admitted = { client, answered: false };
    this.open++;
    this.unanswered.set(client, fromClient + 1);
    this.byPeer.set(peer, admitted);
    socket.once('close', () => {
      this.open--;
      this.byPeer.delete(peer);
      if (!admitted.answered) this.uncount(client);
    });
    return true;
  }

  /** A request on this connection (its TLS socket) has been answered: it no longer counts against its address. */
  answered(peer: string): void {
    const admitted = this.byPeer.get(peer);
    if (!admitted || admitted.answered) return;
    admitted.answered = true;
    this.uncount(admitted.client);
  }

  get openConnections(): number {
    return this.open;
  }

  /** Logs what was refused since the last line; the host's stop calls it. */
  flush(): void {
    for (const cap of ['perClient', 'total'] as const) {
      clearTimeout(this.refusals[cap].timer);
      this.refusals[cap].timer = undefined;
      this.logRefusals(cap);
    }
  }

  private uncount(client: string): void {
    const left = (this.unanswered.get(client) ?? 1) - 1;
    if (left > 0) this.unanswered.set(client, left);
    else this.unanswered.delete(client);
  }

  private refused(cap: Cap, client: string): void {
    const r = this.refusals[cap];
    r.count++;
    r.client = client;
    if (r.timer) return;
    // The first refusal at once, then one line per period with how many followed.
    this.logRefusals(cap);
    r.timer = setTimeout(() => {
      r.timer = undefined;
      this.logRefusals(cap);
    }, REFUSALS_LOG_EVERY_MS);
    r.timer.unref();
  }

  private logRefusals(cap: Cap): void {
    const r = this.refusals[cap];
    if (r.count > 0) {
      this.logger.warn('connections refused: over the connection caps', {
        cap,
        limit: r.limit,
        refused: r.count,
        lastClient: r.client,
        open: this.open,
      });
    }
    r.count = 0;
  }
}

/** A connection's peer, the same on its TCP socket and on the TLS socket over it. */
export function peerOf(socket: Socket): string {
  return `${socket.remoteAddress ?? '?'}|${socket.remotePort ?? '?'}`;
}
