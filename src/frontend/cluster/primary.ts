/**
 * Why: the primary of a clustered frontend owns what must exist once, and serves no request itself:
 *  - what workers starting together must not each do: the service certificate is issued and the
 *    store migrated here, before any worker starts;
 *  - the replay cache all workers ask (src/frontend/cluster/replay-ipc.ts), so a message accepted by
 *    one worker is refused by every other; it outlives any worker, and its start is the `since` of all;
 *  - the sweeper (deadlines, deletion retries), on its own store connection;
 *  - the workers' lives: "frontend started" is logged once every worker listens; a worker that dies
 *    is logged and replaced (with a growing delay while replacements die before they listen); close() stops
 *    every worker (SIGTERM: each drains, answering its requests in flight within STOP_GRACE_MS; SIGKILL
 *    for one still there 5 s after that) before the primary's own resources. The primary answers
 *    their replay questions until the last one has exited.
 * The store stays consistent across workers because SQLite serialises writers (WAL, busy_timeout,
 * BEGIN IMMEDIATE for the multi-statement changes), as it does across any two connections.
 */
import cluster, { type Worker } from 'node:cluster';
import type { FrontendConfig } from '../../config/config.js';
import { createLogger } from '../../log.js';
import { STOP_GRACE_MS } from '../../soap/https-host.js';
import { MemoryReplayCache } from '../../security/wssec/replay-cache.js';
import { openFrontendCore, replayLimitsOf, startedFields, startSweeper } from '../frontend-app.js';
import { answerReplayQuestions } from './replay-ipc.js';
import { isReadyMessage, REPLAY_SINCE_ENV, WORKER_INDEX_ENV } from './worker.js';

export interface RunningPrimary {
  readonly origin: string;
  /** The workers' PIDs once all listened (a replaced worker has another). */
  readonly servingPids: readonly number[];
  close(): Promise<void>;
}

const MIN_RESTART_DELAY_MS = 100;
const MAX_RESTART_DELAY_MS = 30_000;
/** A stopping worker drains for STOP_GRACE_MS at most, then closes its store and exits; one still there after this is killed. */
const STOP_TIMEOUT_MS = STOP_GRACE_MS + 5000;

interface Slot {
  worker: Worker | undefined;
  /** Whether the current worker said it listens. */
  ready: boolean;
  /** Replacements in a row that died before they listened. */
  failedStarts: number;
  restart: NodeJS.Timeout | undefined;
}

export async function startPrimary(config: FrontendConfig): Promise<RunningPrimary> {
  const logger = createLogger('frontend', { file: config.logFile });
  const core = await openFrontendCore(config, logger);
  // One cache for all workers, bounded by this process's heap (or the config), never by the number of
  // workers; and per user, so that one user cannot fill it (replay-cache.ts).
  const replays = new MemoryReplayCache(replayLimitsOf(config));
  logger.info('replay cache', { maxEntries: replays.maxEntries, maxEntriesPerUser: replays.maxEntriesPerOwner });
  const slots = new Map<number, Slot>();
  let stopping = false;
  let started = false;

  /** Starts worker `index`; resolves with its origin when it listens, rejects if it exits first. */
  const fork = (index: number): Promise<string> => {
    const slot = slots.get(index) ?? { worker: undefined, ready: false, failedStarts: 0, restart: undefined };
    slots.set(index, slot);
    const worker = cluster.fork({ [WORKER_INDEX_ENV]: String(index), [REPLAY_SINCE_ENV]: String(replays.since) });
    slot.worker = worker;
    slot.ready = false;
    return new Promise((resolve, reject) => {
      worker.on('error', (error: Error) =>
        logger.error('frontend worker channel error', { worker: index, error: String(error) }),
      );
      worker.on('message', (m: unknown) => {
        // A worker that died meanwhile has no question to be answered: a failed send is dropped.
        if (answerReplayQuestions(replays, m, (answers) => worker.send(answers, undefined, () => {}))) return;
        if (!isReadyMessage(m)) return;
        slot.ready = true;
        slot.failedStarts = 0;
        resolve(m.origin);
      });
      worker.once('exit', (code: number | null, signal: string | null) => {
        reject(new Error(`frontend worker ${index} exited (${signal ?? code ?? 'unknown'}) before it listened`));
        if (slot.worker === worker) slot.worker = undefined;
        if (started && !stopping) replace(index, slot, worker.process.pid, code, signal);
      });
    });
  };

  const replace = (
    index: number,
    slot: Slot,
    pid: number | undefined,
    code: number | null,
    signal: string | null,
  ): void => {
    if (!slot.ready) slot.failedStarts++;
    // 0.1 s; then 1, 2, 4 ... 30 s while replacements keep dying before they listen (a full disk, a lost file).
    const delay =
      slot.failedStarts === 0
        ? MIN_RESTART_DELAY_MS
        : Math.min(MAX_RESTART_DELAY_MS, 1000 * 2 ** (slot.failedStarts - 1));
    logger.error('frontend worker exited; starting another', { worker: index, pid, code, signal, restartInMs: delay });
    slot.restart = setTimeout(() => {
      slot.restart = undefined;
      if (stopping) return;
      fork(index).then(
        () => logger.info('frontend worker restarted', { worker: index, pid: slot.worker?.process.pid }),
        // Its exit is handled (and replaced again) by the exit listener.
        () => undefined,
      );
    }, delay);
  };

  const stopWorker = (index: number, worker: Worker): Promise<void> => {
    if (worker.isDead()) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        logger.error('frontend worker did not stop in time; killing it', {
          worker: index,
          pid: worker.process.pid,
          timeoutMs: STOP_TIMEOUT_MS,
        });
        worker.process.kill('SIGKILL');
      }, STOP_TIMEOUT_MS);
      worker.once('exit', (code: number | null, signal: string | null) => {
        clearTimeout(timer);
        if (code !== 0)
          logger.error('frontend worker stopped badly', { worker: index, pid: worker.process.pid, code, signal });
        resolve();
      });
      worker.process.kill('SIGTERM');
    });
  };

  /** Every worker at once, each draining its own requests; none is replaced from now on. */
  const stopWorkers = async (): Promise<void> => {
    stopping = true;
    for (const slot of slots.values()) clearTimeout(slot.restart);
    await Promise.all([...slots.entries()].flatMap(([index, s]) => (s.worker ? [stopWorker(index, s.worker)] : [])));
  };

  const indexes = Array.from({ length: config.workers }, (_, i) => i + 1);
  let origins: string[];
  try {
    origins = await Promise.all(indexes.map(fork));
  } catch (error) {
    await stopWorkers();
    await core.close();
    throw error;
  }
  started = true;
  const stopSweeper = startSweeper(core.deps, config);
  const origin = origins[0] ?? '';
  const servingPids = indexes
    .map((i) => slots.get(i)?.worker?.process.pid)
    .filter((pid): pid is number => pid !== undefined);
  logger.info('frontend started', { ...startedFields(config, origin), workerPids: servingPids });
  const stop = async (): Promise<void> => {
    const startedAt = Date.now();
    logger.info('frontend stopping', { graceMs: STOP_GRACE_MS });
    // The workers drain while a sweep under way ends; the store they share is closed after both.
    await Promise.all([stopSweeper(), stopWorkers()]);
    await core.close();
    logger.info('frontend stopped', { durationMs: Date.now() - startedAt });
  };
  let closing: Promise<void> | undefined;
  return {
    origin,
    servingPids,
    close: () => {
      closing ??= stop();
      return closing;
    },
  };
}
