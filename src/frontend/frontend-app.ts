/**
 * Starts the frontend: the metadata store, the Volume Delegate pool, the EC2-shaped SOAP endpoint at
 * /vbs (and its strict EC2 twin at /ec2), the delegates' callback endpoint at /vbs/callback, and the
 * sweeper, all on one HTTPS port.
 */
import type { FrontendConfig } from '../config/config.js';
import type { Principal } from '../core/principal.js';
import { schema as frontendSchema, type AmazonEC2PortTypeOperations } from '../generated/frontend.js';
import { schema as delegateSchema, type VolumeDelegateCallbackPortTypeOperations } from '../generated/volume-delegate.js';
import { schema as vmmSchema, type VmmRegistryPortTypeOperations } from '../generated/vmm-delegate.js';
import { createLogger, type Logger } from '../log.js';
import { ensureServiceTls } from '../security/ca/local-tls.js';
import { startHttpsHost, type RunningHost } from '../soap/https-host.js';
import { SoapEndpoint, type Authenticator } from '../soap/server.js';
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

/**
 * Until WS-Security verification lands, every request acts as one local user. This is the single
 * place that decides who a caller is, so that verification replaces it without touching a handler.
 */
export const LOCAL_USER: Principal = { userId: 'vbs-local', admin: false };
const localUser: Authenticator = async () => LOCAL_USER;
const localDelegate: Authenticator = async () => ({ userId: 'volume-delegate', admin: false, service: 'volume-delegate' });
const localVmm: Authenticator = async () => ({ userId: 'vmm-delegate', admin: false, service: 'vmm-delegate' });

export interface RunningFrontend {
  readonly origin: string;
  readonly deps: Deps;
  close(): Promise<void>;
}

export async function startFrontend(config: FrontendConfig, logger: Logger = createLogger('frontend', { file: config.logFile })): Promise<RunningFrontend> {
  const tls = ensureServiceTls(config.certDir, 'frontend');
  const store = new SqliteStore(config.database);
  const delegates = new VolumeDelegatePool(config.volumeDelegates, tls.caPem, logger);
  const vmms = new VmmDelegatePool(tls.caPem);
  const deps: Deps = {
    store, delegates, vmms, logger, now: () => new Date(),
    settings: { zones: config.zones, region: config.region, maxVolumeSizeGiB: config.maxVolumeSizeGiB, defaultVolumeType: config.defaultVolumeType },
  };
  const handlers = frontendHandlers(deps, attachmentHandlers(deps));
  const api = new SoapEndpoint<AmazonEC2PortTypeOperations>({
    path: '/vbs', schema: frontendSchema, portType: 'AmazonEC2PortType', wsdlFile: `${WSDL_DIR}frontend.wsdl`,
    handlers, authenticate: localUser, logger,
  });
  // The same operations in exactly Amazon's shapes, for strict clients built from Amazon's WSDL.
  const ec2 = new SoapEndpoint<AmazonEC2PortTypeOperations>({
    path: EC2_PATH, schema: ec2Schema(frontendSchema), portType: 'AmazonEC2PortType', wsdlFile: `${WSDL_DIR}frontend.wsdl`,
    wsdlTransform: ec2Wsdl, handlers, authenticate: localUser, logger,
  });
  const callback = new SoapEndpoint<VolumeDelegateCallbackPortTypeOperations>({
    path: '/vbs/callback', schema: delegateSchema, portType: 'VolumeDelegateCallbackPortType', wsdlFile: `${WSDL_DIR}volume-delegate.wsdl`,
    handlers: callbackHandlers(deps, config.volumeDelegates.map((d) => d.id)), authenticate: localDelegate, logger,
  });
  const registry = new SoapEndpoint<VmmRegistryPortTypeOperations>({
    path: '/vbs/vmm-registry', schema: vmmSchema, portType: 'VmmRegistryPortType', wsdlFile: `${WSDL_DIR}vmm-delegate.wsdl`,
    handlers: registryHandlers(deps), authenticate: localVmm, logger,
  });
  let host: RunningHost;
  try {
    host = await startHttpsHost({ host: config.host, port: config.port, certPem: tls.certPem, keyPem: tls.keyPem, endpoints: [api, ec2, callback, registry] });
  } catch (error) {
    delegates.close();
    vmms.close();
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
      await store.close();
    },
  };
}
