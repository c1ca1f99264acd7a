/**
 * Starts a Volume Delegate: its journal, job runner, reporter and SOAP endpoint on one HTTPS port.
 * It answers only the frontend's signed requests and signs its reports with its own certificate.
 */
import type { VolumeDelegateConfig } from '../../config/config.js';
import {
  schema,
  type VolumeDelegateCallbackPortTypeOperations,
  type VolumeDelegatePortTypeOperations,
} from '../../generated/volume-delegate.js';
import { createLogger, type Logger } from '../../log.js';
import { ensurePrivateDir } from '../../private-files.js';
import { ensureServiceTls } from '../../security/ca/local-tls.js';
import { signedAs } from '../../security/wssec/sign.js';
import { SoapClient } from '../../soap/client.js';
import { startHttpsHost, STOP_GRACE_MS } from '../../soap/https-host.js';
import { SoapEndpoint } from '../../soap/server.js';
import { WSDL_DIR } from '../../soap/wsdl-dir.js';
import { DEFAULT_VERIFICATION, newReplayCache, serviceAuthenticator } from '../../security/authenticators.js';
import { FRONTEND_IDENTITY, volumeDelegateIdentity } from '../../security/identities.js';
import { JobRunner } from './job-runner.js';
import { removeResourceFiles } from './job-files.js';
import { Journal } from './journal.js';
import { isLustre } from './lustre.js';
import { Reporter } from './reporter.js';
import { volumeDelegateHandlers } from './volume-delegate-handlers.js';

export interface RunningVolumeDelegate {
  readonly origin: string;
  /**
   * The graceful stop: stops accepting connections and answers the requests in flight, stops the
   * running jobs (killing their child processes) and leaves them journaled as running for the next
   * start, both within STOP_GRACE_MS; then closes the journal.
   */
  close(): Promise<void>;
}

/** Resolves with `work`'s value, or with undefined once `ms` have passed. */
function within<T>(ms: number, work: Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

export async function startVolumeDelegate(
  config: VolumeDelegateConfig,
  logger: Logger = createLogger(`volume-delegate-${config.id}`, { file: config.logFile }),
): Promise<RunningVolumeDelegate> {
  const tls = ensureServiceTls(config.certDir, volumeDelegateIdentity(config.id));
  const envelope = signedAs({ certPem: tls.certPem, keyPem: tls.keyPem });
  // VBS's own: tightened if an older VBS or an operator made them looser (they list every volume).
  for (const dir of ['volumes', 'snapshots']) ensurePrivateDir(`${config.storageRoot}/${dir}`, { tighten: true });
  const lustre = config.lustre === 'on' || (config.lustre === 'auto' && (await isLustre(config.storageRoot)));
  const journal = new Journal(config.journal);
  const callback = new SoapClient<VolumeDelegateCallbackPortTypeOperations>(schema, 'VolumeDelegateCallbackPortType', {
    url: config.frontendCallbackUrl,
    caPem: tls.caPem,
    timeoutMs: 10_000,
    envelope,
  });
  const reporter = new Reporter(callback, config.id, journal, logger, async (resourceId) => {
    await removeResourceFiles(config.storageRoot, resourceId);
  });
  const runner = new JobRunner(journal, reporter, logger, {
    delegateId: config.id,
    root: config.storageRoot,
    lustreLayout: lustre ? { stripeSizeBytes: config.stripeSizeBytes, stripeCount: config.stripeCount } : null,
    maxAttempts: config.maxAttempts,
    heartbeatMs: config.heartbeatSeconds * 1000,
    stallMs: config.stallSeconds * 1000,
  });
  const endpoint = new SoapEndpoint<VolumeDelegatePortTypeOperations>({
    path: '/volume-delegate',
    schema,
    portType: 'VolumeDelegatePortType',
    wsdlFile: `${WSDL_DIR}volume-delegate.wsdl`,
    handlers: volumeDelegateHandlers(
      {
        id: config.id,
        root: config.storageRoot,
        lustre,
        sparseOvercommit: config.sparseOvercommit,
        maxPromisedSparseBytes: config.maxPromisedSparseBytes,
        maxConcurrentJobs: config.maxConcurrentJobs,
      },
      journal,
      runner,
      logger,
    ),
    // Only the frontend may ask; every answer is signed by this delegate.
    authenticate: serviceAuthenticator(
      tls.caPem,
      (id) => id === FRONTEND_IDENTITY,
      DEFAULT_VERIFICATION,
      newReplayCache(),
    ),
    envelope,
    logger,
  });
  const host = await startHttpsHost({
    host: config.host,
    port: config.port,
    certPem: tls.certPem,
    keyPem: tls.keyPem,
    endpoints: [endpoint],
    logger,
  });
  reporter.start();
  await runner.recover();
  logger.info('volume delegate started', {
    id: config.id,
    url: `${host.origin}/volume-delegate`,
    root: config.storageRoot,
    lustre,
  });
  const stop = async (): Promise<void> => {
    const startedAt = Date.now();
    logger.info('volume delegate stopping', { activeJobs: runner.activeJobs, graceMs: STOP_GRACE_MS });
    reporter.stop();
    // Both at once: the requests in flight are answered (a job they add is journaled, and waits for
    // the next start) while the running jobs are stopped.
    const drained = host.close();
    const stopped = await within(STOP_GRACE_MS, runner.stopAll());
    if (stopped === undefined) {
      logger.error('jobs still running at the end of the stop; their processes are killed at exit', {
        graceMs: STOP_GRACE_MS,
      });
    } else {
      for (const resourceId of stopped) logger.info('job stopped; the next start runs it again', { resourceId });
    }
    const { cutOff } = await drained;
    callback.close();
    journal.close();
    logger.info('volume delegate stopped', {
      durationMs: Date.now() - startedAt,
      stoppedJobs: stopped?.length,
      cutOffRequests: cutOff,
    });
  };
  let stopping: Promise<void> | undefined;
  return {
    origin: host.origin,
    close: () => {
      stopping ??= stop();
      return stopping;
    },
  };
}
