/**
 * vbs-admin instance set-owner INSTANCE_ID --owner USER [--node HOST]: the instance belongs to USER from
 * now on, whatever its node reports: only USER (and admins) may attach to it, detach from it or see
 * it. The assignment is written to the frontend's metadata store, where every frontend process reads
 * it on its next request; it stays (also while the instance is not running) until it is changed.
 * The instance must be known there: registered by its node now, or assigned before.
 */
import { isInstanceId } from '../../core/ids.js';
import { TrustStoreError, checkUserName } from '../../security/truststore/user-names.js';
import { UsageError } from '../args.js';
import { CliError } from '../command.js';
import { requiredOption } from './admin-args.js';
import type { AdminCommand } from './admin-command.js';
import { DATABASE_OPTION, databaseOf } from './instance-args.js';
import { InstanceRegistry, type RegisteredInstance } from './instance-registry.js';

interface Assigned {
  readonly instanceId: string;
  readonly vmmHost: string;
  readonly ownerId: string;
  readonly before: { readonly ownerId: string | null; readonly source: RegisteredInstance['source'] };
}

function describeBefore(b: Assigned['before']): string {
  if (b.ownerId === null) return 'before: no owner known, admins only';
  return `before: ${b.ownerId}, ${b.source === 'admin' ? 'assigned by an admin' : 'as its node reports it'}`;
}

export const instanceSetOwner: AdminCommand = {
  name: 'instance set-owner',
  synopsis: 'INSTANCE_ID --owner USER [--node HOST] [--database FILE]',
  summary: 'make an instance belong to a user, whatever its node reports',
  details: [
    'Only the owner (and admins) may attach volumes to the instance, detach them from it, or see it.',
    "The assignment wins over the owner the instance's node reports, takes effect in running frontends",
    'at their next request, and stays until it is changed. An instance ID that several nodes report',
    'needs --node.',
  ],
  options: {
    owner: { type: 'string', value: 'USER', help: 'the user ID the instance belongs to from now on' },
    node: { type: 'string', value: 'HOST', help: 'the node (VMM host, as it registers) the instance runs on' },
    database: DATABASE_OPTION,
  },
  async run({ args, out, home }) {
    const [instanceId = ''] = args.exactly('INSTANCE_ID');
    if (!isInstanceId(instanceId))
      throw new UsageError(`'${instanceId.slice(0, 80)}' is not an instance ID`, args.command);
    const user = requiredOption(args, 'owner', 'USER');
    try {
      checkUserName(user);
    } catch (err) {
      if (err instanceof TrustStoreError) throw new UsageError(err.message, args.command);
      throw err;
    }
    const vmmHost = args.string('node');
    if (vmmHost === '') throw new UsageError('--node needs a host', args.command);
    const registry = InstanceRegistry.open(databaseOf(args, home));
    try {
      const known = await registry.find(instanceId);
      const there = known.filter((i) => vmmHost === undefined || i.vmmHost === vmmHost);
      const target = there[0];
      if (target === undefined) {
        const elsewhere = known.length > 0 ? ` (it is known on ${known.map((i) => i.vmmHost).join(', ')})` : '';
        throw new CliError(
          `no instance ${instanceId}${vmmHost !== undefined ? ` on ${vmmHost}` : ''} in the frontend's registry${elsewhere}: its node must have registered it`,
        );
      }
      if (there.length > 1) {
        throw new UsageError(
          `${instanceId} runs on several nodes; name one with --node (${there.map((i) => i.vmmHost).join(', ')})`,
          args.command,
        );
      }
      await registry.assign(instanceId, target.vmmHost, user);
      const result: Assigned = {
        instanceId,
        vmmHost: target.vmmHost,
        ownerId: user,
        before: { ownerId: target.ownerId, source: target.source },
      };
      out.result(
        result,
        (r) =>
          `${r.instanceId} on ${r.vmmHost} belongs to ${r.ownerId} now (${describeBefore(r.before)}); running frontends apply it from their next request.\n`,
      );
      return 0;
    } finally {
      registry.close();
    }
  },
};
