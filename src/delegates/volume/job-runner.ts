/**
 * Runs the Volume Delegate's jobs in the background (paper 4.1: "start a new thread to complete the
 * creation"): provisioning a volume file, copying a snapshot or a volume from a snapshot. A job that a
 * crash interrupted starts again from scratch once (the partial file is removed first); a second
 * interruption fails it. Every end is journaled, then reported.
 */
import { rm } from 'node:fs/promises';
import type { Logger } from '../../log.js';
import { copyFile, growFile } from './copy.js';
import type { Job, Journal } from './journal.js';
import { setStripe, type StripeLayout } from './lustre.js';
import { provisionFile } from './provision.js';
import type { Reporter } from './reporter.js';
import { resolveInRoot } from './storage-root.js';

export interface RunnerOptions {
  readonly root: string;
  readonly lustreLayout: StripeLayout | null;
  readonly maxAttempts: number;
  readonly heartbeatMs: number;
}

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

  /** Picks up what the last run left: each unfinished job is retried or, past its attempts, failed. */
  async recover(): Promise<void> {
    for (const job of this.journal.running()) {
      const attempts = this.journal.retry(job.resourceId);
      await rm(resolveInRoot(this.options.root, job.path), { force: true });
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

  /** Stops a job whose file is being deleted; its end is not reported, the resource is gone. */
  cancel(resourceId: string): void {
    this.active.get(resourceId)?.abort.abort();
  }

  /**
   * The delegate's stop: aborts every running job (its child processes are killed through the abort)
   * and resolves, with their resource IDs, once they have ended. They stay journaled as running, so
   * the next start takes them again; no job starts after this.
   */
  async stopAll(): Promise<string[]> {
    this.stopping = true;
    const running = [...this.active.entries()];
    for (const [, a] of running) a.abort.abort();
    await Promise.all(running.map(([, a]) => a.done));
    return running.map(([resourceId]) => resourceId);
  }

  private async execute(job: Job, signal: AbortSignal): Promise<void> {
    const started = Date.now();
    let percent = 0;
    const onProgress = (p: number): void => {
      percent = p;
      this.reporter.progress(job.resourceId, p);
    };
    const heartbeat = setInterval(
      () => this.reporter.progress(job.resourceId, percent, true),
      this.options.heartbeatMs,
    );
    try {
      const target = resolveInRoot(this.options.root, job.path);
      // On Lustre every new file gets its layout first; cp and the provisioners keep an existing file's layout.
      if (this.options.lustreLayout) await setStripe(target, this.options.lustreLayout);
      if (job.kind === 'snapshot' || job.sourcePath !== null) {
        const source = resolveInRoot(this.options.root, job.sourcePath ?? '');
        await copyFile(source, target, onProgress, signal);
        if (job.kind === 'volume') await growFile(target, job.sizeBytes, job.volumeType);
      } else {
        await provisionFile(target, job.sizeBytes, job.volumeType, onProgress, signal);
      }
      this.journal.finish(job.resourceId, 'succeeded', null);
      this.logger.info('job succeeded', {
        resourceId: job.resourceId,
        kind: job.kind,
        durationMs: Date.now() - started,
      });
    } catch (error) {
      if (signal.aborted) return;
      const message = error instanceof Error ? error.message : String(error);
      this.journal.finish(job.resourceId, 'failed', message);
      this.logger.error('job failed', { resourceId: job.resourceId, kind: job.kind, error: message });
      await rm(resolveInRoot(this.options.root, job.path), { force: true }).catch(() => undefined);
    } finally {
      clearInterval(heartbeat);
    }
    await this.reporter.flush();
  }
}
