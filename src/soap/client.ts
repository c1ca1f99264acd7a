/**
 * A typed SOAP client over HTTPS for VBS's own callers (the CLI, the frontend calling delegates,
 * delegates calling back). It speaks exactly the WSDL's contract through the same codec as the
 * servers, trusts only the given CA, and turns a fault into a SoapFault carrying the EC2 code.
 */
import { Agent, request } from 'node:https';
import { VbsError, ERROR_CODES, type Effect, type ErrorCode } from '../core/errors.js';
import { decodeElement } from './decode.js';
import type { EnvelopeWriter } from './envelope-writer.js';
import { encodeElement } from './encode.js';
import { elementChildren, parseXml, SOAP_ENV_NS } from './envelope.js';
import type { ServiceSchema } from './schema.js';
import { FAULT_DETAIL_NS, plainEnvelope } from './faults.js';
import { DEFAULT_MAX_RESPONSE_BYTES } from './limits.js';
import type { OperationsOf } from './server.js';

export class SoapFault extends Error {
  override readonly name = 'SoapFault';
  constructor(
    /** The EC2 error code, e.g. InvalidVolume.NotFound. */
    readonly code: string,
    readonly faultcode: string,
    message: string,
    readonly requestId: string | undefined,
  ) {
    super(message);
  }

  /** The same error, to pass on to our own caller, when its code is one of ours. */
  toVbsError(): VbsError {
    const known = ERROR_CODES.find((c) => c === this.code);
    return new VbsError(known ?? 'InternalError', this.message, { cause: this });
  }
}

/**
 * The endpoint could not be reached or did not answer as a SOAP service. `effect` says whether the
 * request may have reached it: 'none' when no connection to the service was made (refused, no route,
 * TLS not established), so nothing was sent; 'unknown' when the request was sent (or may have been)
 * and no answer came: a timeout, a reset, an answer that is not SOAP.
 */
export class TransportError extends Error {
  override readonly name = 'TransportError';
  constructor(
    message: string,
    readonly effect: Effect,
  ) {
    super(message);
  }
}

class StaleSocketError extends TransportError {}

export interface ClientOptions {
  readonly url: string;
  readonly caPem: string;
  readonly timeoutMs?: number;
  /** Client certificate for mutual TLS, when a service asks for one. */
  readonly certPem?: string;
  readonly keyPem?: string;
  /** Writes every request: plain when unset; signedAs(identity) signs it (WS-Security X.509). */
  readonly envelope?: EnvelopeWriter;
  /**
   * An answer larger than this is not read further: the call fails with a TransportError whose
   * effect is 'unknown' (the request was sent). Default DEFAULT_MAX_RESPONSE_BYTES.
   */
  readonly maxResponseBytes?: number;
}

export class SoapClient<Ops extends OperationsOf<Ops>> {
  private readonly agent: Agent;
  private readonly url: URL;

  constructor(
    private readonly schema: ServiceSchema,
    private readonly portType: string,
    private readonly options: ClientOptions,
  ) {
    this.url = new URL(options.url);
    if (this.url.protocol !== 'https:') throw new Error(`VBS speaks HTTPS only: ${options.url}`);
    this.agent = new Agent({
      keepAlive: true,
      ca: options.caPem,
      cert: options.certPem,
      key: options.keyPem,
      maxSockets: 64,
    });
  }

  async call<K extends keyof Ops & string>(operation: K, input: Ops[K]['input']): Promise<Ops[K]['output']> {
    const spec = this.schema.portTypes[this.portType]?.[operation];
    if (!spec) throw new Error(`no operation ${operation} in ${this.portType}`);
    const request = encodeElement(this.schema, spec.input, input);
    const body = (this.options.envelope ?? plainEnvelope)(request);
    const { status, text } = await this.post(operation, body);
    let doc: ReturnType<typeof parseXml>;
    try {
      doc = parseXml(text);
    } catch {
      throw new TransportError(`HTTP ${status} with an answer that is not XML from ${this.url.href}`, 'unknown');
    }
    const envelope = doc.documentElement;
    const soapBody = envelope
      ? elementChildren(envelope).find((e) => e.localName === 'Body' && e.namespaceURI === SOAP_ENV_NS)
      : undefined;
    const payload = soapBody ? elementChildren(soapBody)[0] : undefined;
    if (!payload) throw new TransportError(`HTTP ${status} without a SOAP body from ${this.url.href}`, 'unknown');
    if (payload.localName === 'Fault' && payload.namespaceURI === SOAP_ENV_NS) throw faultOf(payload);
    if (payload.localName !== spec.output)
      throw new TransportError(`unexpected answer ${payload.localName ?? '?'} to ${operation}`, 'unknown');
    return decodeElement<Ops[K]['output']>(this.schema, payload, spec.output);
  }

  close(): void {
    this.agent.destroy();
  }

  private async post(operation: string, body: string): Promise<{ status: number; text: string }> {
    try {
      return await this.postOnce(operation, body);
    } catch (error) {
      // A kept-alive socket the server had already closed: Node's documented case for sending again,
      // once, on a fresh socket. Our requests are idempotent, but the first may have arrived after all.
      if (!(error instanceof StaleSocketError)) throw error;
      try {
        return await this.postOnce(operation, body);
      } catch (again) {
        if (again instanceof TransportError && again.effect === 'none')
          throw new TransportError(again.message, 'unknown');
        throw again;
      }
    }
  }

  private postOnce(operation: string, body: string): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      // Until TLS is up on a new socket, nothing of the request has left: a failure then had no effect.
      let connected = false;
      const req = request(
        this.url,
        {
          method: 'POST',
          agent: this.agent,
          timeout: this.options.timeoutMs ?? 30_000,
          headers: {
            'content-type': 'text/xml; charset=utf-8',
            soapaction: `"${operation}"`,
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          const max = this.options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
          // The peer chooses the size: past the cap nothing more is read, and the connection is dropped.
          const tooLarge = (): void => {
            reject(new TransportError(`${this.url.origin}: the answer is larger than ${max} bytes`, 'unknown'));
            req.destroy();
          };
          if (Number(res.headers['content-length'] ?? '0') > max) {
            tooLarge();
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > max) tooLarge();
            else chunks.push(c);
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', (e) => reject(new TransportError(e.message, 'unknown')));
        },
      );
      req.on('socket', (socket) => {
        if (req.reusedSocket) connected = true;
        else socket.once('secureConnect', () => (connected = true));
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.options.timeoutMs ?? 30_000} ms`)));
      req.on('error', (e: NodeJS.ErrnoException) => {
        const stale = req.reusedSocket && e.code === 'ECONNRESET';
        const effect = connected ? 'unknown' : 'none';
        reject(
          stale
            ? new StaleSocketError(e.message, 'unknown')
            : new TransportError(`${this.url.origin}: ${e.message}`, effect),
        );
      });
      req.end(body);
    });
  }
}

type XmlElement = import('@xmldom/xmldom').Element;

/** The text of `parent`'s first child element named `localName` in namespace `ns` (null: no namespace). */
function childText(parent: XmlElement | undefined, ns: string | null, localName: string): string | undefined {
  const found = parent
    ? elementChildren(parent).find((e) => e.localName === localName && (e.namespaceURI ?? null) === ns)
    : undefined;
  return found ? (found.textContent ?? '') : undefined;
}

/**
 * A fault as faults.ts writes it: the EC2 code in faultcode (`soap:Client.CODE`), and in detail one
 * vbs:Error with Code, Message and RequestID. A fault without that element (another service) still
 * gives its code from faultcode.
 */
function faultOf(fault: XmlElement): SoapFault {
  const faultcode = childText(fault, null, 'faultcode') ?? '';
  const message = childText(fault, null, 'faultstring') ?? '';
  const detail = elementChildren(fault).find((e) => e.localName === 'detail' && (e.namespaceURI ?? null) === null);
  const error = detail
    ? elementChildren(detail).find((e) => e.localName === 'Error' && e.namespaceURI === FAULT_DETAIL_NS)
    : undefined;
  const code =
    childText(error, FAULT_DETAIL_NS, 'Code') ?? faultcode.replace(/^[^:]*:/, '').replace(/^(Client|Server)\./, '');
  return new SoapFault(code, faultcode, message, childText(error, FAULT_DETAIL_NS, 'RequestID'));
}

export function isErrorCode(code: string): code is ErrorCode {
  return (ERROR_CODES as readonly string[]).includes(code);
}
