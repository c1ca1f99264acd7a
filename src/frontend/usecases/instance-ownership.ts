/**
 * Instances belong to users (docs/security.md, "Instances have owners"): only an instance's owner
 * and admins may attach to it, detach from it or learn that it exists. To anyone else it answers
 * exactly as an instance that does not exist: the same code and message, after the same lookups
 * (one indexed read of the registry, no call to any node), so that neither the answer nor its time
 * tells the two apart. An instance whose owner nobody knows is for admins only.
 *
 * The owner is an admin's assignment (vbs-admin instance set-owner) when there is one, else what the
 * instance's node reports (its platform set it in the hypervisor); the store resolves which.
 */
import { VbsError } from '../../core/errors.js';
import { clip } from '../../core/ids.js';
import type { Principal } from '../../core/principal.js';

export function instanceNotFound(instanceId: string): VbsError {
  return new VbsError('InvalidInstanceID.NotFound', `The instance ID '${clip(instanceId)}' does not exist.`);
}

/** Whether the caller may use an instance that belongs to `ownerId` (null: nobody known). */
export function mayUseInstance(principal: Principal, ownerId: string | null): boolean {
  return principal.admin || (ownerId !== null && ownerId === principal.userId);
}
