/** vbs delete-volume: DeleteVolume; with --wait, follows the volume until the frontend no longer has it. */
import type { Command } from '../command.js';
import { followVolumeDeletion } from '../follow.js';

export const deleteVolume: Command = {
  name: 'delete-volume',
  synopsis: 'VOL_ID [--wait]',
  summary: 'delete a volume',
  waits: true,
  options: {},
  async run({ args, out, frontend, wait }) {
    const [volumeId = ''] = args.exactly('VOL_ID');
    const fe = frontend();
    const answer = await fe.call('DeleteVolume', { volumeId });
    if (!wait) {
      out.result(answer, () => `${volumeId} deleting\n`);
      return 0;
    }
    const end = await followVolumeDeletion(fe, volumeId, { timeoutSeconds: wait.timeoutSeconds, out });
    if (end.phase === 'failed') {
      if (end.value) out.result(end.value, () => `${volumeId} ${end.status}\n`);
      out.stderr(`vbs: volume ${volumeId} ended ${end.status} instead of deleted\n`);
      return 1;
    }
    out.result(answer, () => `${volumeId} deleted\n`);
    return 0;
  },
};
