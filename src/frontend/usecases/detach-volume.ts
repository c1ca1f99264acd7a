/**
 * DetachVolume (paper 4.1 (4)): the attachment goes "detaching" by a conditional update, the node's
 * VMM Delegate detaches the disk, and the attachment ends; the volume is available after its last
 * one. A disk the instance no longer holds ends the attachment too (the node says it was not held). If
 * the node refuses, or was never reached, the attachment is "attached" again: a disk that may still be
 * in a guest is never forgotten. If the node was asked and gave no answer in time, the disk may still
 * go: the attachment stays "detaching", the client is answered so, and reconciliation settles it by
 * what the hypervisor holds (register-vmm.ts).
 *
 * Only the owner of the instance the volume is attached to (or an admin) may detach it from there;
 * anyone else is told that the instance does not exist (instance-ownership.ts), before anything
 * changes.
 */
import { isVbsError, VbsError } from '../../core/errors.js';
import { clip, requireVolumeId } from '../../core/ids.js';
import type { Principal } from '../../core/principal.js';
import type { AttachmentRecord } from '../../core/records.js';
import type { Deps } from './deps.js';
import { instanceNotFound, mayUseInstance } from './instance-ownership.js';
import { ownVolume } from './ownership.js';

export interface DetachVolumeRequest {
  readonly volumeId: string;
  readonly instanceId: string | undefined;
  readonly device: string | undefined;
  readonly force: boolean;
}

export async function detachVolume(
  deps: Deps,
  principal: Principal,
  req: DetachVolumeRequest,
): Promise<AttachmentRecord> {
  const volume = await ownVolume(deps, principal, requireVolumeId(req.volumeId));
  const live = await deps.store.attachmentsOf([volume.id]);
  if (live.length === 0)
    throw new VbsError(
      'IncorrectState',
      `Volume '${volume.id}' is in the '${volume.status}' state and is not attached.`,
    );
  const matching = live.filter(
    (a) =>
      (req.instanceId === undefined || a.instanceId === req.instanceId) &&
      (req.device === undefined || a.device === req.device),
  );
  const target = matching[0];
  if (!target) {
    throw new VbsError(
      'InvalidAttachment.NotFound',
      `Volume '${volume.id}' is not attached to '${clip(req.instanceId ?? '')}' as '${clip(req.device ?? '')}'.`,
    );
  }
  if (matching.length > 1) {
    throw new VbsError(
      'InvalidParameterCombination',
      `Volume '${volume.id}' is attached to several instances (${matching.map((a) => a.instanceId).join(', ')}); name one with instanceId.`,
    );
  }
  if (!mayUseInstance(principal, await deps.store.instanceOwner(target.instanceId, target.vmmHost)))
    throw instanceNotFound(target.instanceId);
  const begun = await deps.store.transitionAttachment(target.id, 'detach');
  if (!begun.changed)
    throw new VbsError(
      'IncorrectState',
      `The attachment of '${volume.id}' to '${target.instanceId}' is ${begun.current?.status ?? 'gone'}.`,
    );
  const host = await deps.store.getVmmHost(target.vmmHost);
  let held: boolean;
  try {
    if (!host) throw new VbsError('Unavailable', `The hypervisor node '${target.vmmHost}' is not registered now.`);
    ({ held } = await deps.vmms.detach(host.endpoint, {
      attachmentId: String(target.id),
      instanceId: target.instanceId,
      volumeId: volume.id,
      device: target.device,
      force: req.force,
    }));
  } catch (error) {
    if (isVbsError(error) && error.effect === 'unknown') {
      deps.logger.warn('detach outcome unknown: left detaching until reconciliation settles it', {
        attachmentId: target.id,
        volumeId: volume.id,
        instanceId: target.instanceId,
        vmmHost: target.vmmHost,
        error: String(error),
        cause: String(error.cause),
      });
      return begun.record;
    }
    await deps.store.transitionAttachment(target.id, 'detachFailed');
    deps.logger.warn('detach failed', { volumeId: volume.id, instanceId: target.instanceId, error: String(error) });
    throw error;
  }
  const ended = await deps.store.endAttachment(
    target.id,
    'detached',
    held ? undefined : `the hypervisor on ${target.vmmHost} no longer held this disk`,
  );
  deps.logger.info(held ? 'volume detached' : 'volume detached: the hypervisor no longer held the disk', {
    volumeId: volume.id,
    instanceId: target.instanceId,
    vmmHost: target.vmmHost,
    force: req.force,
  });
  return ended.changed ? ended.record : begun.record;
}
