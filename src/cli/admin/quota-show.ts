/**
 * vbs-admin quota show NAME: the user's quota as the frontend applies it (each limit, whether an
 * override or the frontend's default sets it) and what the user holds now, counted as the frontend
 * counts it (every volume and snapshot but deleted ones).
 */
import type { AdminCommand } from './admin-command.js';
import { overridesOf } from '../../sqlite/quotas.js';
import { CONFIG_OPTION, openQuotaDatabase, quotaReport, renderQuotaReport } from './quota-database.js';
import { userNameArg } from './user-name-arg.js';

export const quotaShow: AdminCommand = {
  name: 'quota show',
  synopsis: 'NAME [--config FILE] [--json]',
  summary: "show a user's quota (volumes, GiB, snapshots) and what the user holds",
  options: { config: CONFIG_OPTION },
  async run({ args, out, home }) {
    const name = userNameArg(args);
    const q = openQuotaDatabase(home, args.string('config'));
    try {
      out.result(quotaReport(q, name, overridesOf(q.db, name)), renderQuotaReport);
      return 0;
    } finally {
      q.close();
    }
  },
};
