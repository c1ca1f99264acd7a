/** vbs delete-snapshot: DeleteSnapshot. */
import type { Command } from '../command.js';

export const deleteSnapshot: Command = {
  name: 'delete-snapshot',
  synopsis: 'SNAP_ID',
  summary: 'delete a snapshot',
  options: {},
  async run({ args, out, frontend }) {
    const [snapshotId = ''] = args.exactly('SNAP_ID');
    const answer = await frontend().call('DeleteSnapshot', { snapshotId });
    out.result(answer, () => `${snapshotId} deleted\n`);
    return 0;
  },
};
