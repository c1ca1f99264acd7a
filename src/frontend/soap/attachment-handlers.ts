/**
 * AttachVolume and DetachVolume as the frontend answers them before any VMM Delegate has registered
 * an instance: the volume is checked as usual, and an instance that no hypervisor node has reported
 * does not exist (InvalidInstanceID.NotFound); a volume with no attachment cannot be detached
 * (IncorrectState), as in EC2. The VMM Delegate work replaces the instance lookup.
 */
import { VbsError } from '../../core/errors.js';
import { clip, requireVolumeId } from '../../core/ids.js';
import type * as Wire from '../../generated/frontend.js';
import type { RequestContext } from '../../soap/server.js';
import type { Deps } from '../usecases/deps.js';
import { ownVolume } from '../usecases/ownership.js';

export interface AttachmentHandlers {
  AttachVolume(req: Wire.AttachVolumeType, ctx: RequestContext): Promise<Wire.AttachVolumeResponseType>;
  DetachVolume(req: Wire.DetachVolumeType, ctx: RequestContext): Promise<Wire.DetachVolumeResponseType>;
}

export function unregisteredInstanceHandlers(deps: Deps): AttachmentHandlers {
  return {
    AttachVolume: async (req, { principal }) => {
      await ownVolume(deps, principal, requireVolumeId(req.volumeId));
      throw new VbsError('InvalidInstanceID.NotFound', `The instance ID '${clip(req.instanceId)}' does not exist.`);
    },
    DetachVolume: async (req, { principal }) => {
      const volume = await ownVolume(deps, principal, requireVolumeId(req.volumeId));
      const attachments = await deps.store.attachmentsOf([volume.id]);
      if (attachments.length === 0) throw new VbsError('IncorrectState', `Volume '${volume.id}' is in the '${volume.status}' state and is not attached.`);
      throw new VbsError('InvalidInstanceID.NotFound', `The instance ID '${clip(req.instanceId ?? '')}' does not exist.`);
    },
  };
}
