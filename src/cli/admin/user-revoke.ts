/**
 * vbs-admin user revoke NAME: revokes the user's certificates (all, or one with --fingerprint).
 * Running services notice the change on their next request (the trust store checks SQLite's
 * data_version on each one): no restart. A revoked certificate can never be trusted again.
 */
import { UsageError } from '../args.js';
import { CliError } from '../command.js';
import { openHomeTrustStore } from '../../security/truststore/home.js';
import type { AdminCommand } from './admin-command.js';
import { userNameArg } from './user-name-arg.js';

export const userRevoke: AdminCommand = {
  name: 'user revoke',
  synopsis: 'NAME [--fingerprint HEX]',
  summary: "revoke a user's certificates, effective at once in running services",
  options: {
    fingerprint: {
      type: 'string',
      value: 'HEX',
      help: 'revoke only this certificate (SHA-256, as user list shows it)',
    },
  },
  async run({ args, out, home }) {
    const name = userNameArg(args);
    const fp = args.string('fingerprint')?.replace(/:/g, '').toLowerCase();
    if (fp !== undefined && !/^[0-9a-f]{64}$/.test(fp)) {
      throw new UsageError('--fingerprint must be the 64 hex digits of a SHA-256 fingerprint', args.command);
    }
    const store = openHomeTrustStore(home);
    try {
      let revoked: number;
      if (fp !== undefined) {
        const record = store.get(fp);
        if (record?.userId !== name) throw new CliError(`${name} has no certificate with fingerprint ${fp}`);
        if (record.revokedAt !== null)
          throw new CliError(`that certificate of ${name} was already revoked on ${record.revokedAt}`);
        revoked = store.revokeCertificate(fp) ? 1 : 0;
      } else {
        revoked = store.revokeUser(name);
        if (revoked === 0) throw new CliError(`${name} has no certificate that is not revoked already`);
      }
      out.result(
        { userId: name, revoked },
        (r) =>
          `Revoked ${r.revoked} certificate${r.revoked === 1 ? '' : 's'} of ${r.userId}; running services refuse ${r.revoked === 1 ? 'it' : 'them'} from now on.\n`,
      );
      return 0;
    } finally {
      store.close();
    }
  },
};
