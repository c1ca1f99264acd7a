/**
 * The frontend's clients of the VMM Delegates, one per registered endpoint. A delegate's fault is
 * passed on with its EC2 code; a delegate that cannot be reached is Server.Unavailable.
 */
import { VbsError } from '../core/errors.js';
import { SoapClient, SoapFault, TransportError } from '../soap/client.js';
import type { Signer } from '../security/wssec/sign.js';
import {
  schema,
  type AttachDiskType,
  type DetachDiskType,
  type DiskType,
  type VmmDelegatePortTypeOperations,
} from '../generated/vmm-delegate.js';

export interface VmmDelegates {
  attach(endpoint: string, request: AttachDiskType): Promise<DiskType>;
  detach(endpoint: string, request: DetachDiskType): Promise<void>;
  close(): void;
}

export class VmmDelegatePool implements VmmDelegates {
  private readonly clients = new Map<string, SoapClient<VmmDelegatePortTypeOperations>>();

  constructor(
    private readonly caPem: string,
    private readonly signer: Signer,
    private readonly timeoutMs = 30_000,
  ) {}

  private client(endpoint: string): SoapClient<VmmDelegatePortTypeOperations> {
    let c = this.clients.get(endpoint);
    if (!c) {
      c = new SoapClient<VmmDelegatePortTypeOperations>(schema, 'VmmDelegatePortType', {
        url: endpoint,
        caPem: this.caPem,
        timeoutMs: this.timeoutMs,
        signer: this.signer,
      });
      this.clients.set(endpoint, c);
    }
    return c;
  }

  async attach(endpoint: string, request: AttachDiskType): Promise<DiskType> {
    return this.relay(() => this.client(endpoint).call('AttachDisk', request));
  }

  async detach(endpoint: string, request: DetachDiskType): Promise<void> {
    await this.relay(() => this.client(endpoint).call('DetachDisk', request));
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
