/**
 * Why: a worker of a clustered frontend is the frontend's endpoints in one process, on the port all
 * workers share, with its own store connection and TLS state, and two differences that keep the
 * cluster as strict as one process: replays are checked against the primary's cache (its `since`
 * too, so a restarted worker does not accept a request signed before the primary started), and it
 * runs no sweeper (the primary does). Every log line says which worker wrote it.
 *
 * Its primary starts it (index and `since` in its environment), learns it listens from a 'ready'
 * message, and stops it with SIGTERM; if the primary dies, node:cluster ends the worker.
 */
import type { FrontendConfig } from '../../config/config.js';
import { createLogger } from '../../log.js';
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
  const logger = createLogger('frontend', { file: config.logFile }).child({ worker: index, pid: process.pid });
  const running = await serveFrontend(config, logger, { shared: new ReplayCacheClient(since, process) }, overrides);
  process.once('SIGTERM', () => {
    void running.close().finally(() => process.exit(0));
  });
  logger.info('frontend worker started', { origin: running.origin });
  const ready: ReadyMessage = { vbs: 'ready', origin: running.origin };
  send(ready);
}
