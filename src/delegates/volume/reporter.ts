/**
 * Reports jobs to the frontend's callback, each naming its job ID. Ends of jobs are journaled and
 * repeated until the frontend acknowledges them, across restarts; progress is sent while a job runs
 * (throttled, and at least every heartbeat so that the frontend's deadline only catches jobs that
 * really stopped). When the frontend answers that the resource is gone (deleted while the job ran,
 * or never kept), the file the job made belongs to nothing and is removed (`discard`).
 */
import { SoapFault, type SoapClient } from '../../soap/client.js';
import type { VolumeDelegateCallbackPortTypeOperations } from '../../generated/volume-delegate.js';
import type { Logger } from '../../log.js';
import type { Job, Journal } from './journal.js';

const PROGRESS_EVERY_MS = 1000;

/**
 * What is remembered of progress sent is only there to throttle it, and its keys are the resource
 * IDs the frontend sends: a job that ends without a report (cancelled, stopped) leaves its entry
 * behind. So entries not refreshed for this long are dropped (a running job refreshes its entry
 * at least every heartbeat), and no more than MAX_PROGRESS_TRACKED are kept; a dropped entry
 * costs at most one progress report sent sooner than the throttle would.
 */
export const PROGRESS_FORGET_MS = 10 * 60_000;
export const MAX_PROGRESS_TRACKED = 4096;

export class Reporter {
  private readonly lastSent = new Map<string, { at: number; percent: number }>();
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: SoapClient<VolumeDelegateCallbackPortTypeOperations>,
    private readonly delegateId: string,
    private readonly journal: Journal,
    private readonly logger: Logger,
    /** Removes every file of a resource the frontend no longer has. */
    private readonly discard: (resourceId: string) => Promise<void>,
    private readonly retryMs = 2000,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.retryMs);
    this.timer.unref();
    void this.flush();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** A running job's progress; sent when it changed and a second has passed, or as a heartbeat. */
  progress(job: Job, percent: number, heartbeat = false): void {
    const { resourceId, jobId } = job;
    const now = Date.now();
    const last = this.lastSent.get(resourceId);
    if (last && now - last.at < PROGRESS_EVERY_MS && !heartbeat) return;
    if (last && last.percent === percent && !heartbeat) return;
    this.remember(resourceId, { at: now, percent }, now);
    this.client
      .call('ReportJob', { delegateId: this.delegateId, jobId, resourceId, outcome: 'running', progress: percent })
      .catch((e: unknown) => this.logger.warn('progress report not delivered', { resourceId, error: String(e) }));
  }

  /** Progress entries kept now. */
  get trackedProgress(): number {
    return this.lastSent.size;
  }

  /** Sets the entry as the newest (a Map keeps insertion order), and drops the stale and the surplus oldest. */
  private remember(resourceId: string, sent: { at: number; percent: number }, now: number): void {
    this.lastSent.delete(resourceId);
    this.lastSent.set(resourceId, sent);
    for (const [oldest, { at }] of this.lastSent) {
      if (this.lastSent.size <= MAX_PROGRESS_TRACKED && now - at < PROGRESS_FORGET_MS) break;
      this.lastSent.delete(oldest);
    }
  }

  /** Delivers every finished, unacknowledged job once; concurrent calls share one pass. */
  flush(): Promise<void> {
    this.flushing ??= this.deliverAll().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async deliverAll(): Promise<void> {
    for (const job of this.journal.unreported()) {
      this.lastSent.delete(job.resourceId);
      try {
        const answer = await this.client.call('ReportJob', {
          delegateId: this.delegateId,
          jobId: job.jobId,
          resourceId: job.resourceId,
          outcome: job.state,
          progress: job.state === 'succeeded' ? 100 : 0,
          ...(job.message !== null ? { message: job.message } : {}),
        });
        if (answer.discardFile) {
          await this.discard(job.resourceId);
          this.logger.warn('the frontend no longer has this resource: its file was removed', {
            resourceId: job.resourceId,
            jobId: job.jobId,
          });
        }
        this.journal.markReported(job.resourceId);
      } catch (error) {
        if (error instanceof SoapFault && error.code === 'AuthFailure') {
          // The frontend gave this job to another delegate (we were too slow to answer): repeating
          // the report cannot help. The file we made is under the resource's own path and stays
          // with the resource, whose deletion removes it.
          this.logger.error('job report refused by the frontend; not repeating it', {
            resourceId: job.resourceId,
            error: error.message,
          });
          this.journal.markReported(job.resourceId);
          continue;
        }
        this.logger.warn('job report not delivered; will repeat', { resourceId: job.resourceId, error: String(error) });
        return;
      }
    }
  }
}
