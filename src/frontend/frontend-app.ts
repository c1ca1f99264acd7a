/**
 * Starts the frontend: the metadata store, the user trust store, the delegate pools, the EC2-shaped
 * SOAP endpoint at /vbs (and its strict EC2 twin at /ec2), the Volume Delegates' callback at
 * /vbs/callback, the VMM Delegates' registry at /vbs/vmm-registry, and the sweeper, on one HTTPS
 * port. Who may call which endpoint is decided in src/security/authenticators.ts; every answer is
 * signed with the frontend's service certificate.
 */
import type { FrontendConfig } from '../config/config.js';
import { schema as frontendSchema, type AmazonEC2PortTypeOperations } from '../generated/frontend.js';
import { schema as delegateSchema, type VolumeDelegateCallbackPortTypeOperations } from '../generated/volume-delegate.js';
import { schema as vmmSchema, type VmmRegistryPortTypeOperations } from '../generated/vmm-delegate.js';
import { createLogger, type Logger } from '../log.js';
import { ensureServiceTls } from '../security/ca/local-tls.js';
import { startHttpsHost, type RunningHost } from '../soap/https-host.js';
import { SoapEndpoint, type Authenticator } from '../soap/server.js';
import { DEFAULT_VERIFICATION, newReplayCache, serviceAuthenticator, userAuthenticator } from '../security/authenticators.js';
import { FRONTEND_IDENTITY, vmmHostOf, volumeDelegateIdentity } from '../security/identities.js';
import { TrustStore } from '../security/truststore/trust-store.js';
import { WSDL_DIR } from '../soap/wsdl-dir.js';
import { callbackHandlers } from './soap/callback-handlers.js';
import { EC2_PATH, ec2Schema, ec2Wsdl } from './soap/ec2-compat.js';
import { frontendHandlers } from './soap/frontend-handlers.js';
import { attachmentHandlers } from './soap/attachment-handlers.js';
import { registryHandlers } from './soap/registry-handlers.js';
import { VmmDelegatePool } from './vmm-delegates.js';
import { SqliteStore } from './store/sqlite-store.js';
import type { Deps } from './usecases/deps.js';
import { sweep } from './usecases/sweep.js';
import { VolumeDelegatePool } from './volume-delegate-pool.js';

export interface RunningFrontend {
  readonly origin: string;
  readonly deps: Deps;
  close(): Promise<void>;
}

/**
 * For benchmarks only, never reachable from a config file: replaces how users are authenticated
 * (bench/ measures the same server with and without signature checking).
 */
export interface FrontendOverrides {
  readonly userAuthenticator?: Authenticator;
}

export async function startFrontend(
  config: FrontendConfig, logger: Logger = createLogger('frontend', { file: config.logFile }), overrides: FrontendOverrides = {},
): Promise<RunningFrontend> {
  const tls = ensureServiceTls(config.certDir, FRONTEND_IDENTITY);
  const signer = { certPem: tls.certPem, keyPem: tls.keyPem };
  const store = new SqliteStore(config.database);
  const trust = new TrustStore(config.trustStore, tls.caPem);
  const delegates = new VolumeDelegatePool(config.volumeDelegates, tls.caPem, signer, logger);
  const vmms = new VmmDelegatePool(tls.caPem, signer);
  const verification = { clockSkewSeconds: config.clockSkewSeconds, allowSha1: config.allowSha1Signatures };
  const replays = newReplayCache();
  const users = overrides.userAuthenticator ?? userAuthenticator((der) => trust.resolveUser(der), config.admins, verification, replays);
  const delegateIds = new Set(config.volumeDelegates.map((d) => volumeDelegateIdentity(d.id)));
  const volumeDelegateCalls = serviceAuthenticator(tls.caPem, (id) => delegateIds.has(id), DEFAULT_VERIFICATION, replays);
  const vmmDelegateCalls = serviceAuthenticator(tls.caPem, (id) => vmmHostOf(id) !== undefined, DEFAULT_VERIFICATION, replays);
  const deps: Deps = {
    store, delegates, vmms, logger, now: () => new Date(),
    settings: { zones: config.zones, region: config.region, maxVolumeSizeGiB: config.maxVolumeSizeGiB, defaultVolumeType: config.defaultVolumeType },
  };
  const handlers = frontendHandlers(deps, attachmentHandlers(deps));
  const api = new SoapEndpoint<AmazonEC2PortTypeOperations>({
    path: '/vbs', schema: frontendSchema, portType: 'AmazonEC2PortType', wsdlFile: `${WSDL_DIR}frontend.wsdl`,
    handlers, authenticate: users, signer, logger,
  });
  // The same operations in exactly Amazon's shapes, for strict clients built from Amazon's WSDL.
  const ec2 = new SoapEndpoint<AmazonEC2PortTypeOperations>({
    path: EC2_PATH, schema: ec2Schema(frontendSchema), portType: 'AmazonEC2PortType', wsdlFile: `${WSDL_DIR}frontend.wsdl`,
    wsdlTransform: ec2Wsdl, handlers, authenticate: users, signer, logger,
  });
  const callback = new SoapEndpoint<VolumeDelegateCallbackPortTypeOperations>({
    path: '/vbs/callback', schema: delegateSchema, portType: 'VolumeDelegateCallbackPortType', wsdlFile: `${WSDL_DIR}volume-delegate.wsdl`,
    handlers: callbackHandlers(deps), authenticate: volumeDelegateCalls, signer, logger,
  });
  const registry = new SoapEndpoint<VmmRegistryPortTypeOperations>({
    path: '/vbs/vmm-registry', schema: vmmSchema, portType: 'VmmRegistryPortType', wsdlFile: `${WSDL_DIR}vmm-delegate.wsdl`,
    handlers: registryHandlers(deps), authenticate: vmmDelegateCalls, signer, logger,
  });
  let host: RunningHost;
  try {
    host = await startHttpsHost({ host: config.host, port: config.port, certPem: tls.certPem, keyPem: tls.keyPem, endpoints: [api, ec2, callback, registry] });
  } catch (error) {
    delegates.close();
    vmms.close();
    trust.close();
    await store.close();
    throw error;
  }
  let sweeping = false;
  const timer = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    sweep(deps, config.jobDeadlineSeconds * 1000, config.sweepIntervalSeconds * 2000)
      .catch((e: unknown) => logger.error('sweep failed', { error: String(e) }))
      .finally(() => { sweeping = false; });
  }, config.sweepIntervalSeconds * 1000);
  logger.info('frontend started', { url: `${host.origin}/vbs`, ec2Url: `${host.origin}${EC2_PATH}`, wsdl: `${host.origin}/vbs?wsdl`, database: config.database });
  return {
    origin: host.origin,
    deps,
    close: async () => {
      clearInterval(timer);
      await host.close();
      delegates.close();
      vmms.close();
      trust.close();
      await store.close();
    },
  };
}
