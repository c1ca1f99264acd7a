/**
 * A SOAP 1.1 document/literal endpoint over HTTPS, owned end to end so that nothing is routed before
 * it is checked: the body is capped before it is read, parsed once, its frame checked, the caller
 * authenticated, and the operation taken from the Body's element (a SOAPAction that disagrees is
 * refused). Handlers are typed by the generated contract; every failure leaves as a fault from the
 * one fault table. One JSON log line per request.
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

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

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
      const text = await readBody(req, this.options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
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

/** Reads the body, refusing compressed bodies and anything over the cap before it is buffered. */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
  if (encoding !== 'identity')
    throw new VbsError('InvalidRequest', 'Content-Encoding other than identity is not accepted.');
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > maxBytes) throw new VbsError('RequestEntityTooLarge', `The request is larger than ${maxBytes} bytes.`);
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    let size = 0;
    const onData = (buf: Buffer): void => {
      size += buf.length;
      if (size > maxBytes) {
        // Stop buffering; Node discards the rest of the body once the fault has been sent.
        req.off('data', onData);
        reject(new VbsError('RequestEntityTooLarge', `The request is larger than ${maxBytes} bytes.`));
        return;
      }
      chunks.push(buf);
    };
    req.on('data', onData);
    req.once('end', resolve);
    req.once('error', reject);
  });
  const body = Buffer.concat(chunks);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw new VbsError('InvalidRequest', 'The request is not valid UTF-8.');
  }
}
