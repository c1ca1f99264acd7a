#!/usr/bin/env node
/**
 * vbs: the command-line client of VBS. Parses the command line, finds the command, runs it against
 * the frontend, and turns whatever goes wrong into one line on stderr and an exit status
 * (0 success, 1 failure or fault, 2 usage error).
 */
import { parseCommandLine, splitCommand, UsageError } from './args.js';
import type { CommandContext, WaitRequest } from './command.js';
import { findCommand } from './commands/index.js';
import { connect, type Frontend } from './connection.js';
import { EXIT_OK, reportOf } from './errors.js';
import { commandHelp, generalHelp } from './help.js';
import { processOutput } from './output.js';

const DEFAULT_TIMEOUT_SECONDS = 600;

async function main(argv: readonly string[]): Promise<number> {
  let frontend: Frontend | undefined;
  let name = '';
  try {
    const split = splitCommand(argv);
    name = split.command;
    const rest = split.rest;
    const command = name === '' ? undefined : findCommand(name);
    if (name !== '' && !command) throw new UsageError(`unknown command '${name}'`);
    const args = parseCommandLine(name, rest, command?.options ?? {});
    if (args.flag('help')) {
      process.stdout.write(command ? commandHelp(command) : generalHelp());
      return EXIT_OK;
    }
    if (!command) throw new UsageError('no command given');
    const wait = waitRequest(args.flag('wait'), args.string('timeout'), command.waits === true, command.name);
    const options = {
      endpoint: args.string('endpoint'),
      ca: args.string('ca'),
      cert: args.string('cert'),
      key: args.string('key'),
    };
    const ctx: CommandContext = {
      args,
      out: processOutput(args.flag('json')),
      wait,
      frontend: () => {
        frontend ??= connect(options);
        return frontend;
      },
    };
    return await command.run(ctx);
  } catch (error) {
    // Options checked outside a command (an --endpoint that is no URL) still show that command's usage.
    const known =
      error instanceof UsageError && error.command === undefined && findCommand(name)
        ? new UsageError(error.message, name)
        : error;
    // The endpoint the failed call went to last (with several, the one that failed last).
    const report = reportOf(known, frontend?.endpoint);
    process.stderr.write(report.text);
    return report.status;
  } finally {
    frontend?.close();
  }
}

function waitRequest(
  wait: boolean,
  timeout: string | undefined,
  allowed: boolean,
  command: string,
): WaitRequest | undefined {
  if ((wait || timeout !== undefined) && !allowed)
    throw new UsageError(`${command} does not take --wait or --timeout`, command);
  if (timeout !== undefined && !wait) throw new UsageError('--timeout applies only with --wait', command);
  if (!wait) return undefined;
  const seconds = timeout === undefined ? DEFAULT_TIMEOUT_SECONDS : Number(timeout);
  if (!Number.isFinite(seconds) || seconds <= 0 || timeout?.trim() === '') {
    throw new UsageError(`--timeout must be a positive number of seconds, not '${timeout ?? ''}'`, command);
  }
  return { timeoutSeconds: seconds };
}

// A closed pipe (vbs describe-volumes | head) ends the output, not the program with a trace.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

process.exitCode = await main(process.argv.slice(2));
