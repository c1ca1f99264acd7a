/**
 * What a CLI command is: its name, help, own options, and a run function that gets a context with
 * parsed arguments, a lazily opened frontend connection, and the output streams. Each command lives
 * in its own file under commands/ and is listed once in commands/index.ts.
 */
import type { OptionSpecs, ParsedArgs } from './args.js';
import type { Frontend } from './connection.js';
import type { Output } from './output.js';

export interface CommandContext {
  readonly args: ParsedArgs;
  readonly out: Output;
  /** Opens the connection on first use, so that usage errors are found before any I/O. */
  readonly frontend: () => Frontend;
  /** Set when the command accepts --wait and it was given. */
  readonly wait: WaitRequest | undefined;
}

export interface WaitRequest {
  readonly timeoutSeconds: number;
}

export interface Command {
  readonly name: string;
  /** The arguments after the command name, e.g. 'VOL_ID [--description TEXT]'. */
  readonly synopsis: string;
  readonly summary: string;
  /** More lines of help, shown by `vbs COMMAND --help`. */
  readonly details?: readonly string[];
  readonly options: OptionSpecs;
  /** Whether --wait and --timeout apply. */
  readonly waits?: boolean;
  /** Resolves to the exit status: 0, or 1 when the outcome was a failure already reported. */
  run(ctx: CommandContext): Promise<number>;
}

/** A failure the CLI explains in one line of its own (not a fault from the frontend): exit 1. */
export class CliError extends Error {
  override readonly name = 'CliError';
}
