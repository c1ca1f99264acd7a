#!/usr/bin/env node
/**
 * vbs-admin: administers a VBS installation on the machine that holds its home ($VBS_HOME, ./var, or
 * --home), as the services see it: `ca init`, enrolling, trusting, revoking and listing users in
 * the trust store, and assigning and listing whom instances belong to in the frontend's metadata
 * store. It works on the files directly (no service needs to run), and what it changes is
 * seen by running services on their next request. Exit status: 0 success, 1 failure, 2 usage error.
 */
import { resolve } from 'node:path';
import { defaultHome } from '../config/config.js';
import { UsageError } from './args.js';
import { ADMIN_GROUPS, findAdminCommand, verbsOf } from './admin/commands.js';
import { parseAdminArgs, splitWords } from './admin/admin-args.js';
import { commandHelp, generalHelp } from './admin/admin-help.js';
import { EXIT_OK, adminReport } from './admin/admin-report.js';
import { processOutput } from './output.js';

async function main(argv: readonly string[]): Promise<number> {
  try {
    const { words, rest } = splitWords(argv);
    const [group, verb] = words;
    const name = words.join(' ');
    const command = findAdminCommand(name);
    if (command === undefined) {
      // Only the group, or nothing: help if asked, else a usage error that lists what exists.
      const args = parseAdminArgs('', rest, {});
      const knownGroup = group !== undefined && ADMIN_GROUPS.includes(group);
      if (args.flag('help') && (group === undefined || (knownGroup && verb === undefined))) {
        process.stdout.write(generalHelp(knownGroup ? group : undefined));
        return EXIT_OK;
      }
      if (group === undefined) throw new UsageError('no command given');
      if (!knownGroup) throw new UsageError(`unknown command '${group}' (commands: ${ADMIN_GROUPS.join(', ')})`);
      const verbs = verbsOf(group);
      throw new UsageError(
        verb === undefined
          ? `'${group}' needs a command: ${verbs}`
          : `unknown command '${name}' (${group} commands: ${verbs})`,
      );
    }
    const args = parseAdminArgs(command.name, rest, command.options);
    if (args.flag('help')) {
      process.stdout.write(commandHelp(command));
      return EXIT_OK;
    }
    const homeArg = args.string('home');
    if (homeArg === '') throw new UsageError('--home needs a directory', command.name);
    const home = homeArg === undefined ? defaultHome() : resolve(homeArg);
    return await command.run({ args, out: processOutput(args.flag('json')), home });
  } catch (error) {
    const report = adminReport(error);
    process.stderr.write(report.text);
    return report.status;
  }
}

// A closed pipe (vbs-admin user list | head) ends the output, not the program with a trace.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

process.exitCode = await main(process.argv.slice(2));
