/**
 * Load for the graceful-stop tests: several clients, each with its own keep-alive connections (as the
 * SoapClient and the CLI have), each sending signed requests from several loops at once, and what
 * became of every request: whether it was sent (TLS was up on its connection, so its bytes left) and
 * whether an HTTP answer came back.
 */
import { Agent, request } from 'node:https';
import { signEnvelope, type Signer } from '../../src/security/wssec/sign.js';
import { ec2Body } from '../security/e2e/e2e-helpers.js';

export interface Sent {
  readonly client: number;
  readonly operation: string;
  /** TLS was up on its connection (one reused, or a new one that connected): the request left. */
  readonly sent: boolean;
  readonly startedAt: number;
  readonly endedAt: number;
  /** The HTTP status, when an answer came. */
  readonly status: number | undefined;
  readonly body: string;
  /** What went wrong instead (the error's code), when no answer came. */
  readonly error: string | undefined;
}

/** Posts `text` on `agent`, and says what became of it; never rejects. */
export function postOn(agent: Agent, url: string, text: string, operation: string, client = 0): Promise<Sent> {
  return new Promise((resolve) => {
    const startedAt = Date.now();
    let sent = false;
    let settled = false;
    const settle = (fields: Pick<Sent, 'status' | 'body' | 'error'>): void => {
      if (settled) return;
      settled = true;
      resolve({ client, operation, sent, startedAt, endedAt: Date.now(), ...fields });
    };
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: `"${operation}"` },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          settle({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8'), error: undefined }),
        );
        res.on('error', (e: NodeJS.ErrnoException) =>
          settle({ status: undefined, body: '', error: e.code ?? e.message }),
        );
      },
    );
    req.on('socket', (socket) => {
      if (req.reusedSocket) sent = true;
      else socket.once('secureConnect', () => (sent = true));
    });
    req.on('error', (e: NodeJS.ErrnoException) => settle({ status: undefined, body: '', error: e.code ?? e.message }));
    req.end(text);
  });
}

export interface LoadOptions {
  readonly url: string;
  readonly caPem: string;
  /** One client per signer, each with its own agent. */
  readonly signers: readonly Signer[];
  /** Requests each client has in flight at once. */
  readonly concurrency: number;
  /** Every `createEvery`-th request of a loop is a CreateVolume; the others are DescribeVolumes. */
  readonly createEvery: number;
}

export interface Load {
  /** Every request so far, in the order they ended. */
  readonly results: readonly Sent[];
  /** Resolves once every loop ended: each ends at its first request that got no answer. */
  readonly done: Promise<void>;
  /** Ends every loop after its request in flight. */
  stop(): void;
}

/** Sends until told to stop; a loop ends by itself at its first request that got no answer. */
export function startLoad(options: LoadOptions): Load {
  const results: Sent[] = [];
  let stopped = false;
  const clients = options.signers.map((signer) => ({
    signer,
    agent: new Agent({ keepAlive: true, ca: options.caPem, maxSockets: options.concurrency }),
  }));
  const loop = async (client: number, signer: Signer, agent: Agent): Promise<void> => {
    for (let n = 0; !stopped; n++) {
      const create = n % options.createEvery === options.createEvery - 1;
      const operation = create ? 'CreateVolume' : 'DescribeVolumes';
      const body = create
        ? ec2Body('CreateVolume', { size: '1', availabilityZone: 'vbs-local-1a' })
        : ec2Body('DescribeVolumes', { volumeSet: {} });
      const result = await postOn(agent, options.url, signEnvelope(body, signer), operation, client);
      results.push(result);
      if (result.status === undefined) return;
    }
  };
  const loops = clients.flatMap(({ signer, agent }, client) =>
    Array.from({ length: options.concurrency }, () => loop(client, signer, agent)),
  );
  const done = Promise.all(loops).then(() => {
    for (const { agent } of clients) agent.destroy();
  });
  return {
    results,
    done,
    stop: () => {
      stopped = true;
    },
  };
}

/** The volume ID of a CreateVolume answer. */
export function createdVolumeId(sent: Sent): string | undefined {
  return /<(?:[\w-]+:)?volumeId>([^<]+)</.exec(sent.body)?.[1];
}
