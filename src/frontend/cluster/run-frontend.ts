/**
 * Why: one event loop caps the frontend at one CPU (docs/benchmarks.md, "Signed requests"), so the
 * frontend runs `workers` processes (node:cluster) that share its port. This is the one entry that
 * vbs-server and the benchmark call, in every process of the frontend; what it does depends on which
 * process it runs in:
 *  - workers = 1: the whole frontend in this process, as before (startFrontend);
 *  - the cluster's primary: forks the workers (the same program and arguments), holds the replay
 *    cache they share, runs the sweeper, restarts a worker that dies, stops them all on close()
 *    (src/frontend/cluster/primary.ts);
 *  - a worker: serves the endpoints (src/frontend/cluster/worker.ts). Its primary starts and stops
 *    it, so its caller has nothing more to do with it.
 */
import cluster from 'node:cluster';
import type { FrontendConfig } from '../../config/config.js';
import { startFrontend, type FrontendOverrides } from '../frontend-app.js';
import { startPrimary } from './primary.js';
import { startWorker } from './worker.js';

export type FrontendProcess =
  | {
      /** 'single': the whole frontend; 'primary': the cluster's primary, once every worker listens. */
      readonly role: 'single' | 'primary';
      readonly origin: string;
      /** The processes that serve requests (this one, or the workers, as they were at start). */
      readonly servingPids: readonly number[];
      close(): Promise<void>;
    }
  | { readonly role: 'worker' };

export async function runFrontend(config: FrontendConfig, overrides: FrontendOverrides = {}): Promise<FrontendProcess> {
  if (cluster.isWorker) {
    await startWorker(config, overrides);
    return { role: 'worker' };
  }
  if (config.workers <= 1) {
    const running = await startFrontend(config, undefined, overrides);
    return { role: 'single', origin: running.origin, servingPids: [process.pid], close: () => running.close() };
  }
  const primary = await startPrimary(config);
  return { role: 'primary', ...primary };
}
