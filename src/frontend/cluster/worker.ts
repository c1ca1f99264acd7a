/**
 * Why: a worker of a clustered frontend is the frontend's endpoints in one process, on the port all
 * workers share, with its own store connection and TLS state, and two differences that keep the
 * cluster as strict as one process: replays are checked against the primary's cache (its `since`
 * too, so a restarted worker does not accept a request signed before the primary started), and it
 * runs no sweeper (the primary does). Every log line says which worker wrote it.
 *
 * Its primary starts it (index and `since` in its environment), learns it listens from a 'ready'
 * message, and stops it with SIGTERM: the worker stops accepting connections, answers its requests in
 * flight (within STOP_GRACE_MS; those still running then are cut off and logged), closes its store
 * and exits 0. It asks the primary about replays until then. If the primary dies, node:cluster ends
 * the worker.
 */
import cluster from 'node:cluster';
import type { FrontendConfig } from '../../config/config.js';
import { createLogger } from '../../log.js';
import { STOP_GRACE_MS } from '../../soap/https-host.js';
import { serveFrontend, type FrontendOverrides } from '../frontend-app.js';
import { ReplayCacheClient } from './replay-ipc.js';

/** The worker's number (1..workers), kept by its replacement. */
export const WORKER_INDEX_ENV = 'VBS_FRONTEND_WORKER';
/** When the primary's replay cache began remembering (epoch ms). */
export const REPLAY_SINCE_ENV = 'VBS_FRONTEND_REPLAY_SINCE';

export interface ReadyMessage {
  readonly vbs: 'ready';
  readonly origin: string;
}

export function isReadyMessage(m: unknown): m is ReadyMessage {
  return (
    typeof m === 'object' &&
    m !== null &&
    (m as Record<string, unknown>)['vbs'] === 'ready' &&
    typeof (m as Record<string, unknown>)['origin'] === 'string'
  );
}

export async function startWorker(config: FrontendConfig, overrides: FrontendOverrides): Promise<void> {
  const index = Number(process.env[WORKER_INDEX_ENV]);
  const since = Number(process.env[REPLAY_SINCE_ENV]);
  const send = process.send?.bind(process);
  if (!Number.isInteger(index) || index < 1 || !Number.isFinite(since) || since <= 0 || !send) {
    throw new Error('a frontend worker is started by the frontend itself (the cluster primary), not by hand');
  }
  // Named in ps/top. Ctrl-C signals the whole process group: the primary decides, and stops the workers itself.
  process.title = `vbs-server frontend worker ${index}`;
  process.on('SIGINT', () => {});
  // Handled from the start: a SIGTERM while the worker starts stops it as soon as it listens.
  const signal: { stop: (() => void) | undefined; asked: boolean } = { stop: undefined, asked: false };
  process.on('SIGTERM', () => {
    if (signal.stop) signal.stop();
    else signal.asked = true;
  });
  const logger = createLogger('frontend', { file: config.logFile }).child({ worker: index, pid: process.pid });
  const running = await serveFrontend(config, logger, { shared: new ReplayCacheClient(since, process) }, overrides);
  let stopping = false;
  signal.stop = () => {
    if (stopping) return;
    stopping = true;
    const startedAt = Date.now();
    logger.info('frontend worker stopping', { graceMs: STOP_GRACE_MS });
    running.close().then(
      () => {
        logger.info('frontend worker stopped', { durationMs: Date.now() - startedAt });
        exitOnceIdle(0);
      },
      (error: unknown) => {
        logger.error('frontend worker stop failed', { error: String(error) });
        exitOnceIdle(1);
      },
    );
  };
  logger.info('frontend worker started', { origin: running.origin });
  const ready: ReadyMessage = { vbs: 'ready', origin: running.origin };
  send(ready);
  if (signal.asked) signal.stop();
}

/**
 * Ends the worker once everything is closed: it leaves the cluster (so that node:cluster does not end
 * it at once) and exits when its event loop is empty, its last log lines written; after 2 s at the
 * latest, should anything still hold it.
 */
function exitOnceIdle(code: number): void {
  process.exitCode = code;
  setTimeout(() => process.exit(code), 2000).unref();
  cluster.worker?.disconnect();
}
