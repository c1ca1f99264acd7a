/**
 * The frontend's SOAP clients of its Volume Delegates (paper section 3: several may run, on any node
 * that mounts the shared file system). Which delegate to offer a job to is the use cases' decision
 * (usecases/place-job.ts); this says in what order, and turns each delegate's answer into the
 * port's terms: a fault or an unreachable delegate is a refusal (it does not have the job), a call
 * that got no answer after it was sent is 'unknown'. Deletes may go to any delegate, since all of
 * them see the same files; the one that made the file is asked first.
 */
import { VbsError } from '../core/errors.js';
import { SoapClient, SoapFault, TransportError } from '../soap/client.js';
import { schema, type VolumeDelegatePortTypeOperations } from '../generated/volume-delegate.js';
import type { Logger } from '../log.js';
import { signedAs, type Signer } from '../security/wssec/sign.js';
import type { FileJob, VolumeDelegates } from './usecases/delegate-ports.js';

export interface DelegateEndpoint {
  readonly id: string;
  readonly url: string;
}

type Client = SoapClient<VolumeDelegatePortTypeOperations>;

export class VolumeDelegatePool implements VolumeDelegates {
  private readonly clients: ReadonlyMap<string, Client>;
  private next = 0;

  constructor(
    endpoints: readonly DelegateEndpoint[],
    caPem: string,
    signer: Signer,
    private readonly logger: Logger,
    timeoutMs: number,
  ) {
    this.clients = new Map(
      endpoints.map((e) => [
        e.id,
        new SoapClient(schema, 'VolumeDelegatePortType', {
          url: e.url,
          caPem,
          timeoutMs,
          envelope: signedAs(signer),
        }),
      ]),
    );
  }

  candidates(first?: string | null): readonly string[] {
    const ids = [...this.clients.keys()];
    const start = this.next++ % Math.max(1, ids.length);
    const rotated = [...ids.slice(start), ...ids.slice(0, start)];
    return first && this.clients.has(first) ? [first, ...rotated.filter((id) => id !== first)] : rotated;
  }

  async offer(delegateId: string, job: FileJob): Promise<void> {
    const client = this.clients.get(delegateId);
    if (!client) throw new VbsError('Unavailable', `No Volume Delegate '${delegateId}' is configured.`);
    try {
      const answer =
        job.kind === 'volume'
          ? await client.call('CreateVolumeFile', {
              jobId: job.jobId,
              volumeId: job.volumeId,
              path: job.path,
              sizeGiB: job.sizeGiB,
              volumeType: job.volumeType,
              ...(job.sourcePath !== undefined ? { sourcePath: job.sourcePath } : {}),
            })
          : await client.call('CreateSnapshotFile', {
              jobId: job.jobId,
              snapshotId: job.snapshotId,
              sourcePath: job.sourcePath,
              path: job.path,
            });
      if (!answer.accepted) throw new VbsError('Unavailable', `Volume Delegate '${delegateId}' did not take the job.`);
    } catch (error) {
      throw asRefusal(delegateId, error);
    }
  }

  async deleteFile(resourceId: string, path: string, preferred: string | null): Promise<void> {
    let last: unknown;
    for (const id of this.candidates(preferred)) {
      try {
        await this.clients.get(id)?.call('DeleteFile', { resourceId, path });
        return;
      } catch (error) {
        last = error;
        this.logger.warn('volume delegate could not delete', { delegateId: id, resourceId, error: String(error) });
      }
    }
    throw new VbsError('Unavailable', 'No Volume Delegate could delete the file now; VBS retries.', { cause: last });
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
  }
}

function asRefusal(delegateId: string, error: unknown): unknown {
  if (error instanceof SoapFault) return error.toVbsError();
  if (error instanceof TransportError) {
    const unknown = error.effect === 'unknown';
    return new VbsError(
      'Unavailable',
      unknown
        ? `Volume Delegate '${delegateId}' did not answer; it may have the job.`
        : `Volume Delegate '${delegateId}' cannot be reached now.`,
      { cause: error, effect: error.effect },
    );
  }
  return error;
}
