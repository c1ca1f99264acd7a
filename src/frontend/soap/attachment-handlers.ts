/** AttachVolume and DetachVolume on the wire: EC2's shapes plus VBS's attachMode and vmmHost. */
import { VbsError } from '../../core/errors.js';
import { clip, isInstanceId } from '../../core/ids.js';
import type { AttachmentRecord, AttachMode } from '../../core/records.js';
import type * as Wire from '../../generated/frontend.js';
import type { RequestContext } from '../../soap/server.js';
import { attachVolume } from '../usecases/attach-volume.js';
import type { Deps } from '../usecases/deps.js';
import { detachVolume } from '../usecases/detach-volume.js';

export interface AttachmentHandlers {
  readonly AttachVolume: (req: Wire.AttachVolumeType, ctx: RequestContext) => Promise<Wire.AttachVolumeResponseType>;
  readonly DetachVolume: (req: Wire.DetachVolumeType, ctx: RequestContext) => Promise<Wire.DetachVolumeResponseType>;
}

/** Linux block device names a guest may be given: /dev/sdf, /dev/vdb, /dev/xvdb, /dev/hdc. */
const DEVICE = /^\/dev\/(?:sd|vd|xvd|hd)[a-z]{1,2}$/;

export function parseInstanceId(raw: string): string {
  const t = raw.trim();
  if (!isInstanceId(t)) throw new VbsError('InvalidInstanceID.Malformed', `Invalid id: "${clip(t)}"`);
  return t;
}

export function parseDevice(raw: string): string {
  const t = raw.trim();
  if (!DEVICE.test(t))
    throw new VbsError(
      'InvalidParameterValue',
      `Value (${clip(t)}) for parameter device is invalid. Expected a name like /dev/vdb, /dev/sdf or /dev/xvdb.`,
    );
  return t;
}

function parseMode(raw: string | undefined): AttachMode {
  const t = (raw ?? 'rw').trim();
  if (t !== 'rw' && t !== 'ro')
    throw new VbsError(
      'InvalidParameterValue',
      `Value (${clip(t)}) for parameter attachMode is invalid. Expected rw or ro.`,
    );
  return t;
}

function answer(requestId: string, a: AttachmentRecord): Wire.AttachVolumeResponseType {
  return {
    requestId,
    volumeId: a.volumeId,
    instanceId: a.instanceId,
    device: a.device,
    status: a.status,
    attachTime: a.attachTime,
    attachMode: a.mode,
  };
}

export function attachmentHandlers(deps: Deps): AttachmentHandlers {
  return {
    AttachVolume: async (req, { requestId, principal }) => {
      const attachment = await attachVolume(deps, principal, {
        volumeId: req.volumeId,
        instanceId: parseInstanceId(req.instanceId),
        device: parseDevice(req.device),
        mode: parseMode(req.attachMode),
        vmmHost: req.vmmHost === undefined || req.vmmHost.trim() === '' ? undefined : req.vmmHost.trim(),
      });
      return answer(requestId, attachment);
    },
    DetachVolume: async (req, { requestId, principal }) => {
      const attachment = await detachVolume(deps, principal, {
        volumeId: req.volumeId,
        instanceId:
          req.instanceId === undefined || req.instanceId.trim() === '' ? undefined : parseInstanceId(req.instanceId),
        device: req.device === undefined || req.device.trim() === '' ? undefined : parseDevice(req.device),
        force: req.force ?? false,
      });
      return answer(requestId, attachment);
    },
  };
}
