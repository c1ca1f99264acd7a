/** The frontend's registry endpoint: VMM Delegates register their instances and disks here. */
import type * as Wire from '../../generated/vmm-delegate.js';
import type { Handlers } from '../../soap/server.js';
import type { VmmInventory } from '../usecases/delegate-ports.js';
import type { Deps, EventLog } from '../usecases/deps.js';
import { VbsError } from '../../core/errors.js';
import { vmmHostOf } from '../../security/identities.js';
import { isReservedName, USER_NAME } from '../../security/truststore/user-names.js';
import { reconcile, recordInventory } from '../usecases/register-vmm.js';

export const HEARTBEAT_SECONDS = 10;

/**
 * The owner a node reports, if it can be a user ID; anything else (the node's own check should have
 * kept it back) is no owner, so that the instance is for admins only, and is logged.
 */
function reportedOwner(vmmHost: string, i: Wire.InstanceType, logger: EventLog): string | undefined {
  const owner = i.owner;
  if (owner === undefined) return undefined;
  if (USER_NAME.test(owner) && !isReservedName(owner)) return owner;
  logger.warn('instance owner reported by a node is not a user ID: taken as none', {
    vmmHost,
    instanceId: i.instanceId,
    owner: owner.slice(0, 80),
  });
  return undefined;
}

function inventoryOf(req: Wire.InventoryType, logger: EventLog): VmmInventory {
  return {
    vmmHost: req.vmmHost,
    endpoint: req.endpoint,
    driver: req.driver,
    healthy: req.healthy,
    instances: (req.instanceSet.item ?? []).map((i) => {
      const owner = reportedOwner(req.vmmHost, i, logger);
      return {
        instanceId: i.instanceId,
        state: i.state,
        disks: (i.diskSet.item ?? []).map((d) => ({
          volumeId: d.volumeId,
          device: d.device,
          mode: d.attachMode === 'ro' ? ('ro' as const) : ('rw' as const),
        })),
        ...(owner !== undefined ? { owner } : {}),
      };
    }),
  };
}

export function registryHandlers(deps: Deps): Handlers<Wire.VmmRegistryPortTypeOperations> {
  return {
    RegisterVmm: async (req, { principal }) => {
      // Any VMM Delegate of the VBS CA may register, but only as the node its certificate names.
      if (vmmHostOf(principal.service ?? '') !== req.vmmHost) {
        throw new VbsError('AuthFailure', 'A VMM Delegate may register only as the host its certificate names.');
      }
      const inventory = inventoryOf(req, deps.logger);
      await recordInventory(deps, inventory);
      // Repairs may call back into the same VMM Delegate, so they run after the answer.
      void reconcile(deps, inventory).catch((e: unknown) =>
        deps.logger.error('VMM registration failed', { vmmHost: req.vmmHost, error: String(e) }),
      );
      return { acknowledged: true, heartbeatSeconds: HEARTBEAT_SECONDS };
    },
  };
}
