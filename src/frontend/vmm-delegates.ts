/**
 * The frontend's clients of the VMM Delegates, one per registered endpoint. A delegate's fault is
 * definite (the node did nothing); the client is told what it means for its request, in the
 * frontend's words (NODE_FAULTS), never the node's own message, which goes to the log with the node's
 * request ID; a fault the table does not know is an InternalError of ours. A delegate that cannot be
 * reached is Server.Unavailable with effect 'none' when nothing was sent, and 'unknown' when the
 * request was sent and no answer came in time; so is a delegate's answer that the hypervisor did not
 * answer it in time (outcome "unknown").
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

export class VmmDelegatePool implements VmmDelegates {
  private readonly clients = new Map<string, SoapClient<VmmDelegatePortTypeOperations>>();

  constructor(
    private readonly caPem: string,
    private readonly signer: Signer,
    private readonly logger: Logger,
    private readonly timeoutMs = VMM_CALL_TIMEOUT_MS,
  ) {}

  get callTimeoutMs(): number {
    return this.timeoutMs;
  }

  private client(endpoint: string): SoapClient<VmmDelegatePortTypeOperations> {
    let c = this.clients.get(endpoint);
    if (!c) {
      c = new SoapClient<VmmDelegatePortTypeOperations>(schema, 'VmmDelegatePortType', {
        url: endpoint,
        caPem: this.caPem,
        timeoutMs: this.timeoutMs,
        envelope: signedAs(this.signer),
      });
      this.clients.set(endpoint, c);
    }
    return c;
  }

  async attach(endpoint: string, disk: DiskToAttach): Promise<void> {
    const { mode, ...rest } = disk;
    const answer = await this.relay(endpoint, () =>
      this.client(endpoint).call('AttachDisk', { ...rest, attachMode: mode }),
    );
    if (answer.outcome !== 'attached') throw notAnswered(new Error(`AttachDisk answered "${answer.outcome}"`));
  }

  async detach(endpoint: string, disk: DiskToDetach): Promise<{ readonly held: boolean }> {
    const answer = await this.relay(endpoint, () => this.client(endpoint).call('DetachDisk', disk));
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
    for (const c of this.clients.values()) c.close();
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
