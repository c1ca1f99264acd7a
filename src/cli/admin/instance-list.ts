/**
 * vbs-admin instance list: the instances in the frontend's registry, whom each belongs to and who
 * said so (an admin's assignment, or its node's report), and assignments whose instance no node
 * reports now.
 */
import { renderTable, type Column } from '../table.js';
import type { AdminCommand } from './admin-command.js';
import { DATABASE_OPTION, databaseOf } from './instance-args.js';
import { InstanceRegistry, type RegisteredInstance } from './instance-registry.js';

const COLUMNS: readonly Column<RegisteredInstance>[] = [
  { header: 'INSTANCE', cell: (r) => r.instanceId },
  { header: 'VMM HOST', cell: (r) => r.vmmHost },
  { header: 'STATE', cell: (r) => r.state ?? 'not registered' },
  { header: 'OWNER', cell: (r) => r.ownerId ?? '(admins only)' },
  { header: 'SET BY', cell: (r) => r.source ?? '' },
  { header: 'NODE SAYS', cell: (r) => r.reportedOwnerId ?? '' },
];

export const instanceList: AdminCommand = {
  name: 'instance list',
  synopsis: '[--database FILE] [--json]',
  summary: 'list the instances the frontend knows and whom each belongs to',
  options: { database: DATABASE_OPTION },
  async run({ args, out, home }) {
    args.exactly();
    const registry = InstanceRegistry.open(databaseOf(args, home));
    try {
      const rows = await registry.list();
      out.result(rows, (r) =>
        r.length === 0 ? "The frontend's registry holds no instances.\n" : renderTable(COLUMNS, r),
      );
      return 0;
    } finally {
      registry.close();
    }
  },
};
