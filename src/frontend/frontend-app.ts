/**
 * Starts the frontend: the metadata store, the user trust store, the delegate pools, the EC2-shaped
 * SOAP endpoint at /vbs (and its strict EC2 twin at /ec2), the Volume Delegates' callback at
 * /vbs/callback, the VMM Delegates' registry at /vbs/vmm-registry, and the sweeper, on one HTTPS
 * port. Who may call which endpoint is decided in src/security/authenticators.ts; every answer is
 * signed with the frontend's service certificate: its RSA one (frontend.rsa.pem) for a request signed
 * with RSA, its EC P-256 one (frontend.pem) otherwise.
 *
 * startFrontend is the whole frontend in one process. A clustered frontend (src/frontend/cluster/)
 * uses the same parts apart: each worker serves the endpoints (serveFrontend) with the replay cache
 * its primary holds, and the primary alone runs the sweeper (openFrontendCore, startSweeper).
 */
import type { FrontendConfig } from '../config/config.js';
import { schema as frontendSchema, type AmazonEC2PortTypeOperations } from '../generated/frontend.js';
import {
  schema as delegateSchema,
  type VolumeDelegateCallbackPortTypeOperations,
} from '../generated/volume-delegate.js';
import { schema as vmmSchema, type VmmRegistryPortTypeOperations } from '../generated/vmm-delegate.js';
import { createLogger, type Logger } from '../log.js';
import { ensureServiceTls, type ServiceTls } from '../security/ca/local-tls.js';
import { startHttpsHost, STOP_GRACE_MS, type RunningHost } from '../soap/https-host.js';
import { SoapEndpoint, type Authenticator } from '../soap/server.js';
import {
  DEFAULT_VERIFICATION,
  newReplayCache,
  serviceAuthenticator,
  userAuthenticator,
} from '../security/authenticators.js';
import type { ReplayCache, ReplayLimits } from '../security/wssec/replay-cache.js';
import { answersSignedAs, type Signer } from '../security/wssec/sign.js';
import { FRONTEND_IDENTITY, vmmHostOf, volumeDelegateIdentity } from '../security/identities.js';
import { TrustStore } from '../security/truststore/trust-store.js';
import { WSDL_DIR } from '../soap/wsdl-dir.js';
import { withSharedReplays, type SharedReplayCache } from '../security/wssec/shared-replay.js';
import { callbackHandlers } from './soap/callback-handlers.js';
import { EC2_PATH, ec2Schema, ec2Wsdl } from './soap/ec2-compat.js';
import { frontendHandlers } from './soap/frontend-handlers.js';
import { attachmentHandlers } from './soap/attachment-handlers.js';
import { registryHandlers } from './soap/registry-handlers.js';
import { VmmDelegatePool } from './vmm-delegates.js';
import { openMetadataStore, redacted } from './store/open-store.js';
import type { Deps } from './usecases/deps.js';
import { settleOffers } from './usecases/settle-offers.js';
import { sweep } from './usecases/sweep.js';
import { VolumeDelegatePool } from './volume-delegate-pool.js';

export interface RunningFrontend {
  readonly origin: string;
  readonly deps: Deps;
  /**
   * The graceful stop: no new connection, every request in flight answered (those still running
   * after STOP_GRACE_MS are cut off and logged), idle connections closed; then the store is closed.
   */
  close(): Promise<void>;
}

/** The endpoints of serveFrontend, which may stop serving before the store closes. */
export interface ServedFrontend extends RunningFrontend {
  /** The first half of close(): stops serving (as close() does), leaving the store open. */
  drain(): Promise<void>;
}

/**
 * For benchmarks only, never reachable from a config file: replaces how users are authenticated
 * (bench/ measures the same server with and without signature checking).
 */
export interface FrontendOverrides {
  readonly userAuthenticator?: Authenticator;
}

/** The replay cache's bounds the config sets; unset ones follow the process's heap (replay-cache.ts). */
export function replayLimitsOf(config: FrontendConfig): ReplayLimits {
  return {
    ...(config.replayCacheEntries === undefined ? {} : { maxEntries: config.replayCacheEntries }),
    ...(config.replayCacheEntriesPerUser === undefined ? {} : { maxEntriesPerOwner: config.replayCacheEntriesPerUser }),
  };
}

/** Which replay cache the endpoints check against: this process's own, or the cluster's (held by the primary). */
export type ReplayGuard = { readonly local: ReplayCache } | { readonly shared: SharedReplayCache };

/** What both serving and sweeping need: the service's TLS material, the store, the delegate pools. */
export interface FrontendCore {
  readonly tls: ServiceTls;
  readonly signer: Signer;
  readonly deps: Deps;
  close(): Promise<void>;
}

export async function openFrontendCore(config: FrontendConfig, logger: Logger): Promise<FrontendCore> {
  // Users sign with RSA: the frontend answers them with its RSA certificate (frontend.rsa.pem).
  const tls = ensureServiceTls(config.certDir, FRONTEND_IDENTITY, undefined, { forRsaPeers: true });
  const signer = { certPem: tls.certPem, keyPem: tls.keyPem };
  const store = await openMetadataStore(config.database, `vbs-frontend-${process.pid}`);
  const delegates = new VolumeDelegatePool(
    config.volumeDelegates,
    tls.caPem,
    signer,
    logger,
    config.volumeDelegateTimeoutSeconds * 1000,
  );
  const vmms = new VmmDelegatePool(tls.caPem, signer, logger, config.vmmCallTimeoutSeconds * 1000);
  const deps: Deps = {
    store,
    delegates,
    vmms,
    logger,
    now: () => new Date(),
    settings: {
      zones: config.zones,
      region: config.region,
      maxVolumeSizeGiB: config.maxVolumeSizeGiB,
      defaultVolumeType: config.defaultVolumeType,
      quotas: { volumes: config.quotaVolumes, gib: config.quotaGiB, snapshots: config.quotaSnapshots },
    },
  };
  return {
    tls,
    signer,
    deps,
    close: async () => {
      delegates.close();
      vmms.close();
      await store.close();
    },
  };
}

/**
 * The deadline and deletion retries, every sweepIntervalSeconds; one process of a frontend runs it.
 * Its first pass, at once, settles every job offer made before this frontend started (a crash may
 * have left it unanswered, or not even sent). Returns its stop, which resolves when a sweep under way
 * has ended (or STOP_GRACE_MS passed), so that the store is not closed under it.
 */
export function startSweeper(deps: Deps, config: FrontendConfig): () => Promise<void> {
  let sweeping: Promise<void> | undefined = settleOffers(deps, Date.now()).then(
    () => undefined,
    (e: unknown) => {
      deps.logger.error('settling job offers failed', { error: String(e) });
    },
  );
  void sweeping.finally(() => {
    sweeping = undefined;
  });
  const timer = setInterval(() => {
    if (sweeping) return;
    sweeping = sweep(deps, {
      deadlineMs: config.jobDeadlineSeconds * 1000,
      deleteRetryMs: config.sweepIntervalSeconds * 2000,
      // Three of the frontend's waits for a delegate: an offer still unanswered then is made again.
      offerRetryMs: config.volumeDelegateTimeoutSeconds * 3000,
    })
      .then(
        () => undefined,
        (e: unknown) => {
          deps.logger.error('sweep failed', { error: String(e) });
        },
      )
      .finally(() => {
        sweeping = undefined;
      });
  }, config.sweepIntervalSeconds * 1000);
  return async () => {
    clearInterval(timer);
    if (!sweeping) return;
    let bound: NodeJS.Timeout | undefined;
    await Promise.race([sweeping, new Promise((resolve) => (bound = setTimeout(resolve, STOP_GRACE_MS)))]);
    clearTimeout(bound);
  };
}

/** What the frontend's log says when it listens. */
export function startedFields(config: FrontendConfig, origin: string): Record<string, unknown> {
  return {
    url: `${origin}/vbs`,
    ec2Url: `${origin}${EC2_PATH}`,
    wsdl: `${origin}/vbs?wsdl`,
    database: redacted(config.database),
    workers: config.workers,
  };
}

/** The whole frontend in one process: the endpoints, with this process's replay cache, and the sweeper. */
export async function startFrontend(
  config: FrontendConfig,
  logger: Logger = createLogger('frontend', { file: config.logFile }),
  overrides: FrontendOverrides = {},
): Promise<RunningFrontend> {
  const served = await serveFrontend(config, logger, { local: newReplayCache(replayLimitsOf(config)) }, overrides);
  const stopSweeper = startSweeper(served.deps, config);
  logger.info('frontend started', { ...startedFields(config, served.origin), workers: 1 });
  let stopping: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    const startedAt = Date.now();
    logger.info('frontend stopping', { graceMs: STOP_GRACE_MS });
    await Promise.all([stopSweeper(), served.drain()]);
    await served.close();
    logger.info('frontend stopped', { durationMs: Date.now() - startedAt });
  };
  return {
    origin: served.origin,
    deps: served.deps,
    close: () => {
      stopping ??= stop();
      return stopping;
    },
  };
}

/** The endpoints on one HTTPS port, without the sweeper and without announcing themselves. */
export async function serveFrontend(
  config: FrontendConfig,
  logger: Logger,
  replays: ReplayGuard,
  overrides: FrontendOverrides = {},
): Promise<ServedFrontend> {
  const core = await openFrontendCore(config, logger);
  const { tls, signer, deps } = core;
  // Answers in the kind of key the request was signed with: RSA to users, EC P-256 to the services.
  const envelope = answersSignedAs(signer, tls.rsa);
  const trust = new TrustStore(config.trustStore, tls.caPem);
  const verification = { clockSkewSeconds: config.clockSkewSeconds, allowSha1: config.allowSha1Signatures };
  // The authenticators are made around a ReplayCache; with a shared cache, the check is finished against it.
  const guarded = (build: (cache: ReplayCache) => Authenticator): Authenticator =>
    'local' in replays ? build(replays.local) : withSharedReplays(build, replays.shared);
  const users =
    overrides.userAuthenticator ??
    guarded((cache) => userAuthenticator((der) => trust.resolveUser(der), config.admins, verification, cache));
  const delegateIds = new Set(config.volumeDelegates.map((d) => volumeDelegateIdentity(d.id)));
  const volumeDelegateCalls = guarded((cache) =>
    serviceAuthenticator(tls.caPem, (id) => delegateIds.has(id), DEFAULT_VERIFICATION, cache),
  );
  const vmmDelegateCalls = guarded((cache) =>
    serviceAuthenticator(tls.caPem, (id) => vmmHostOf(id) !== undefined, DEFAULT_VERIFICATION, cache),
  );
  const handlers = frontendHandlers(deps, attachmentHandlers(deps));
  const api = new SoapEndpoint<AmazonEC2PortTypeOperations>({
    path: '/vbs',
    schema: frontendSchema,
    portType: 'AmazonEC2PortType',
    wsdlFile: `${WSDL_DIR}frontend.wsdl`,
    handlers,
    authenticate: users,
    envelope,
    logger,
  });
  // The same operations in exactly Amazon's shapes, for strict clients built from Amazon's WSDL.
  const ec2 = new SoapEndpoint<AmazonEC2PortTypeOperations>({
    path: EC2_PATH,
    schema: ec2Schema(frontendSchema),
    portType: 'AmazonEC2PortType',
    wsdlFile: `${WSDL_DIR}frontend.wsdl`,
    wsdlTransform: ec2Wsdl,
    handlers,
    authenticate: users,
    envelope,
    logger,
  });
  const callback = new SoapEndpoint<VolumeDelegateCallbackPortTypeOperations>({
    path: '/vbs/callback',
    schema: delegateSchema,
    portType: 'VolumeDelegateCallbackPortType',
    wsdlFile: `${WSDL_DIR}volume-delegate.wsdl`,
    handlers: callbackHandlers(deps),
    authenticate: volumeDelegateCalls,
    envelope,
    logger,
  });
  const registry = new SoapEndpoint<VmmRegistryPortTypeOperations>({
    path: '/vbs/vmm-registry',
    schema: vmmSchema,
    portType: 'VmmRegistryPortType',
    wsdlFile: `${WSDL_DIR}vmm-delegate.wsdl`,
    handlers: registryHandlers(deps),
    authenticate: vmmDelegateCalls,
    envelope,
    logger,
  });
  let host: RunningHost;
  try {
    host = await startHttpsHost({
      host: config.host,
      port: config.port,
      certPem: tls.certPem,
      keyPem: tls.keyPem,
      endpoints: [api, ec2, callback, registry],
      logger,
    });
  } catch (error) {
    trust.close();
    await core.close();
    throw error;
  }
  // The requests in flight still need the store, the trust store and the delegate pools.
  let draining: Promise<void> | undefined;
  let closing: Promise<void> | undefined;
  const drain = (): Promise<void> => {
    draining ??= host.close().then(() => undefined);
    return draining;
  };
  return {
    origin: host.origin,
    deps,
    drain,
    close: () => {
      closing ??= drain().then(async () => {
        trust.close();
        await core.close();
      });
      return closing;
    },
  };
}
