/** vbs describe-snapshots: DescribeSnapshots for the given IDs (or all of the caller's), with EC2 filters. */
import type { Command } from '../command.js';
import { parseFilters } from '../filters.js';
import { snapshotTable } from '../views.js';
import { FILTER_OPTION } from './shared-options.js';

export const describeSnapshots: Command = {
  name: 'describe-snapshots',
  synopsis: '[SNAP_ID...] [--filter NAME=VALUE[,VALUE]]...',
  summary: 'list snapshots',
  details: [
    'Filters: snapshot-id, volume-id, status, progress, start-time, volume-size, owner-id,',
    'description. Values may use * and ?; a snapshot must match every filter.',
  ],
  options: { filter: FILTER_OPTION },
  async run({ args, out, frontend }) {
    const filterSet = parseFilters(args.list('filter'), args.command);
    const answer = await frontend().call('DescribeSnapshots', {
      snapshotSet: { item: args.positionals.map((snapshotId) => ({ snapshotId })) },
      ...(filterSet ? { filterSet } : {}),
    });
    out.result(answer, (r) => snapshotTable(r.snapshotSet.item ?? []));
    return 0;
  },
};
