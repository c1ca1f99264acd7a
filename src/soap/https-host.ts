/**
 * Serves SOAP endpoints over HTTPS on one port: POST to an endpoint's path is a request, GET
 * PATH?wsdl is its WSDL. Everything else is 404. VBS services listen on 127.0.0.1 unless configured.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';

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
}

export interface RunningHost {
  readonly server: Server;
  readonly origin: string;
  close(): Promise<void>;
}

export async function startHttpsHost(options: HostOptions): Promise<RunningHost> {
  const byPath = new Map(options.endpoints.map((e) => [e.path, e]));
  let origin = '';
  const server = createServer({ cert: options.certPem, key: options.keyPem, minVersion: 'TLSv1.2' }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://vbs.invalid');
    const endpoint = byPath.get(url.pathname);
    if (!endpoint) {
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
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  origin = `https://${hostPart}:${address.port}`;
  return {
    server,
    origin,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
