/**
 * Runs the Volume Delegate's jobs in the background (paper 4.1: "start a new thread to complete the
 * creation"): provisioning a volume file, copying a snapshot or a volume from a snapshot. Each job
 * writes its own partial file and publishes it when done (job-files.ts), so no attempt can harm the
 * resource's file. A job that a crash interrupted starts again from scratch (its partial file is
 * removed first), unless it had published already; a job interrupted maxAttempts times fails. A job
 * that makes no progress for stallMs is stopped (its command killed, its partial file removed) and
 * fails, so that a hung file system or command never keeps a resource waiting for ever. Every end is
 * journaled, then reported.
 */
import { rm } from 'node:fs/promises';
import type { Logger } from '../../log.js';
import { copyFile, growFile } from './copy.js';
import { isPublished, partialFilePath, publish } from './job-files.js';
import type { Job, Journal } from './journal.js';
import { setStripe, type StripeLayout } from './lustre.js';
import { provisionFile } from './provision.js';
import type { Reporter } from './reporter.js';
import { resolveInRoot } from './storage-root.js';

export interface RunnerOptions {
  readonly delegateId: string;
  readonly root: string;
  readonly lustreLayout: StripeLayout | null;
  readonly maxAttempts: number;
  readonly heartbeatMs: number;
  /** A job whose progress has not moved for this long is stopped and fails. */
  readonly stallMs: number;
}

/** Why a job was stopped before its end. */
type StopReason = 'cancelled' | 'stopping' | 'stalled';

export class JobRunner {
  private readonly active = new Map<string, { readonly abort: AbortController; readonly done: Promise<void> }>();
  private stopping = false;

  constructor(
    private readonly journal: Journal,
    private readonly reporter: Reporter,
    private readonly logger: Logger,
    private readonly options: RunnerOptions,
  ) {}

  get activeJobs(): number {
    return this.active.size;
  }

  /** The job's partial file, relative to the storage root. */
  private partialPath(job: Job): string {
    return partialFilePath(job.resourceId, job.jobId, this.options.delegateId);
  }

  private partial(job: Job): string {
    return resolveInRoot(this.options.root, this.partialPath(job));
  }

  /** Picks up what the last run left: each unfinished job is retried or, past its attempts, failed. */
  async recover(): Promise<void> {
    for (const job of this.journal.running()) {
      await rm(this.partial(job), { force: true });
      if (await isPublished(this.options.root, job.resourceId)) {
        // Publishing is a job's last step: it had finished when the process stopped.
        this.journal.finish(job.resourceId, 'succeeded', null);
        this.logger.info('job found finished after a restart', { resourceId: job.resourceId, jobId: job.jobId });
        continue;
      }
      const attempts = this.journal.retry(job.resourceId);
      if (attempts > this.options.maxAttempts) {
        this.journal.finish(
          job.resourceId,
          'failed',
          `interrupted ${attempts - 1} times; the partial file was removed`,
        );
        this.logger.error('job failed after restarts', { resourceId: job.resourceId, attempts: attempts - 1 });
      } else {
        this.logger.warn('job interrupted by a restart; starting it again', {
          resourceId: job.resourceId,
          jobId: job.jobId,
          attempt: attempts,
        });
        this.start(job);
      }
    }
    await this.reporter.flush();
  }

  /** Runs a journaled job; once stopAll() was called it does not, and the job waits for the next start. */
  start(job: Job): void {
    if (this.stopping || this.active.has(job.resourceId)) return;
    const abort = new AbortController();
    const done = this.execute(job, abort.signal)
      .catch((error: unknown) => {
        this.logger.error('job runner failed', { resourceId: job.resourceId, error: String(error) });
      })
      .finally(() => this.active.delete(job.resourceId));
    this.active.set(job.resourceId, { abort, done });
  }

  /** Stops a job whose resource is being deleted, and waits until its commands are gone; not reported. */
  async cancel(resourceId: string): Promise<void> {
    const running = this.active.get(resourceId);
    if (!running) return;
    running.abort.abort('cancelled' satisfies StopReason);
    await running.done;
  }

  /**
   * The delegate's stop: aborts every running job (its child processes are killed through the abort)
   * and resolves, with their resource IDs, once they have ended. They stay journaled as running, so
   * the next start takes them again; no job starts after this.
   */
  async stopAll(): Promise<string[]> {
    this.stopping = true;
    const running = [...this.active.entries()];
    for (const [, a] of running) a.abort.abort('stopping' satisfies StopReason);
    await Promise.all(running.map(([, a]) => a.done));
    // A stop is not a failed attempt: only crashes count towards maxAttempts.
    for (const [resourceId] of running) this.journal.stoppedCleanly(resourceId);
    return running.map(([resourceId]) => resourceId);
  }

  private async execute(job: Job, signal: AbortSignal): Promise<void> {
    const started = Date.now();
    const log = { resourceId: job.resourceId, jobId: job.jobId, kind: job.kind };
    let percent = 0;
    let movedAt = Date.now();
    const onProgress = (p: number): void => {
      if (p > percent) movedAt = Date.now();
      percent = p;
      this.reporter.progress(job, p);
    };
    const abort = new AbortController();
    signal.addEventListener('abort', () => abort.abort(signal.reason), { once: true });
    const heartbeat = setInterval(() => {
      if (Date.now() - movedAt > this.options.stallMs) abort.abort('stalled' satisfies StopReason);
      else this.reporter.progress(job, percent, true);
    }, this.options.heartbeatMs);
    const partial = this.partial(job);
    try {
      // On Lustre every new file gets its layout first; cp and the provisioners keep an existing file's layout.
      if (this.options.lustreLayout) await setStripe(partial, this.options.lustreLayout);
      if (job.kind === 'snapshot' || job.sourcePath !== null) {
        const source = resolveInRoot(this.options.root, job.sourcePath ?? '');
        await copyFile(source, partial, onProgress, abort.signal);
        if (job.kind === 'volume') await growFile(partial, job.sizeBytes, job.volumeType);
      } else {
        await provisionFile(partial, job.sizeBytes, job.volumeType, onProgress, abort.signal);
      }
      abort.signal.throwIfAborted();
      const published = await publish(this.options.root, job.resourceId, this.partialPath(job));
      this.journal.finish(
        job.resourceId,
        'succeeded',
        published === 'exists' ? 'the file was made by another attempt of this job' : null,
      );
      this.logger.info('job succeeded', { ...log, durationMs: Date.now() - started, published });
    } catch (error) {
      const reason = abort.signal.aborted ? (abort.signal.reason as StopReason) : undefined;
      await rm(partial, { force: true }).catch(() => undefined);
      if (reason === 'cancelled' || reason === 'stopping') return;
      const message =
        reason === 'stalled'
          ? `no progress for ${Math.round(this.options.stallMs / 1000)} s (at ${Math.round(percent)}%); the job was stopped`
          : error instanceof Error
            ? error.message
            : String(error);
      this.journal.finish(job.resourceId, 'failed', message);
      this.logger.error('job failed', { ...log, error: message });
    } finally {
      clearInterval(heartbeat);
    }
    await this.reporter.flush();
  }
}
