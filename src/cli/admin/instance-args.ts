/** What the instance commands share: the metadata store they work on (--database). */
import { frontendDefaults } from '../../config/config.js';
import { UsageError, type OptionSpec, type ParsedArgs } from '../args.js';

export const DATABASE_OPTION: OptionSpec = {
  type: 'string',
  value: 'FILE',
  help: "the frontend's metadata store (default: the frontend's default, VBS_HOME/vbs.sqlite)",
};

export function databaseOf(args: ParsedArgs, home: string): string {
  const given = args.string('database');
  if (given === '') throw new UsageError('--database needs a file', args.command);
  return given ?? frontendDefaults(home).database;
}
