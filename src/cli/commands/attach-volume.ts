/** vbs attach-volume: AttachVolume of a volume to an instance as a device, read-write or read-only. */
import type { Command } from '../command.js';
import { UsageError } from '../args.js';
import { attachmentTable } from '../views.js';

const MODES = ['rw', 'ro'] as const;

export const attachVolume: Command = {
  name: 'attach-volume',
  synopsis: 'VOL_ID --instance INSTANCE_ID --device DEVICE [--mode rw|ro] [--vmm-host HOST]',
  summary: 'attach a volume to an instance',
  options: {
    instance: { type: 'string', value: 'INSTANCE_ID', help: 'the instance to attach to' },
    device: { type: 'string', value: 'DEVICE', help: 'device name in the instance, e.g. /dev/vdb' },
    mode: { type: 'string', value: 'MODE', help: 'rw (default) or ro' },
    'vmm-host': { type: 'string', value: 'HOST', help: 'the hypervisor host running the instance' },
  },
  async run({ args, out, frontend }) {
    const [volumeId = ''] = args.exactly('VOL_ID');
    const instanceId = args.string('instance');
    const device = args.string('device');
    if (instanceId === undefined) throw new UsageError('missing --instance', args.command);
    if (device === undefined) throw new UsageError('missing --device', args.command);
    const attachMode = args.choice('mode', MODES);
    const vmmHost = args.string('vmm-host');
    const answer = await frontend().call('AttachVolume', {
      volumeId,
      instanceId,
      device,
      ...(attachMode !== undefined ? { attachMode } : {}),
      ...(vmmHost !== undefined ? { vmmHost } : {}),
    });
    out.result(answer, (a) => attachmentTable([a]));
    return 0;
  },
};
