/**
 * The frontend's clients of the VMM Delegates, one per registered endpoint. A delegate's fault is
 * passed on with its EC2 code; a delegate that cannot be reached is Server.Unavailable.
 */
import { VMM_CALL_TIMEOUT_MS } from '../config/config.js';
import { VbsError } from '../core/errors.js';
import { SoapClient, SoapFault, TransportError } from '../soap/client.js';
import { signedAs, type Signer } from '../security/wssec/sign.js';
import { schema, type VmmDelegatePortTypeOperations } from '../generated/vmm-delegate.js';
import type { DiskToAttach, DiskToDetach, VmmDelegates } from './usecases/delegate-ports.js';

export class VmmDelegatePool implements VmmDelegates {
  private readonly clients = new Map<string, SoapClient<VmmDelegatePortTypeOperations>>();

  constructor(
    private readonly caPem: string,
    private readonly signer: Signer,
    private readonly timeoutMs = VMM_CALL_TIMEOUT_MS,
  ) {}

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
    await this.relay(() => this.client(endpoint).call('AttachDisk', { ...rest, attachMode: mode }));
  }

  async detach(endpoint: string, disk: DiskToDetach): Promise<void> {
    await this.relay(() => this.client(endpoint).call('DetachDisk', disk));
  }

  private async relay<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof SoapFault) throw error.toVbsError();
      if (error instanceof TransportError)
        throw new VbsError(
          'Unavailable',
          'The hypervisor node of this instance does not answer now. Try again later.',
          { cause: error },
        );
      throw error;
    }
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
  }
}
