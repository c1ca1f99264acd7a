/**
 * The frontend's clients of the VMM Delegates, one per registered endpoint. A delegate's fault is
 * definite (the node did nothing); the client is told what it means for its request, in the
 * frontend's words (NODE_FAULTS), never the node's own message, which goes to the log with the node's
 * request ID; a fault the table does not know is an InternalError of ours. A delegate that cannot be
 * reached is Server.Unavailable with effect 'none' when nothing was sent, and 'unknown' when the
 * request was sent and no answer came in time; so is a delegate's answer that the hypervisor did not
 * answer it in time (outcome "unknown").
 *
 * The endpoints are what nodes register, so the clients are kept for the MAX_VMM_CLIENTS endpoints
 * used last: a node that registers ever new URLs costs one client each, evicted in turn, never
 * memory without bound. An evicted client is closed once its calls in flight have ended; the next
 * call to its endpoint makes a new one (a new TLS connection, nothing else).
 */
import { VMM_CALL_TIMEOUT_MS } from '../config/config.js';
import { VbsError, type ErrorCode } from '../core/errors.js';
import type { Logger } from '../log.js';
import { SoapClient, SoapFault, TransportError } from '../soap/client.js';
import { signedAs, type Signer } from '../security/wssec/sign.js';
import { schema, type VmmDelegatePortTypeOperations } from '../generated/vmm-delegate.js';
import type { DiskToAttach, DiskToDetach, VmmDelegates } from './usecases/delegate-ports.js';

/** What a node's fault means for the client's request; any other code is an InternalError of ours. */
const NODE_FAULTS: Readonly<Partial<Record<string, { readonly code: ErrorCode; readonly message: string }>>> = {
  'InvalidInstanceID.NotFound': {
    code: 'InvalidInstanceID.NotFound',
    message: 'The instance does not exist on its hypervisor node any more.',
  },
  'InvalidAttachment.NotFound': {
    code: 'InvalidAttachment.NotFound',
    message: 'The instance does not hold this volume.',
  },
  InvalidParameterValue: { code: 'InvalidParameterValue', message: 'The device is already in use in this instance.' },
  VolumeInUse: {
    code: 'VolumeInUse',
    message: 'The hypervisor refused the attachment: the volume file is in use by another instance.',
  },
  Unavailable: {
    code: 'Unavailable',
    message: 'The hypervisor node of this instance cannot do this now. Try again later.',
  },
};

/**
 * Clients kept at once: far more nodes than a VBS deployment has, each client a few KB and its idle
 * connections closed by the node within seconds.
 */
export const MAX_VMM_CLIENTS = 1024;

type Client = SoapClient<VmmDelegatePortTypeOperations>;

interface Kept {
  readonly client: Client;
  calls: number;
  evicted: boolean;
}

export class VmmDelegatePool implements VmmDelegates {
  /** By endpoint, the one used last at the end (a Map keeps insertion order). */
  private readonly clients = new Map<string, Kept>();

  constructor(
    private readonly caPem: string,
    private readonly signer: Signer,
    private readonly logger: Logger,
    private readonly timeoutMs = VMM_CALL_TIMEOUT_MS,
    private readonly maxClients = MAX_VMM_CLIENTS,
  ) {}

  get callTimeoutMs(): number {
    return this.timeoutMs;
  }

  /** Clients kept now (evicted ones still finishing a call are not). */
  get keptClients(): number {
    return this.clients.size;
  }

  /** Runs `call` on the endpoint's client, made if need be, and keeps it as the one used last. */
  private async withClient<T>(endpoint: string, call: (c: Client) => Promise<T>): Promise<T> {
    let kept = this.clients.get(endpoint);
    if (kept) this.clients.delete(endpoint);
    else {
      kept = {
        client: new SoapClient<VmmDelegatePortTypeOperations>(schema, 'VmmDelegatePortType', {
          url: endpoint,
          caPem: this.caPem,
          timeoutMs: this.timeoutMs,
          envelope: signedAs(this.signer),
        }),
        calls: 0,
        evicted: false,
      };
    }
    this.clients.set(endpoint, kept);
    for (const [oldest, k] of this.clients) {
      if (this.clients.size <= this.maxClients) break;
      this.clients.delete(oldest);
      k.evicted = true;
      if (k.calls === 0) k.client.close();
    }
    const mine = kept;
    mine.calls++;
    try {
      return await call(mine.client);
    } finally {
      mine.calls--;
      if (mine.evicted && mine.calls === 0) mine.client.close();
    }
  }

  async attach(endpoint: string, disk: DiskToAttach): Promise<void> {
    const { mode, ...rest } = disk;
    const answer = await this.relay(endpoint, () =>
      this.withClient(endpoint, (c) => c.call('AttachDisk', { ...rest, attachMode: mode })),
    );
    if (answer.outcome !== 'attached') throw notAnswered(new Error(`AttachDisk answered "${answer.outcome}"`));
  }

  async detach(endpoint: string, disk: DiskToDetach): Promise<{ readonly held: boolean }> {
    const answer = await this.relay(endpoint, () => this.withClient(endpoint, (c) => c.call('DetachDisk', disk)));
    if (answer.outcome === 'detached') return { held: true };
    if (answer.outcome === 'not-held') return { held: false };
    throw notAnswered(new Error(`DetachDisk answered "${answer.outcome}"`));
  }

  private async relay<T>(endpoint: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof SoapFault) {
        this.logger.warn('VMM Delegate answered with a fault', {
          endpoint,
          nodeCode: error.code,
          nodeMessage: error.message,
          nodeRequestId: error.requestId,
        });
        const meant = NODE_FAULTS[error.code];
        throw meant
          ? new VbsError(meant.code, meant.message, { cause: error })
          : new VbsError('InternalError', 'The hypervisor node failed.', { cause: error });
      }
      if (error instanceof TransportError) {
        if (error.effect === 'unknown') throw notAnswered(error);
        throw new VbsError(
          'Unavailable',
          'The hypervisor node of this instance does not answer now. Try again later.',
          { cause: error, effect: 'none' },
        );
      }
      throw error;
    }
  }

  close(): void {
    for (const k of this.clients.values()) k.client.close();
  }
}

/**
 * The node was asked and did not say it is done (no answer in time, or "unknown"): it may still do it.
 * The cause, for the log, says which.
 */
function notAnswered(cause: Error): VbsError {
  return new VbsError(
    'Unavailable',
    'The hypervisor node did not finish in time; the attachment is settled by its next report.',
    { cause, effect: 'unknown' },
  );
}
