/**
 * The VMM Delegate's operations (wsdl/vmm-delegate.wsdl): attach and detach volume files to and from
 * the instances of this node through its driver, and report what the hypervisor holds. Paths arrive
 * relative to the storage root, made by the frontend from its IDs, and are resolved inside the root
 * here before a hypervisor ever sees them. A driver's error becomes an EC2 fault with a message of
 * ours; the hypervisor's own words go to the log.
 */
import { VbsError, type ErrorCode } from '../../core/errors.js';
import { isId } from '../../core/ids.js';
import type * as Wire from '../../generated/vmm-delegate.js';
import type { Logger } from '../../log.js';
import type { Handlers } from '../../soap/server.js';
import { PathRefusedError, resolveInRoot } from '../volume/storage-root.js';
import { DriverError, type DriverErrorKind, type InstanceInfo, type VmmDriver } from './driver.js';

const FAULTS: Record<DriverErrorKind, { code: ErrorCode; message: string }> = {
  'instance-not-found': {
    code: 'InvalidInstanceID.NotFound',
    message: 'The instance does not exist on this hypervisor node.',
  },
  'disk-not-found': { code: 'InvalidAttachment.NotFound', message: 'The instance does not hold this volume.' },
  'device-in-use': { code: 'InvalidParameterValue', message: 'The device is already in use in this instance.' },
  refused: {
    code: 'VolumeInUse',
    message: 'The hypervisor refused the attachment (the volume file is in use by another instance).',
  },
  unavailable: { code: 'Unavailable', message: 'The hypervisor does not answer now. Try again later.' },
};

export interface VmmIdentity {
  readonly vmmHost: string;
  readonly driver: string;
  endpoint(): string;
}

export async function inventory(driver: VmmDriver, identity: VmmIdentity): Promise<Wire.InventoryType> {
  const [instances, health] = await Promise.all([
    driver.listInstances().catch((): InstanceInfo[] | undefined => undefined),
    driver.health(),
  ]);
  return {
    vmmHost: identity.vmmHost,
    endpoint: identity.endpoint(),
    driver: identity.driver,
    healthy: health.healthy && instances !== undefined,
    instanceSet: {
      item: (instances ?? []).map((i) => ({
        instanceId: i.instanceId,
        state: i.state,
        diskSet: {
          item: i.disks.map((d) => ({
            instanceId: d.instanceId,
            volumeId: d.volumeId,
            device: d.device,
            attachMode: d.mode,
          })),
        },
      })),
    },
  };
}

export function vmmDelegateHandlers(
  driver: VmmDriver,
  root: string,
  identity: VmmIdentity,
  logger: Logger,
): Handlers<Wire.VmmDelegatePortTypeOperations> {
  async function viaDriver<T>(what: string, fields: Record<string, unknown>, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof DriverError)) throw error;
      logger.warn(`${what} refused by the hypervisor`, { ...fields, kind: error.kind, error: error.message });
      const f = FAULTS[error.kind];
      throw new VbsError(f.code, f.message, { cause: error });
    }
  }

  return {
    AttachDisk: async (req) => {
      if (!isId('vol', req.volumeId)) throw new VbsError('InvalidParameterValue', 'Not a volume ID.');
      if (req.attachMode !== 'rw' && req.attachMode !== 'ro')
        throw new VbsError('InvalidParameterValue', 'attachMode must be rw or ro.');
      let path: string;
      try {
        path = resolveInRoot(root, req.path);
      } catch (error) {
        if (error instanceof PathRefusedError)
          throw new VbsError('InvalidParameterValue', 'The path is outside the storage root or malformed.');
        throw error;
      }
      const mode = req.attachMode;
      const fields = { instanceId: req.instanceId, volumeId: req.volumeId, device: req.device, mode };
      const disk = await viaDriver('attach', fields, () =>
        driver.attach({ instanceId: req.instanceId, volumeId: req.volumeId, path, device: req.device, mode }),
      );
      logger.info('disk attached', fields);
      return { instanceId: disk.instanceId, volumeId: disk.volumeId, device: disk.device, attachMode: disk.mode };
    },
    DetachDisk: async (req) => {
      const fields = { instanceId: req.instanceId, volumeId: req.volumeId, device: req.device, force: req.force };
      await viaDriver('detach', fields, () =>
        driver.detach({ instanceId: req.instanceId, volumeId: req.volumeId, device: req.device, force: req.force }),
      );
      logger.info('disk detached', fields);
      return { detached: true };
    },
    ListInstances: async () => inventory(driver, identity),
  };
}
