/**
 * Why: the signed-request benchmark must compare the real frontend with and without signature
 * checking, and nothing else may differ. This entry is `vbs-server frontend --config FILE` plus one
 * switch: with `unsigned`, runFrontend gets overrides.userAuthenticator, which accepts any request
 * as user alice, so the same code, store, TLS, logging and response signing run either way. It runs in
 * its own process, as the frontend does in production, so that the load generator in the parent
 * process takes no CPU time from its event loops, and so that it can be profiled alone (--cpu-prof).
 * With the config's `workers` above 1 it is the clustered frontend: this process is the primary, and
 * node:cluster runs this same file, with the same arguments and node options, as each worker.
 *
 *   node dist/bench/lib/frontend-server.js CONFIG.json signed|unsigned
 *
 * It writes one JSON line {"origin": "https://127.0.0.1:PORT", "servingPids": [...]} to stdout when
 * every process listens, and stops cleanly on SIGTERM or when its stdin closes (the parent died), so a
 * CPU profile is always written.
 */
import { loadFrontendConfig } from '../../src/config/config.js';
import type { FrontendOverrides } from '../../src/frontend/frontend-app.js';
import { runFrontend } from '../../src/frontend/cluster/run-frontend.js';

export type SignatureMode = 'signed' | 'unsigned';

/** The only difference between the two servers: who the caller is, decided without any check. */
const UNSIGNED: FrontendOverrides = { userAuthenticator: async () => ({ userId: 'alice', admin: false }) };

async function main(): Promise<void> {
  const [configFile, mode] = process.argv.slice(2);
  if (configFile === undefined || (mode !== 'signed' && mode !== 'unsigned')) {
    throw new Error('usage: frontend-server.js CONFIG.json signed|unsigned');
  }
  const config = loadFrontendConfig(configFile);
  const running = await runFrontend(config, mode === 'unsigned' ? UNSIGNED : {});
  // A worker: its primary starts it, stops it and speaks for it.
  if (running.role === 'worker') return;
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void running.close().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.stdin.on('end', stop).on('error', stop).resume();
  process.stdout.write(`${JSON.stringify({ origin: running.origin, servingPids: running.servingPids })}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`frontend-server failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
