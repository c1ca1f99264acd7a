/** The NAME argument of the user commands: a bad or reserved name is a usage error (exit 2). */
import { UsageError, type ParsedArgs } from '../args.js';
import { TrustStoreError, checkUserName } from '../../security/truststore/user-names.js';

export function userNameArg(args: ParsedArgs): string {
  const [name = ''] = args.exactly('NAME');
  try {
    checkUserName(name);
  } catch (err) {
    if (err instanceof TrustStoreError) throw new UsageError(err.message, args.command);
    throw err;
  }
  return name;
}
