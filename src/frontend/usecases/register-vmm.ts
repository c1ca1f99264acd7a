/**
 * A VMM Delegate registers (at its start, when its instances change, and on a heartbeat) with what its
 * hypervisor really holds. The frontend updates its instance registry and reconciles attachments, so
 * that nothing is silently lost:
 *  - a record the hypervisor no longer has (the instance stopped, the disk was removed by hand) ends as
 *    detached, with the reason kept and logged; the volume is available again;
 *  - but a record that changed after the inventory may have been taken is left to the next
 *    registration (INVENTORY_STALENESS_MS);
 *  - an "attaching"/"detaching" record that no call is finishing any more (older than
 *    inFlightGraceMs: a call whose answer did not come in time leaves one) is settled by what the
 *    hypervisor holds;
 *  - a VBS disk the hypervisor holds without a record is adopted when the rules allow it, or else
 *    detached from the hypervisor; both are logged.
 */
import type { AttachMode } from '../../core/records.js';
import { isId } from '../../core/ids.js';
import type { VmmInventory } from './delegate-ports.js';
import type { Deps } from './deps.js';

/** The state a driver gives an instance it lists but cannot question (see the QEMU driver). */
export const UNREACHABLE = 'unreachable';

/**
 * An attaching/detaching record younger than this may belong to a call still under way: the frontend
 * waits callTimeoutMs for a VMM Delegate, and the node does nothing of a request after its deadline,
 * which is shorter (src/config/config.ts). Once the call is over, the registration that judges the
 * record must have been taken after it: hence at least INVENTORY_STALENESS_MS more. Twice the call
 * timeout (60 s by default) leaves room for a node slower than it should be.
 */
export function inFlightGraceMs(callTimeoutMs: number): number {
  return callTimeoutMs + Math.max(callTimeoutMs, INVENTORY_STALENESS_MS);
}

/**
 * How much older than the records a registration's inventory may be. The delegate lists its disks,
 * then sends them; the frontend may finish an attach or a detach of that node meanwhile, or before it
 * gets to the registration (it waits behind other requests, and another frontend process may go on in
 * the meantime). A record that changed this recently is newer than the evidence: an attached disk
 * missing from the list is not lost yet, and a listed disk whose attachment just ended is not a stray
 * yet. The next registration (a heartbeat at most later) settles them.
 */
export const INVENTORY_STALENESS_MS = 5_000;

interface HeldDisk {
  readonly instanceId: string;
  readonly volumeId: string;
  readonly device: string;
  readonly mode: AttachMode;
}

export interface ReconcileReport {
  readonly lost: number;
  readonly settled: number;
  readonly adopted: number;
  readonly detachedStrays: number;
}

/**
 * Records the node and the instances it runs now, with the owners it reports, so that AttachVolume
 * finds them at once. An admin's assignment of an owner is kept apart and is not touched here.
 */
export async function recordInventory(deps: Deps, inv: VmmInventory): Promise<void> {
  await deps.store.registerVmm(
    {
      host: inv.vmmHost,
      endpoint: inv.endpoint,
      driver: inv.driver,
      healthy: inv.healthy,
      lastSeen: deps.now().getTime(),
    },
    inv.instances.map((i) => ({ instanceId: i.instanceId, state: i.state, ownerId: i.owner ?? null })),
  );
}

/** Compares what the hypervisor holds with the attachment records of its node, and repairs. */
export async function reconcile(deps: Deps, inv: VmmInventory): Promise<ReconcileReport> {
  const instances = inv.instances;
  // An unhealthy hypervisor's silence is not evidence that disks are gone.
  if (!inv.healthy) return { lost: 0, settled: 0, adopted: 0, detachedStrays: 0 };
  const held: HeldDisk[] = instances.flatMap((i) => i.disks.map((d) => ({ instanceId: i.instanceId, ...d })));
  // A listed instance whose hypervisor did not answer has unknown disks, not none: leave its records be.
  const unknown = new Set(instances.filter((i) => i.state === UNREACHABLE).map((i) => i.instanceId));
  const key = (instanceId: string, volumeId: string): string => `${instanceId}\u0000${volumeId}`;
  const heldKeys = new Map(held.map((d) => [key(d.instanceId, d.volumeId), d]));
  const now = deps.now().getTime();
  const grace = inFlightGraceMs(deps.vmms.callTimeoutMs);
  let lost = 0;
  let settled = 0;
  const records = await deps.store.attachmentsOnHost(inv.vmmHost);
  for (const rec of records) {
    if (unknown.has(rec.instanceId)) continue;
    const isHeld = heldKeys.has(key(rec.instanceId, rec.volumeId));
    heldKeys.delete(key(rec.instanceId, rec.volumeId));
    const log = { vmmHost: inv.vmmHost, volumeId: rec.volumeId, instanceId: rec.instanceId, device: rec.device };
    if (rec.status === 'attached' && !isHeld && now - rec.updatedAt >= INVENTORY_STALENESS_MS) {
      const reason = `the hypervisor on ${inv.vmmHost} no longer holds this disk`;
      if ((await deps.store.endAttachment(rec.id, 'detached', reason)).changed) {
        lost++;
        deps.logger.warn('attachment lost: marked detached', { ...log, reason });
      }
    } else if (rec.status !== 'attached' && now - rec.updatedAt > grace) {
      const outcome = isHeld
        ? await deps.store.transitionAttachment(rec.id, rec.status === 'attaching' ? 'attached' : 'detachFailed')
        : await deps.store.endAttachment(
            rec.id,
            'detached',
            `settled by reconciliation: the hypervisor does not hold the disk`,
          );
      if (outcome.changed) {
        settled++;
        deps.logger.warn('attachment settled by reconciliation', {
          ...log,
          was: rec.status,
          now: outcome.record.status,
        });
      }
    }
  }
  let adopted = 0;
  let detachedStrays = 0;
  const justEnded = new Set(
    (await deps.store.attachmentsEndedOnHost(inv.vmmHost, now - INVENTORY_STALENESS_MS)).map((r) =>
      key(r.instanceId, r.volumeId),
    ),
  );
  for (const disk of heldKeys.values()) {
    if (justEnded.has(key(disk.instanceId, disk.volumeId))) continue;
    const log = { vmmHost: inv.vmmHost, ...disk };
    const volume = isId('vol', disk.volumeId) ? await deps.store.getVolume(disk.volumeId) : undefined;
    if (volume && volume.status !== 'deleted' && volume.status !== 'deleting') {
      const admission = await deps.store.beginAttachment({
        ...disk,
        vmmHost: inv.vmmHost,
        attachTime: deps.now().toISOString(),
      });
      if (admission.admitted) {
        await deps.store.transitionAttachment(admission.attachment.id, 'attached');
        adopted++;
        deps.logger.warn('attachment adopted: the hypervisor held a disk without a record', log);
        continue;
      }
    }
    try {
      // No attachment allows this disk: there is no attachment ID to send.
      await deps.vmms.detach(inv.endpoint, {
        attachmentId: '',
        instanceId: disk.instanceId,
        volumeId: disk.volumeId,
        device: disk.device,
        force: true,
      });
      detachedStrays++;
      deps.logger.warn('stray disk detached: the hypervisor held a disk that no attachment allows', log);
    } catch (error) {
      deps.logger.error('stray disk could not be detached', { ...log, error: String(error) });
    }
  }
  return { lost, settled, adopted, detachedStrays };
}
