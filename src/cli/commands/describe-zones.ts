/** vbs describe-zones: DescribeAvailabilityZones, all or the named ones. */
import type { Command } from '../command.js';
import { zoneTable } from '../views.js';

export const describeZones: Command = {
  name: 'describe-zones',
  synopsis: '[ZONE...]',
  summary: 'list availability zones',
  options: {},
  async run({ args, out, frontend }) {
    const answer = await frontend().call('DescribeAvailabilityZones', {
      availabilityZoneSet: { item: args.positionals.map((zoneName) => ({ zoneName })) },
    });
    out.result(answer, (r) => zoneTable(r.availabilityZoneInfo.item ?? []));
    return 0;
  },
};
