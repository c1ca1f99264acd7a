/**
 * Starts a VMM Delegate: its hypervisor driver, its SOAP endpoint (answering only the frontend's
 * signed requests), and its signed registration with the frontend.
 */
import { mkdirSync } from 'node:fs';
import type { VmmDelegateConfig } from '../../config/config.js';
import {
  schema,
  type VmmDelegatePortTypeOperations,
  type VmmRegistryPortTypeOperations,
} from '../../generated/vmm-delegate.js';
import { createLogger, type Logger } from '../../log.js';
import { ensureServiceTls } from '../../security/ca/local-tls.js';
import { signedAs } from '../../security/wssec/sign.js';
import { SoapClient } from '../../soap/client.js';
import { startHttpsHost, STOP_GRACE_MS } from '../../soap/https-host.js';
import { SoapEndpoint } from '../../soap/server.js';
import { WSDL_DIR } from '../../soap/wsdl-dir.js';
import { DEFAULT_VERIFICATION, newReplayCache, serviceAuthenticator } from '../../security/authenticators.js';
import { FRONTEND_IDENTITY, vmmDelegateIdentity } from '../../security/identities.js';
import { createDriver } from './drivers/create-driver.js';
import { Registration } from './registration.js';
import { inventory, vmmDelegateHandlers, type VmmIdentity } from './vmm-delegate-handlers.js';

export interface RunningVmmDelegate {
  readonly origin: string;
  /** Registers with the frontend now (tests and the demo use it after starting instances). */
  register(): Promise<boolean>;
  /**
   * The graceful stop: stops accepting connections and lets every operation in flight finish on the
   * hypervisor and be answered (within STOP_GRACE_MS), then closes the driver.
   */
  close(): Promise<void>;
}

const PATH = '/vmm-delegate';

export async function startVmmDelegate(
  config: VmmDelegateConfig,
  logger: Logger = createLogger(`vmm-delegate-${config.vmmHost}`, { file: config.logFile }),
): Promise<RunningVmmDelegate> {
  const tls = ensureServiceTls(config.certDir, vmmDelegateIdentity(config.vmmHost));
  const envelope = signedAs({ certPem: tls.certPem, keyPem: tls.keyPem });
  if (config.driver === 'qemu') mkdirSync(config.qemuSocketDir, { recursive: true, mode: 0o700 });
  const driver = createDriver(config, logger);
  let origin = '';
  const identity: VmmIdentity = {
    vmmHost: config.vmmHost,
    driver: driver.name,
    endpoint: () => config.advertisedUrl ?? `${origin}${PATH}`,
  };
  const endpoint = new SoapEndpoint<VmmDelegatePortTypeOperations>({
    path: PATH,
    schema,
    portType: 'VmmDelegatePortType',
    wsdlFile: `${WSDL_DIR}vmm-delegate.wsdl`,
    handlers: vmmDelegateHandlers(driver, config.storageRoot, identity, logger),
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
  origin = host.origin;
  const client = new SoapClient<VmmRegistryPortTypeOperations>(schema, 'VmmRegistryPortType', {
    url: config.frontendRegistryUrl,
    caPem: tls.caPem,
    timeoutMs: 10_000,
    envelope,
  });
  const registration = new Registration(
    client,
    () => inventory(driver, identity),
    logger,
    config.inventoryPollSeconds * 1000,
    config.heartbeatSeconds * 1000,
  );
  const registered = await registration.start();
  logger.info('vmm delegate started', {
    vmmHost: config.vmmHost,
    driver: driver.name,
    url: identity.endpoint(),
    registered,
  });
  const stop = async (): Promise<void> => {
    const startedAt = Date.now();
    logger.info('vmm delegate stopping', { graceMs: STOP_GRACE_MS });
    registration.stop();
    // An attach or detach half done on the hypervisor is worse than a late stop: the driver stays
    // open until every request in flight has its answer (or is cut off at the bound).
    const { cutOff } = await host.close();
    client.close();
    await driver.close();
    logger.info('vmm delegate stopped', { durationMs: Date.now() - startedAt, cutOffRequests: cutOff });
  };
  let stopping: Promise<void> | undefined;
  return {
    origin,
    register: () => registration.tick(true),
    close: () => {
      stopping ??= stop();
      return stopping;
    },
  };
}
