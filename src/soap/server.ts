/**
 * A SOAP 1.1 document/literal endpoint over HTTPS, owned end to end so that nothing is routed before
 * it is checked: the body is capped before it is read (and abandoned when it stalls), its markup
 * counted, parsed once, its frame checked, the caller authenticated, and the operation taken from the
 * Body's element (a SOAPAction that disagrees is refused). Handlers are typed by the generated
 * contract; every failure leaves as a fault from the one fault table. One JSON log line per request;
 * a client that goes away before its request is complete is a line at info, not an error.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { VbsError } from '../core/errors.js';
import type { Principal } from '../core/principal.js';
import type { Logger } from '../log.js';
import { decodeElement } from './decode.js';
import type { EnvelopeWriter } from './envelope-writer.js';
import { encodeElement } from './encode.js';
import { parseEnvelope, type ParsedEnvelope } from './envelope.js';
import { faultElement, faultFor, plainEnvelope } from './faults.js';
import { BODY_IDLE_TIMEOUT_MS, MAX_BODY_BYTES } from './limits.js';
import type { ServiceSchema } from './schema.js';

export interface RequestContext {
  readonly requestId: string;
  readonly principal: Principal;
}

export type OperationsOf<Ops> = { [K in keyof Ops]: { readonly input: object; readonly output: object } };

export type Handlers<Ops extends OperationsOf<Ops>> = {
  readonly [K in keyof Ops]: (input: Ops[K]['input'], ctx: RequestContext) => Promise<Ops[K]['output']>;
};

/** Decides who sent a parsed request, or throws AuthFailure; runs before any routing. */
export type Authenticator = (message: ParsedEnvelope, request: IncomingMessage) => Promise<Principal>;

export interface SoapEndpointOptions<Ops extends OperationsOf<Ops>> {
  readonly path: string;
  readonly schema: ServiceSchema;
  readonly portType: string;
  readonly wsdlFile: string;
  /** Rewrites the WSDL file's text once, before it is served (e.g. to drop extensions). */
  readonly wsdlTransform?: (text: string) => string;
  readonly handlers: Handlers<Ops>;
  readonly authenticate: Authenticator;
  readonly logger: Logger;
  readonly maxBodyBytes?: number;
  /** Writes every answer, faults too: plain when unset; services pass a signing one (WS-Security). */
  readonly envelope?: EnvelopeWriter;
}

interface Operation {
  readonly name: string;
  readonly input: string;
  readonly output: string;
}

export class SoapEndpoint<Ops extends OperationsOf<Ops>> {
  private readonly byInputElement = new Map<string, Operation>();
  private readonly wsdlText: string;

  constructor(private readonly options: SoapEndpointOptions<Ops>) {
    const ops = options.schema.portTypes[options.portType];
    if (!ops) throw new Error(`schema has no port type ${options.portType}`);
    for (const [name, spec] of Object.entries(ops)) this.byInputElement.set(spec.input, { name, ...spec });
    const text = readFileSync(options.wsdlFile, 'utf8');
    this.wsdlText = options.wsdlTransform ? options.wsdlTransform(text) : text;
  }

  get path(): string {
    return this.options.path;
  }

  /** The WSDL with this endpoint's soap:address pointing at where it is really served. */
  wsdl(origin: string): string {
    return this.wsdlText.replace(
      /(<soap:address location=")([^"]*)(")/g,
      (whole, pre: string, loc: string, post: string) => {
        try {
          return new URL(loc).pathname === this.options.path ? `${pre}${origin}${this.options.path}${post}` : whole;
        } catch {
          return whole;
        }
      },
    );
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const requestId = randomUUID();
    let operation = '-';
    let caller: string | undefined;
    let outcome = 'ok';
    let status = 200;
    let responseText: string;
    // Told to the envelope writer, which may sign the answer in the kind the request was signed with.
    let request: ParsedEnvelope | undefined;
    try {
      const text = await readBody(req, this.options.maxBodyBytes ?? MAX_BODY_BYTES);
      const message = parseEnvelope(text);
      request = message;
      const principal = await this.options.authenticate(message, req);
      caller = principal.userId;
      const op = this.operationOf(message, req);
      operation = op.name;
      const input = decodeElement<object>(this.options.schema, message.payload, op.input);
      const handler = this.options.handlers[op.name as keyof Ops];
      const output = await handler(input, { requestId, principal });
      responseText = this.envelope(encodeElement(this.options.schema, op.output, output), request);
    } catch (error) {
      if (error instanceof RequestAbandoned) {
        this.abandoned(req, res, requestId, error, started);
        return;
      }
      const fault = faultFor(error);
      outcome = fault.code;
      status = fault.httpStatus;
      responseText = this.envelope(faultElement(fault, requestId), request);
      if (fault.code === 'InternalError') {
        this.options.logger.error('internal error', { requestId, operation, error: describe(error) });
      }
    }
    res.writeHead(status, { 'content-type': 'text/xml; charset=utf-8', 'x-vbs-request-id': requestId });
    res.end(responseText);
    const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
    this.options.logger.info('request', {
      requestId,
      operation,
      caller,
      durationMs: Math.round(durationMs * 1000) / 1000,
      outcome,
    });
  }

  /**
   * The client stopped before its request was complete: it went away (or was cut off by the request
   * deadline), or its body stalled. Nobody waits for a fault; a stalled client is told 408 and the
   * connection closed. Logged at info: it is what clients on a bad network do, and what an abusive one
   * does thousands of times, so neither a stack nor an error.
   */
  private abandoned(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    why: RequestAbandoned,
    started: bigint,
  ): void {
    this.options.logger.info('request abandoned by its client', {
      requestId,
      reason: why.reason,
      receivedBytes: why.receivedBytes,
      durationMs: Math.round(Number(process.hrtime.bigint() - started) / 1e6),
      remote: req.socket.remoteAddress,
    });
    if (why.reason !== 'stalled' || res.headersSent) return;
    res.writeHead(408, { 'content-type': 'text/plain', connection: 'close' });
    res.end(`no part of the request body arrived for ${BODY_IDLE_TIMEOUT_MS} ms\n`);
    // The rest of the body will not come: the connection ends with this answer, whatever the client does.
    const socket = req.socket;
    res.once('finish', () => socket.destroy());
    setTimeout(() => socket.destroy(), BODY_IDLE_TIMEOUT_MS).unref();
  }

  private envelope(bodyXml: string, request: ParsedEnvelope | undefined): string {
    return (this.options.envelope ?? plainEnvelope)(bodyXml, { request });
  }

  private operationOf(message: ParsedEnvelope, req: IncomingMessage): Operation {
    const { payload } = message;
    const op =
      payload.namespaceURI === this.options.schema.namespace
        ? this.byInputElement.get(payload.localName ?? '')
        : undefined;
    if (!op)
      throw new VbsError(
        'InvalidAction',
        `The action ${clipName(payload.localName)} is not valid for this web service.`,
      );
    const action = (req.headers['soapaction'] ?? '').toString().replace(/^"|"$/g, '');
    // The Body decides the operation; a SOAPAction that names another one is an attack or a bug.
    if (action !== '' && action !== op.name && !action.endsWith(`/${op.name}`)) {
      throw new VbsError('InvalidAction', `The SOAPAction header does not match the operation ${op.name} in the Body.`);
    }
    return op;
  }
}

function clipName(name: string | null | undefined): string {
  const n = name ?? '?';
  return n.length > 64 ? `${n.slice(0, 64)}...` : n;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}\n${error.stack ?? ''}` : String(error);
}

/**
 * The client stopped before its request was complete: 'disconnected' when its connection closed (it
 * went away, or the host's request deadline cut it off), 'stalled' when its body sent nothing for
 * BODY_IDLE_TIMEOUT_MS.
 */
export class RequestAbandoned extends Error {
  override readonly name = 'RequestAbandoned';
  constructor(
    readonly reason: 'disconnected' | 'stalled',
    readonly receivedBytes: number,
  ) {
    super(`the client ${reason === 'stalled' ? 'stopped sending' : 'went away'} before its request was complete`);
  }
}

/**
 * Reads the body, refusing compressed bodies and anything over the cap before it is buffered, and
 * giving up on a body that sends nothing for `idleMs` (RequestAbandoned).
 */
export async function readBody(
  req: IncomingMessage,
  maxBytes: number,
  idleMs: number = BODY_IDLE_TIMEOUT_MS,
): Promise<string> {
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
  if (encoding !== 'identity')
    throw new VbsError('InvalidRequest', 'Content-Encoding other than identity is not accepted.');
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > maxBytes) throw new VbsError('RequestEntityTooLarge', `The request is larger than ${maxBytes} bytes.`);
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    let size = 0;
    let idle: NodeJS.Timeout | undefined;
    const settle = (error?: Error): void => {
      clearTimeout(idle);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onGone);
      req.off('close', onClose);
      if (error) reject(error);
      else resolve();
    };
    const arm = (): void => {
      clearTimeout(idle);
      idle = setTimeout(() => settle(new RequestAbandoned('stalled', size)), idleMs);
    };
    const onData = (buf: Buffer): void => {
      size += buf.length;
      // Stop buffering; Node discards the rest of the body once the fault has been sent.
      if (size > maxBytes)
        settle(new VbsError('RequestEntityTooLarge', `The request is larger than ${maxBytes} bytes.`));
      else {
        chunks.push(buf);
        arm();
      }
    };
    const onEnd = (): void => settle();
    const onGone = (): void => settle(new RequestAbandoned('disconnected', size));
    const onClose = (): void => {
      if (!req.complete) onGone();
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onGone);
    req.once('close', onClose);
    arm();
  });
  const body = Buffer.concat(chunks);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw new VbsError('InvalidRequest', 'The request is not valid UTF-8.');
  }
}
