/**
 * Files a test needs that the repository does not hold (e.g. Amazon's EC2 WSDL, which is not ours to
 * redistribute). Every such file follows one rule, so that a missing file is never a silent pass:
 *
 *  - where: $<envVar> when it is set and not empty, else the file's default place. A set variable
 *    is never second-guessed: when it names a file that is not there, the file counts as absent,
 *    even if the default place has one (a typo must not quietly test another file).
 *  - absent under CI=true: the test FAILS, naming the file and the variable; CI runs every test.
 *  - absent elsewhere: the test is SKIPPED, and a line on the console names the file and says how to
 *    provide it, so that the skip is seen and not mistaken for a pass.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { resolve } from 'node:path';

export interface ExternalFile {
  /** What the file is, for the messages: "Amazon's EC2 2010-08-31 WSDL". */
  readonly what: string;
  /** The environment variable that says where it is. */
  readonly envVar: string;
  /** Where it is looked for when the variable is not set. */
  readonly defaultPath: string;
}

/** Where the file is looked for, by the rule above (a relative $envVar is taken from the working directory). */
export function externalFilePath(file: ExternalFile): string {
  const set = process.env[file.envVar];
  return set !== undefined && set !== '' ? resolve(set) : file.defaultPath;
}

function isReadableFile(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** True when CI=true: the test runs in CI, where a needed file that is absent is a failure. */
function inCi(): boolean {
  return process.env['CI'] === 'true';
}

/**
 * The file's path, when it is there. When it is not: under CI=true, throws (the hook or test fails);
 * otherwise prints why and skips the calling test or, from a before() hook, its whole describe.
 */
export function requireExternalFile(context: Pick<Mocha.Context, 'skip'>, file: ExternalFile): string {
  const path = externalFilePath(file);
  if (isReadableFile(path)) return path;
  const from = process.env[file.envVar]
    ? `named by $${file.envVar}, which wins over the default place ${file.defaultPath}`
    : `the default place; set $${file.envVar} to use another`;
  const why = `${file.what}: no readable file at ${path} (${from})`;
  if (inCi()) throw new Error(`${why}. CI=true: a test that needs it fails rather than skips.`);
  console.log(`      SKIPPED: ${why}.`);
  context.skip();
}
