/**
 * Serves SOAP endpoints over HTTPS on one port: POST to an endpoint's path is a request, GET
 * PATH?wsdl is its WSDL. Everything else is 404. VBS services listen on 127.0.0.1 unless configured.
 *
 * No client can hold the process (src/soap/limits.ts): a TLS handshake, a request's headers and a
 * whole request each have a deadline of a few seconds, an idle keep-alive connection is closed, a
 * connection beyond the caps (per client address, in all: connection-caps.ts) is closed as soon as
 * it is accepted, and a connection may have only a few pipelined requests unanswered. The body's own idle limit is the
 * endpoint's (readBody in server.ts), as only it reads the body.
 *
 * close() is a service's graceful stop (SIGTERM, SIGINT): no new connection is accepted, every
 * request already received is answered (with `Connection: close`, so that its client does not send
 * another on that connection), idle keep-alive connections are closed, and what still runs after
 * STOP_GRACE_MS is cut off and logged.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Server as TlsServer } from 'node:tls';
import type { Logger } from '../log.js';
import { ConnectionCaps, peerOf } from './connection-caps.js';
import {
  DEADLINE_CHECK_INTERVAL_MS,
  HEADERS_TIMEOUT_MS,
  KEEP_ALIVE_IDLE_MS,
  MAX_REQUESTS_IN_FLIGHT_PER_CONNECTION,
  REQUEST_DEADLINE_MS,
  TLS_HANDSHAKE_TIMEOUT_MS,
} from './limits.js';

/**
 * The bound of every service's graceful stop: how long a stopping service goes on answering the
 * requests it has (and the Volume Delegate waits for its jobs to stop). What still runs then is cut
 * off. One setting for every service, so that whoever stops a service knows how long to wait.
 */
export const STOP_GRACE_MS = 10_000;

/**
 * While stopping, a keep-alive connection with no request is closed once it has been idle this long.
 * Not at once: a client that just had an answer may be sending its next request on that connection
 * right now, and closing under it would reset a request that was sent.
 */
const IDLE_CLOSE_MS = 500;
const DRAIN_POLL_MS = 50;

export interface Endpoint {
  readonly path: string;
  wsdl(origin: string): string;
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

export interface HostOptions {
  readonly host: string;
  readonly port: number;
  readonly certPem: string;
  readonly keyPem: string;
  readonly endpoints: readonly Endpoint[];
  /** Where requests cut off by a stop are logged. */
  readonly logger: Logger;
}

export interface StopOutcome {
  /** Requests still running at the bound, cut off (each logged). */
  readonly cutOff: number;
  readonly durationMs: number;
}

export interface RunningHost {
  readonly server: Server;
  readonly origin: string;
  /**
   * Stops accepting connections, answers the requests in flight, closes idle connections, and
   * resolves once every connection is closed; requests still running after `graceMs` are cut off
   * and logged. Calling it again returns the same stop.
   */
  close(graceMs?: number): Promise<StopOutcome>;
}

/** An HTTP connection (TLS up): how many of its requests are unanswered, and since when it has none. */
interface Connection {
  busy: number;
  idleSince: number;
}

interface InFlight {
  readonly connection: Connection | undefined;
  readonly startedAt: number;
  readonly method: string;
  readonly path: string;
  readonly soapAction: string | undefined;
  readonly remote: string | undefined;
}

export async function startHttpsHost(options: HostOptions): Promise<RunningHost> {
  const byPath = new Map(options.endpoints.map((e) => [e.path, e]));
  let origin = '';
  let stopping = false;
  /** Every accepted TCP socket, TLS up or not: what is cut at the bound. */
  const sockets = new Set<Socket>();
  const connections = new Map<Socket, Connection>();
  const inFlight = new Map<ServerResponse, InFlight>();
  const caps = new ConnectionCaps(options.logger);

  const server = createServer(
    {
      cert: options.certPem,
      key: options.keyPem,
      minVersion: 'TLSv1.2',
      handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS,
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: REQUEST_DEADLINE_MS,
      connectionsCheckingInterval: DEADLINE_CHECK_INTERVAL_MS,
      keepAliveTimeout: KEEP_ALIVE_IDLE_MS,
    },
    (req, res) => serve(req, res),
  );

  const serve = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'https://vbs.invalid');
    const connection = connections.get(req.socket);
    if (connection) connection.busy++;
    inFlight.set(res, {
      connection,
      startedAt: Date.now(),
      method: req.method ?? '?',
      path: url.pathname,
      soapAction: req.headers['soapaction']?.toString(),
      remote: req.socket.remoteAddress,
    });
    const peer = peerOf(req.socket);
    res.once('finish', () => caps.answered(peer));
    res.once('close', () => {
      inFlight.delete(res);
      if (connection) {
        connection.busy--;
        connection.idleSince = Date.now();
      }
    });
    // A request that arrives while stopping is answered too, and its connection closed after it.
    if (stopping) closeAfter(res, connection);
    const endpoint = byPath.get(url.pathname);
    if (connection && connection.busy > MAX_REQUESTS_IN_FLIGHT_PER_CONNECTION) {
      // Pipelined beyond the cap: not run. Answered in turn, after those before it, and the connection ends there.
      res.writeHead(503, { 'content-type': 'text/plain', connection: 'close', 'retry-after': '1' });
      res.end('too many requests in flight on this connection\n');
    } else if (!endpoint) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    } else if (req.method === 'GET' && url.search.toLowerCase() === '?wsdl') {
      res.writeHead(200, { 'content-type': 'text/xml; charset=utf-8' }).end(endpoint.wsdl(origin));
    } else if (req.method === 'POST') {
      endpoint.handle(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
      });
    } else {
      res.writeHead(405, { allow: 'POST, GET' }).end();
    }
  };

  // Before TLS takes the socket (tls.Server's own listener was added first).
  server.prependListener('connection', (socket: Socket) => {
    if (!caps.admit(socket)) return;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('secureConnection', (socket: Socket) => {
    connections.set(socket, { busy: 0, idleSince: Date.now() });
    socket.once('close', () => connections.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  origin = `https://${hostPart}:${address.port}`;

  /**
   * Asks for the connection to be closed after this answer, unless more requests wait on it (HTTP
   * pipelining): closing after the first would drop the others, so that connection is left to closeIdle.
   */
  function closeAfter(res: ServerResponse, connection: Connection | undefined): void {
    if (!res.headersSent && (connection?.busy ?? 1) <= 1) res.setHeader('connection', 'close');
  }

  const closeIdle = (): void => {
    const now = Date.now();
    const idle = [...connections].flatMap(([socket, c]) =>
      c.busy === 0 && now - c.idleSince >= IDLE_CLOSE_MS ? [{ socket, c, since: c.idleSince }] : [],
    );
    if (idle.length === 0) return;
    // Closed only after the event loop has read what arrived meanwhile (its poll phase runs between
    // this timer and setImmediate): under load the loop lags, and a connection that looks idle here
    // may hold a request that waits to be read.
    setImmediate(() => {
      for (const { socket, c, since } of idle) if (c.busy === 0 && c.idleSince === since) socket.destroy();
    });
  };

  let stopped: Promise<StopOutcome> | undefined;
  const close = (graceMs: number): Promise<StopOutcome> =>
    new Promise((resolve) => {
      const startedAt = Date.now();
      stopping = true;
      let cutOff = 0;
      for (const [res, r] of inFlight) closeAfter(res, r.connection);
      const poll = setInterval(closeIdle, DRAIN_POLL_MS);
      const bound = setTimeout(() => {
        const now = Date.now();
        cutOff = inFlight.size;
        for (const r of inFlight.values()) {
          options.logger.error('request cut off by stop', {
            method: r.method,
            path: r.path,
            soapAction: r.soapAction,
            remote: r.remote,
            runningMs: now - r.startedAt,
            graceMs,
          });
        }
        for (const socket of connections.keys()) socket.destroy();
        for (const socket of sockets) socket.destroy();
      }, graceMs);
      // net's close, not https's: https's also destroys at once every connection that is idle at this
      // instant, which resets a request a client is sending on it right now (see IDLE_CLOSE_MS).
      TlsServer.prototype.close.call(server, () => {
        clearInterval(poll);
        clearTimeout(bound);
        caps.flush();
        resolve({ cutOff, durationMs: Date.now() - startedAt });
      });
      closeIdle();
    });

  return {
    server,
    origin,
    close: (graceMs = STOP_GRACE_MS) => {
      stopped ??= close(graceMs);
      return stopped;
    },
  };
}
