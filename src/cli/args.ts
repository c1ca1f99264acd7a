/**
 * The command line as the CLI sees it: global options, the command word, and the command's own
 * options, parsed in one strict pass with node:util parseArgs so that options may come before or after
 * the command. Anything malformed is a UsageError, which the entry turns into exit status 2.
 */
import { parseArgs } from 'node:util';

export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
  }
}

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly multiple?: boolean;
  readonly short?: string;
  /** One word for the value in help, e.g. GiB; omitted for booleans. */
  readonly value?: string;
  readonly help: string;
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

/** Options every command takes. --wait and --timeout are accepted only where a command says so. */
export const GLOBAL_OPTIONS: OptionSpecs = {
  endpoint: {
    type: 'string',
    value: 'URL[,URL…]',
    help: 'frontend URL, or several to fail over between (default $VBS_ENDPOINT or https://127.0.0.1:8443/vbs)',
  },
  ca: { type: 'string', value: 'FILE', help: 'CA certificate to trust (default $VBS_CA or $VBS_HOME/certs/ca.pem)' },
  cert: {
    type: 'string',
    value: 'FILE',
    help: 'your certificate (default $VBS_CERT or $VBS_HOME/users/admin/admin.pem)',
  },
  key: {
    type: 'string',
    value: 'FILE',
    help: 'your private key (default $VBS_KEY or $VBS_HOME/users/admin/admin.key)',
  },
  json: { type: 'boolean', help: 'print the response as JSON' },
  help: { type: 'boolean', short: 'h', help: 'show help' },
};

export const WAIT_OPTIONS: OptionSpecs = {
  wait: { type: 'boolean', help: 'poll until the resource reaches its end state' },
  timeout: { type: 'string', value: 'SECONDS', help: 'give up waiting after this long (default 600)' },
};

type Value = string | boolean | (string | boolean)[] | undefined;

/** Typed access to what parseArgs found, so that commands never touch its loosely typed record. */
export class ParsedArgs {
  constructor(
    readonly command: string,
    readonly positionals: readonly string[],
    private readonly values: Readonly<Record<string, Value>>,
  ) {}

  string(name: string): string | undefined {
    const v = this.values[name];
    return typeof v === 'string' ? v : undefined;
  }

  flag(name: string): boolean {
    return this.values[name] === true;
  }

  list(name: string): string[] {
    const v = this.values[name];
    if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
    return typeof v === 'string' ? [v] : [];
  }

  /** The option's value, which must be one of `choices`. */
  choice<T extends string>(name: string, choices: readonly T[]): T | undefined {
    const v = this.string(name);
    if (v === undefined) return undefined;
    const found = choices.find((c) => c === v);
    if (found === undefined)
      throw new UsageError(`--${name} must be one of ${choices.join(', ')}, not '${v}'`, this.command);
    return found;
  }

  /** Exactly `names.length` positionals, named for the message when they are not there. */
  exactly(...names: string[]): string[] {
    if (this.positionals.length < names.length) {
      throw new UsageError(`missing ${names.slice(this.positionals.length).join(' ')}`, this.command);
    }
    if (this.positionals.length > names.length) {
      throw new UsageError(`unexpected argument '${this.positionals[names.length] ?? ''}'`, this.command);
    }
    return [...this.positionals];
  }
}

/** Index of the command word: the first argument that is neither an option nor a global option's value. */
function commandIndex(argv: readonly string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') return i + 1 < argv.length ? i + 1 : -1;
    if (!arg.startsWith('-') || arg === '-') return i;
    const name = arg.replace(/^--?/, '');
    const spec = GLOBAL_OPTIONS[name] ?? WAIT_OPTIONS[name];
    if (spec?.type === 'string' && !arg.includes('=')) i++;
  }
  return -1;
}

/** Splits argv into the command word and the rest; no command word gives command ''. */
export function splitCommand(argv: readonly string[]): { command: string; rest: string[] } {
  const i = commandIndex(argv);
  if (i < 0) return { command: '', rest: [...argv] };
  return { command: argv[i] ?? '', rest: [...argv.slice(0, i), ...argv.slice(i + 1)] };
}

export function parseCommandLine(command: string, rest: readonly string[], own: OptionSpecs): ParsedArgs {
  const specs: Record<string, OptionSpec> = { ...GLOBAL_OPTIONS, ...WAIT_OPTIONS, ...own };
  const options = Object.fromEntries(
    Object.entries(specs).map(([name, s]) => [
      name,
      { type: s.type, multiple: s.multiple ?? false, ...(s.short !== undefined ? { short: s.short } : {}) },
    ]),
  );
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...rest], options, strict: true, allowPositionals: true });
  } catch (e) {
    throw new UsageError(cleanParseMessage(e), command || undefined);
  }
  return new ParsedArgs(command, parsed.positionals, parsed.values);
}

/** parseArgs' messages carry advice about '--' and codes; keep the first sentence. */
function cleanParseMessage(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return (message.split('. ')[0] ?? message).replace(/\.$/, '');
}
