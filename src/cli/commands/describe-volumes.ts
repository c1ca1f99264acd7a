/** vbs describe-volumes: DescribeVolumes for the given IDs (or all of the caller's), with EC2 filters. */
import type { Command } from '../command.js';
import { parseFilters } from '../filters.js';
import { FILTER_OPTION } from './shared-options.js';
import { volumeTable } from '../views.js';

export const describeVolumes: Command = {
  name: 'describe-volumes',
  synopsis: '[VOL_ID...] [--filter NAME=VALUE[,VALUE]]...',
  summary: 'list volumes',
  details: [
    'Filters: volume-id, status, size, snapshot-id, availability-zone, create-time, volume-type,',
    'attachment.instance-id, attachment.device, attachment.status, attachment.attach-time,',
    'attachment.attach-mode. Values may use * and ?; a volume must match every filter.',
  ],
  options: { filter: FILTER_OPTION },
  async run({ args, out, frontend }) {
    const filterSet = parseFilters(args.list('filter'), args.command);
    const answer = await frontend().call('DescribeVolumes', {
      volumeSet: { item: args.positionals.map((volumeId) => ({ volumeId })) },
      ...(filterSet ? { filterSet } : {}),
    });
    out.result(answer, (r) => volumeTable(r.volumeSet.item ?? []));
    return 0;
  },
};
