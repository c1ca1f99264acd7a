/**
 * AttachVolume (paper 4.1 (3) and 4.3): find the node that runs the instance (VMM Delegates register
 * their instances), admit the attachment atomically by the read-write/read-only rules, then have that
 * node's VMM Delegate attach the file. The attachment is "attaching" while the hypervisor works and
 * "attached" once it did. If the node refuses, or was never reached, the attachment ends at once and
 * the volume is available again. If the node was asked and gave no answer in time, the disk may still
 * appear: the attachment stays "attaching" (and the volume in-use, so that it cannot be attached
 * read-write anywhere else meanwhile), the client is answered "attaching", and reconciliation settles
 * it by what the hypervisor holds (register-vmm.ts).
 *
 * Only the instance's owner (or an admin) may attach to it; to anyone else it does not exist
 * (instance-ownership.ts), and that is decided before anything else is said about the instance.
 */
import { isVbsError, VbsError, type ErrorCode } from '../../core/errors.js';
import { requireVolumeId } from '../../core/ids.js';
import type { Principal } from '../../core/principal.js';
import type { AttachmentRecord, AttachMode, InstanceLocation } from '../../core/records.js';
import type { Deps } from './deps.js';
import { instanceNotFound, mayUseInstance } from './instance-ownership.js';
import { ownVolume } from './ownership.js';
import type { AttachRefusal } from '../store/metadata-store.js';

export interface AttachVolumeRequest {
  readonly volumeId: string;
  readonly instanceId: string;
  readonly device: string;
  readonly mode: AttachMode;
  readonly vmmHost: string | undefined;
}

const REFUSALS: Record<AttachRefusal, { code: ErrorCode; why: string }> = {
  'volume-state': { code: 'IncorrectState', why: 'it is not available' },
  'held-read-write': { code: 'VolumeInUse', why: 'it is attached read-write, so it may not be attached anywhere else' },
  'shared-read-only': {
    code: 'VolumeInUse',
    why: 'it is attached read-only, so it may be attached again only read-only',
  },
  'already-attached': { code: 'VolumeInUse', why: 'it is already attached to this instance' },
  'device-in-use': { code: 'InvalidParameterValue', why: 'the device is already in use in this instance' },
};

/**
 * The node of an instance the caller may use. Instances of other users (and of nobody known, for
 * anyone but an admin) are left out first, so that they are never named, nor counted among the
 * nodes an ambiguous ID runs on.
 */
export async function locateInstance(
  deps: Deps,
  principal: Principal,
  instanceId: string,
  vmmHost: string | undefined,
): Promise<InstanceLocation> {
  const found = (await deps.store.findInstance(instanceId)).filter(
    (l) => mayUseInstance(principal, l.ownerId) && (vmmHost === undefined || l.vmmHost === vmmHost),
  );
  const only = found[0];
  if (!only) throw instanceNotFound(instanceId);
  if (found.length > 1) {
    throw new VbsError(
      'InvalidParameterCombination',
      `The instance ID '${instanceId}' runs on several hypervisor nodes; name one with vmmHost (${found.map((l) => l.vmmHost).join(', ')}).`,
    );
  }
  return only;
}

export async function attachVolume(
  deps: Deps,
  principal: Principal,
  req: AttachVolumeRequest,
): Promise<AttachmentRecord> {
  const volume = await ownVolume(deps, principal, requireVolumeId(req.volumeId));
  const where = await locateInstance(deps, principal, req.instanceId, req.vmmHost);
  const admission = await deps.store.beginAttachment({
    volumeId: volume.id,
    instanceId: where.instanceId,
    vmmHost: where.vmmHost,
    device: req.device,
    mode: req.mode,
    attachTime: deps.now().toISOString(),
  });
  if (!admission.admitted) {
    const r = REFUSALS[admission.reason];
    throw new VbsError(
      r.code,
      `Cannot attach '${volume.id}' to '${where.instanceId}' as ${req.device} (${req.mode}): ${r.why}.`,
    );
  }
  const attachment = admission.attachment;
  try {
    await deps.vmms.attach(where.endpoint, {
      attachmentId: String(attachment.id),
      instanceId: where.instanceId,
      volumeId: volume.id,
      path: volume.path,
      device: req.device,
      mode: req.mode,
    });
  } catch (error) {
    if (isVbsError(error) && error.effect === 'unknown') {
      deps.logger.warn('attach outcome unknown: left attaching until reconciliation settles it', {
        attachmentId: attachment.id,
        volumeId: volume.id,
        instanceId: where.instanceId,
        vmmHost: where.vmmHost,
        error: String(error),
        cause: String(error.cause),
      });
      return attachment;
    }
    await deps.store.endAttachment(
      attachment.id,
      'attachFailed',
      error instanceof Error ? error.message : String(error),
    );
    deps.logger.warn('attach failed', {
      volumeId: volume.id,
      instanceId: where.instanceId,
      vmmHost: where.vmmHost,
      error: String(error),
    });
    throw error;
  }
  const done = await deps.store.transitionAttachment(attachment.id, 'attached');
  deps.logger.info('volume attached', {
    volumeId: volume.id,
    instanceId: where.instanceId,
    vmmHost: where.vmmHost,
    device: req.device,
    mode: req.mode,
  });
  return done.changed ? done.record : attachment;
}
