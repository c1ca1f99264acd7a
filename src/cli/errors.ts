/**
 * What the user reads when a command does not succeed: one line on stderr, never a stack trace
 * (unless $VBS_DEBUG is set), and the exit status: 2 for usage errors, 1 for everything else.
 */
import { SoapFault, TransportError } from '../soap/client.js';
import { SigningCertificateError } from '../security/wssec/sign.js';
import { UsageError } from './args.js';
import { CliError } from './command.js';
import { findCommand } from './commands/index.js';
import { ConnectionSetupError } from './connection.js';
import { commandUsage } from './help.js';
import { WaitTimeoutError } from './wait.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export interface Report {
  readonly text: string;
  readonly status: number;
}

export function reportOf(error: unknown, endpoint: string | undefined): Report {
  if (error instanceof UsageError) {
    const command = error.command === undefined ? undefined : findCommand(error.command);
    const usage = command ? commandUsage(command) : 'Usage: vbs [options] COMMAND [arguments]';
    const more = command ? `vbs ${command.name} --help` : 'vbs --help';
    return { text: `vbs: ${error.message}\n${usage}\nRun '${more}' for more.\n`, status: EXIT_USAGE };
  }
  if (error instanceof SoapFault) {
    const request = error.requestId ? ` (request ${error.requestId})` : '';
    return { text: `vbs: ${error.code}: ${error.message}${request}\n`, status: EXIT_FAILURE };
  }
  if (error instanceof TransportError)
    return { text: `vbs: ${transportText(error, endpoint)}\n`, status: EXIT_FAILURE };
  // Your own certificate cannot sign (expired, not yet valid): nothing was sent.
  if (error instanceof SigningCertificateError)
    return { text: `vbs: ${error.message.replace(/^the signing/, 'your signing')}\n`, status: EXIT_FAILURE };
  if (error instanceof ConnectionSetupError || error instanceof WaitTimeoutError || error instanceof CliError) {
    return { text: `vbs: ${error.message}\n`, status: EXIT_FAILURE };
  }
  const message = error instanceof Error ? error.message : String(error);
  const stack = process.env['VBS_DEBUG'] && error instanceof Error && error.stack ? `${error.stack}\n` : '';
  return { text: `vbs: unexpected error: ${message}\n${stack}`, status: EXIT_FAILURE };
}

/** "cannot reach URL: reason" for a failed connection, with a hint when the TLS check was the reason. */
function transportText(error: TransportError, endpoint: string | undefined): string {
  const where = endpoint ?? 'the frontend';
  const origin = endpoint === undefined ? undefined : new URL(endpoint).origin;
  if (origin === undefined || !error.message.startsWith(`${origin}: `))
    return `bad answer from ${where}: ${error.message}`;
  const reason = error.message.slice(origin.length + 2);
  const tls = /certificate|self[- ]signed|SSL|TLS|altname/i.test(reason)
    ? " (is --ca the CA that issued the frontend's certificate?)"
    : '';
  const down = /ECONNREFUSED/.test(reason) ? ' (is the frontend running?)' : '';
  const sent =
    error.effect === 'unknown' ? '; the request was sent and may have been carried out: look before trying again' : '';
  return `cannot reach ${where}: ${reason}${tls}${down}${sent}`;
}
