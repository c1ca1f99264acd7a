/** The frontend's registry endpoint: VMM Delegates register their instances and disks here. */
import type * as Wire from '../../generated/vmm-delegate.js';
import type { Handlers } from '../../soap/server.js';
import type { VmmInventory } from '../usecases/delegate-ports.js';
import type { Deps } from '../usecases/deps.js';
import { VbsError } from '../../core/errors.js';
import { vmmHostOf } from '../../security/identities.js';
import { reconcile, recordInventory } from '../usecases/register-vmm.js';

export const HEARTBEAT_SECONDS = 10;

function inventoryOf(req: Wire.InventoryType): VmmInventory {
  return {
    vmmHost: req.vmmHost,
    endpoint: req.endpoint,
    driver: req.driver,
    healthy: req.healthy,
    instances: (req.instanceSet.item ?? []).map((i) => ({
      instanceId: i.instanceId,
      state: i.state,
      disks: (i.diskSet.item ?? []).map((d) => ({
        volumeId: d.volumeId,
        device: d.device,
        mode: d.attachMode === 'ro' ? ('ro' as const) : ('rw' as const),
      })),
    })),
  };
}

export function registryHandlers(deps: Deps): Handlers<Wire.VmmRegistryPortTypeOperations> {
  return {
    RegisterVmm: async (req, { principal }) => {
      // Any VMM Delegate of the VBS CA may register, but only as the node its certificate names.
      if (vmmHostOf(principal.service ?? '') !== req.vmmHost) {
        throw new VbsError('AuthFailure', 'A VMM Delegate may register only as the host its certificate names.');
      }
      const inventory = inventoryOf(req);
      await recordInventory(deps, inventory);
      // Repairs may call back into the same VMM Delegate, so they run after the answer.
      void reconcile(deps, inventory).catch((e: unknown) =>
        deps.logger.error('VMM registration failed', { vmmHost: req.vmmHost, error: String(e) }),
      );
      return { acknowledged: true, heartbeatSeconds: HEARTBEAT_SECONDS };
    },
  };
}
