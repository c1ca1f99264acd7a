/** vbs create-snapshot: CreateSnapshot of a volume; with --wait, follows the copy until completed or error. */
import type { Command } from '../command.js';
import { followNewSnapshot } from '../follow.js';
import { snapshotTable } from '../views.js';

export const createSnapshot: Command = {
  name: 'create-snapshot',
  synopsis: 'VOL_ID [--description TEXT] [--wait]',
  summary: 'snapshot a volume',
  waits: true,
  options: {
    description: { type: 'string', value: 'TEXT', help: 'a description, up to 255 characters' },
  },
  async run({ args, out, frontend, wait }) {
    const [volumeId = ''] = args.exactly('VOL_ID');
    const description = args.string('description');
    const fe = frontend();
    const created = await fe.call('CreateSnapshot', {
      volumeId,
      ...(description !== undefined ? { description } : {}),
    });
    if (!wait) {
      out.result(created, (s) => snapshotTable([s]));
      return 0;
    }
    const end = await followNewSnapshot(fe, created.snapshotId, { timeoutSeconds: wait.timeoutSeconds, out });
    if (end.value) out.result(end.value, (r) => snapshotTable(r.snapshotSet.item ?? []));
    if (end.phase === 'failed') {
      out.stderr(`vbs: snapshot ${created.snapshotId} ended ${end.status}\n`);
      return 1;
    }
    return 0;
  },
};
