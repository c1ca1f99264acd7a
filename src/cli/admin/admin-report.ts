/**
 * What the administrator reads when a command does not succeed: one line on stderr (and the usage
 * for usage errors), never a stack trace unless $VBS_DEBUG is set; exit status 2 for usage errors,
 * 1 for everything else. Refusals of the trust store and the CA are shown as they are: they say what
 * to do.
 */
import { UsageError } from '../args.js';
import { CliError } from '../command.js';
import { TrustStoreError } from '../../security/truststore/user-names.js';
import { GENERAL_USAGE, commandUsage } from './admin-help.js';
import { findAdminCommand } from './commands.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export function adminReport(error: unknown): { text: string; status: number } {
  if (error instanceof UsageError) {
    const command = error.command === undefined ? undefined : findAdminCommand(error.command);
    const usage = command ? commandUsage(command) : GENERAL_USAGE;
    const more = command ? `vbs-admin ${command.name} --help` : 'vbs-admin --help';
    return { text: `vbs-admin: ${error.message}\n${usage}\nRun '${more}' for more.\n`, status: EXIT_USAGE };
  }
  const message = error instanceof Error ? error.message : String(error);
  const known = error instanceof CliError || error instanceof TrustStoreError;
  const stack = process.env['VBS_DEBUG'] && error instanceof Error && error.stack ? `${error.stack}\n` : '';
  return {
    text: `vbs-admin: ${known ? '' : 'error: '}${message.split('\n')[0] ?? ''}\n${stack}`,
    status: EXIT_FAILURE,
  };
}
