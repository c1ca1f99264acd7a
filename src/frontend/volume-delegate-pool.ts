/**
 * The frontend's view of its Volume Delegates (paper section 3: several may run, on any node that
 * mounts the shared file system). A job goes to the first delegate, in rotating order, that answers
 * and has room; one that does not answer or has no room is skipped. Deletes may go to any delegate,
 * since all of them see the same files; the one that made the file is asked first.
 */
import { VbsError } from '../core/errors.js';
import { SoapClient, SoapFault, TransportError } from '../soap/client.js';
import { schema, type VolumeDelegatePortTypeOperations } from '../generated/volume-delegate.js';
import type { Logger } from '../log.js';
import { signedAs, type Signer } from '../security/wssec/sign.js';
import type { ClaimJob, SnapshotFileJob, VolumeDelegates, VolumeFileJob } from './usecases/delegate-ports.js';

export interface DelegateEndpoint {
  readonly id: string;
  readonly url: string;
}

type Client = SoapClient<VolumeDelegatePortTypeOperations>;

export class VolumeDelegatePool implements VolumeDelegates {
  private readonly clients: { readonly id: string; readonly client: Client }[];
  private next = 0;

  constructor(
    endpoints: readonly DelegateEndpoint[],
    caPem: string,
    signer: Signer,
    private readonly logger: Logger,
    timeoutMs = 10_000,
  ) {
    this.clients = endpoints.map((e) => ({
      id: e.id,
      client: new SoapClient(schema, 'VolumeDelegatePortType', {
        url: e.url,
        caPem,
        timeoutMs,
        envelope: signedAs(signer),
      }),
    }));
  }

  createVolumeFile(job: VolumeFileJob, claim: ClaimJob): Promise<string> {
    return this.place(job.volumeId, claim, (c) => c.call('CreateVolumeFile', job));
  }

  createSnapshotFile(job: SnapshotFileJob, claim: ClaimJob): Promise<string> {
    return this.place(job.snapshotId, claim, (c) => c.call('CreateSnapshotFile', job));
  }

  async deleteFile(resourceId: string, path: string, preferred: string | null): Promise<void> {
    const ordered = [...this.clients].sort((a, b) => Number(b.id === preferred) - Number(a.id === preferred));
    let last: unknown;
    for (const { id, client } of ordered) {
      try {
        await client.call('DeleteFile', { resourceId, path });
        return;
      } catch (error) {
        last = error;
        this.logger.warn('volume delegate could not delete', { delegateId: id, resourceId, error: String(error) });
      }
    }
    throw new VbsError('Unavailable', 'No Volume Delegate could delete the file now; VBS retries.', { cause: last });
  }

  /** Tries each delegate once, starting after the last one used, and returns the one that took the job. */
  private async place(
    resourceId: string,
    claim: ClaimJob,
    ask: (c: Client) => Promise<{ accepted: boolean; delegateId: string }>,
  ): Promise<string> {
    let full = false;
    const start = this.next++;
    for (let i = 0; i < this.clients.length; i++) {
      const entry = this.clients[(start + i) % this.clients.length];
      if (!entry) continue;
      try {
        await claim(entry.id);
        const answer = await ask(entry.client);
        if (answer.accepted) return entry.id;
      } catch (error) {
        if (error instanceof SoapFault && error.code === 'InsufficientVolumeCapacity') {
          full = true;
        } else if (!(error instanceof TransportError)) {
          this.logger.error('volume delegate refused a job', {
            delegateId: entry.id,
            resourceId,
            error: String(error),
          });
        } else {
          this.logger.warn('volume delegate did not answer', {
            delegateId: entry.id,
            resourceId,
            error: error.message,
          });
        }
      }
    }
    if (full)
      throw new VbsError(
        'InsufficientVolumeCapacity',
        'There is not enough free space in the storage for this request.',
      );
    throw new VbsError('Unavailable', 'No Volume Delegate is available now. Try again later.');
  }

  close(): void {
    for (const { client } of this.clients) client.close();
  }
}
