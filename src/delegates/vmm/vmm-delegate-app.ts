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
import { startHttpsHost } from '../../soap/https-host.js';
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
  const driver = createDriver(config);
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
  return {
    origin,
    register: () => registration.tick(true),
    close: async () => {
      registration.stop();
      await host.close();
      client.close();
      await driver.close();
    },
  };
}
