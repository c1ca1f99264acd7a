/** vbs detach-volume: DetachVolume, optionally naming the instance and device, optionally forced. */
import type { Command } from '../command.js';
import { attachmentTable } from '../views.js';

export const detachVolume: Command = {
  name: 'detach-volume',
  synopsis: 'VOL_ID [--instance INSTANCE_ID] [--device DEVICE] [--force]',
  summary: 'detach a volume from its instance',
  options: {
    instance: { type: 'string', value: 'INSTANCE_ID', help: 'the instance to detach from' },
    device: { type: 'string', value: 'DEVICE', help: 'the device name of the attachment' },
    force: { type: 'boolean', help: 'detach even if the instance does not release the device' },
  },
  async run({ args, out, frontend }) {
    const [volumeId = ''] = args.exactly('VOL_ID');
    const instanceId = args.string('instance');
    const device = args.string('device');
    const answer = await frontend().call('DetachVolume', {
      volumeId,
      ...(instanceId !== undefined ? { instanceId } : {}),
      ...(device !== undefined ? { device } : {}),
      ...(args.flag('force') ? { force: true } : {}),
    });
    out.result(answer, (a) => attachmentTable([a]));
    return 0;
  },
};
