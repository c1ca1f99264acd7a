/**
 * vbs-admin quota set NAME [--volumes N] [--gib N] [--snapshots N]: overrides the frontend's default
 * quotas for one user, effective at once (the frontend reads the overrides inside each create's
 * INSERT); `default` returns a limit to the frontend's default. A limit below what the user holds
 * refuses new volumes or snapshots and removes nothing.
 */
import { UsageError, type ParsedArgs } from '../args.js';
import { patiently, writing } from '../../sqlite/checked.js';
import { QUOTA_KINDS, setOverrides, type QuotaKind } from '../../sqlite/quotas.js';
import type { AdminCommand } from './admin-command.js';
import { CONFIG_OPTION, openQuotaDatabase, quotaReport, renderQuotaReport } from './quota-database.js';
import { userNameArg } from './user-name-arg.js';

const OPTION: Readonly<Record<QuotaKind, string>> = { volumes: 'volumes', gib: 'gib', snapshots: 'snapshots' };

/** The limits given: a whole number (0 or more), or 'default' (null); at least one. */
function changesOf(args: ParsedArgs): Partial<Record<QuotaKind, number | null>> {
  const changes: Partial<Record<QuotaKind, number | null>> = {};
  for (const kind of QUOTA_KINDS) {
    const given = args.string(OPTION[kind]);
    if (given === undefined) continue;
    if (given === 'default') {
      changes[kind] = null;
      continue;
    }
    const n = Number(given);
    if (!/^\d+$/.test(given) || !Number.isSafeInteger(n))
      throw new UsageError(
        `--${OPTION[kind]} must be a whole number (0 or more) or 'default', not '${given}'`,
        args.command,
      );
    changes[kind] = n;
  }
  if (Object.keys(changes).length === 0)
    throw new UsageError('give at least one of --volumes, --gib, --snapshots', args.command);
  return changes;
}

export const quotaSet: AdminCommand = {
  name: 'quota set',
  synopsis: 'NAME [--volumes N] [--gib N] [--snapshots N] [--config FILE]',
  summary: "override a user's quota, effective at once in running frontends",
  details: [
    'N is a whole number (0 allows none), or "default" for the frontend\'s default (quotaVolumes,',
    'quotaGiB, quotaSnapshots in its config). Every volume and snapshot of the user counts until it',
    'is deleted, error ones too; --gib limits the total size of the volumes.',
  ],
  options: {
    volumes: { type: 'string', value: 'N', help: 'how many volumes the user may hold' },
    gib: { type: 'string', value: 'N', help: 'how many GiB all the volumes of the user may have' },
    snapshots: { type: 'string', value: 'N', help: 'how many snapshots the user may hold' },
    config: CONFIG_OPTION,
  },
  async run({ args, out, home }) {
    const name = userNameArg(args);
    const changes = changesOf(args);
    const q = openQuotaDatabase(home, args.string('config'));
    try {
      const overrides = await patiently('metadata store', () =>
        writing(q.db, () => setOverrides(q.db, name, changes, new Date().toISOString())),
      );
      out.result(quotaReport(q, name, overrides), renderQuotaReport);
      return 0;
    } finally {
      q.close();
    }
  },
};
