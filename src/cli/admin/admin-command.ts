/**
 * What a vbs-admin command is: two words (group and verb, e.g. "user add"), its help and options, and
 * a run function that gets the parsed arguments, the output streams and the VBS home it works on.
 * Each command lives in its own file here and is listed once in commands.ts.
 */
import type { OptionSpecs, ParsedArgs } from '../args.js';
import type { Output } from '../output.js';

export interface AdminContext {
  readonly args: ParsedArgs;
  readonly out: Output;
  /** The VBS home ($VBS_HOME, ./var, or --home), absolute. */
  readonly home: string;
}

export interface AdminCommand {
  /** "group verb", e.g. "user add". */
  readonly name: string;
  /** The arguments after the command words, e.g. 'NAME [--out DIR]'. */
  readonly synopsis: string;
  readonly summary: string;
  readonly details?: readonly string[];
  readonly options: OptionSpecs;
  /** Resolves to the exit status. Failures are thrown; usage errors as UsageError. */
  run(ctx: AdminContext): Promise<number>;
}
