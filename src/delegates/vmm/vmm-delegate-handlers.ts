/**
 * The VMM Delegate's operations (wsdl/vmm-delegate.wsdl): attach and detach volume files to and from
 * the instances of this node through its driver, and report what the hypervisor holds. Paths arrive
 * relative to the storage root, made by the frontend from its IDs, and are resolved inside the root
 * here before a hypervisor ever sees them. A driver's error becomes an EC2 fault with a message of
 * ours; the hypervisor's own words go to the log.
 *
 * A fault means that nothing was done. A driver error whose effect is unknown (the hypervisor was
 * asked for the change and did not answer in time) is not a fault but the answer outcome "unknown":
 * the frontend then keeps the attachment as it is and settles it by this node's inventory. Each
 * request's deadline runs from its arrival here (VMM_REQUEST_DEADLINE_MS), shorter than the time the
 * frontend waits, so that the node never acts on a request the frontend gave up on.
 */
import { VMM_REQUEST_DEADLINE_MS } from '../../config/config.js';
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
        ...(i.owner !== undefined ? { owner: i.owner } : {}),
      })),
    },
  };
}

/** What a driver call came to: done (with its value), or unknown (the hypervisor may still do it). */
type Outcome<T> = { readonly done: T } | { readonly unknown: DriverError };

export function vmmDelegateHandlers(
  driver: VmmDriver,
  root: string,
  identity: VmmIdentity,
  logger: Logger,
  requestDeadlineMs: number = VMM_REQUEST_DEADLINE_MS,
): Handlers<Wire.VmmDelegatePortTypeOperations> {
  async function viaDriver<T>(
    what: string,
    fields: Record<string, unknown>,
    call: () => Promise<T>,
  ): Promise<Outcome<T>> {
    try {
      return { done: await call() };
    } catch (error) {
      if (!(error instanceof DriverError)) throw error;
      if (error.effect === 'unknown') {
        logger.warn(`${what}: the hypervisor did not finish in time; it may still take effect`, {
          ...fields,
          kind: error.kind,
          error: error.message,
        });
        return { unknown: error };
      }
      logger.warn(`${what} refused by the hypervisor`, { ...fields, kind: error.kind, error: error.message });
      const f = FAULTS[error.kind];
      throw new VbsError(f.code, f.message, { cause: error });
    }
  }

  return {
    AttachDisk: async (req) => {
      const deadline = Date.now() + requestDeadlineMs;
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
      const { attachmentId } = req;
      const fields = { attachmentId, instanceId: req.instanceId, volumeId: req.volumeId, device: req.device, mode };
      const outcome = await viaDriver('attach', fields, () =>
        driver.attach({ instanceId: req.instanceId, volumeId: req.volumeId, path, device: req.device, mode, deadline }),
      );
      if (!('done' in outcome)) return { attachmentId, outcome: 'unknown' };
      const disk = outcome.done;
      logger.info('disk attached', fields);
      return {
        attachmentId,
        outcome: 'attached',
        disk: {
          instanceId: disk.instanceId,
          volumeId: disk.volumeId,
          device: disk.device,
          attachMode: disk.mode,
          attachmentId,
        },
      };
    },
    DetachDisk: async (req) => {
      const deadline = Date.now() + requestDeadlineMs;
      const { attachmentId } = req;
      const fields = {
        attachmentId,
        instanceId: req.instanceId,
        volumeId: req.volumeId,
        device: req.device,
        force: req.force,
      };
      const outcome = await viaDriver('detach', fields, () =>
        driver.detach({
          instanceId: req.instanceId,
          volumeId: req.volumeId,
          device: req.device,
          force: req.force,
          deadline,
        }),
      );
      if (!('done' in outcome)) return { attachmentId, outcome: 'unknown' };
      logger.info(outcome.done === 'detached' ? 'disk detached' : 'disk was not held: nothing to detach', fields);
      return { attachmentId, outcome: outcome.done };
    },
    ListInstances: async () => inventory(driver, identity),
  };
}
