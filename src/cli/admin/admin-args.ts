/**
 * The vbs-admin command line: global options, two command words ("user add"), then the command's own
 * arguments, options allowed anywhere, parsed strictly with node:util parseArgs into the vbs CLI's
 * ParsedArgs. The vbs client's global options (--endpoint, --ca, --wait) do not apply here and are
 * refused rather than ignored.
 */
import { parseArgs } from 'node:util';
import { certificateProfiles } from '../../security/ca/certificate-profiles.js';
import { ParsedArgs, UsageError, type OptionSpec, type OptionSpecs } from '../args.js';

/** A user certificate's lifetime, as certs/profiles/user.json says. */
const USER_LIFETIME = certificateProfiles().user.lifetime;

export const ADMIN_GLOBAL_OPTIONS: OptionSpecs = {
  home: { type: 'string', value: 'DIR', help: 'the VBS home (default $VBS_HOME or ./var)' },
  json: { type: 'boolean', help: 'print the result as JSON' },
  help: { type: 'boolean', short: 'h', help: 'show help' },
};

export const SAME_USER_OPTION: OptionSpec = {
  type: 'boolean',
  help: 'the user already holds an active certificate: add this one (another key) for the same user',
};

export const DAYS_OPTION: OptionSpec = {
  type: 'string',
  value: 'N',
  help: `validity of the certificate in days (default ${USER_LIFETIME.defaultDays})`,
};

/** The command words (up to two) and the remaining arguments, in order. */
export function splitWords(argv: readonly string[]): { words: string[]; rest: string[] } {
  const words: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (words.length < 2 && !arg.startsWith('-')) {
      words.push(arg);
      continue;
    }
    rest.push(arg);
    const spec = ADMIN_GLOBAL_OPTIONS[arg.replace(/^--?/, '')];
    if (words.length < 2 && spec?.type === 'string' && !arg.includes('=') && i + 1 < argv.length)
      rest.push(argv[++i] ?? '');
  }
  return { words, rest };
}

export function parseAdminArgs(command: string, rest: readonly string[], own: OptionSpecs): ParsedArgs {
  const specs: Record<string, OptionSpec> = { ...ADMIN_GLOBAL_OPTIONS, ...own };
  const options = Object.fromEntries(
    Object.entries(specs).map(([name, s]) => [
      name,
      { type: s.type, multiple: s.multiple ?? false, ...(s.short !== undefined ? { short: s.short } : {}) },
    ]),
  );
  try {
    const parsed = parseArgs({ args: [...rest], options, strict: true, allowPositionals: true });
    return new ParsedArgs(command, parsed.positionals, parsed.values);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    throw new UsageError((message.split('. ')[0] ?? message).replace(/\.$/, ''), command || undefined);
  }
}

/** --days N: a whole number of days, 1 to the profile's maximum; undefined when not given. */
export function validDays(args: ParsedArgs): number | undefined {
  const given = args.string('days');
  if (given === undefined) return undefined;
  const days = Number(given);
  if (!/^\d+$/.test(given) || days < 1 || days > USER_LIFETIME.maxDays) {
    throw new UsageError(
      `--days must be a whole number of days from 1 to ${USER_LIFETIME.maxDays}, not '${given}'`,
      args.command,
    );
  }
  return days;
}

/** A required string option. */
export function requiredOption(args: ParsedArgs, name: string, value: string): string {
  const v = args.string(name);
  if (v === undefined || v === '') throw new UsageError(`missing --${name} ${value}`, args.command);
  return v;
}
