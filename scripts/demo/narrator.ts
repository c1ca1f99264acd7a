/**
 * How the demo talks to a new user: a heading per step, a sentence saying what happens next, then
 * each command exactly as the user would type it (`$ vbs ...` on the host, `[i-…]# ...` inside a
 * guest) followed by what it printed. Everything goes to stdout, in order, so that a transcript of
 * the demo reads like a terminal session. Bold only on a terminal, and never with NO_COLOR.
 */

const fancy =
  /* undefined when not a terminal, whatever its type says */ (process.stdout.isTTY as boolean | undefined) === true &&
  !process.env['NO_COLOR'];
const bold = (s: string): string => (fancy ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s: string): string => (fancy ? `\x1b[2m${s}\x1b[0m` : s);

function write(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** Indents every line of a command's output under its prompt. */
function indented(text: string, prefix = '    '): string {
  const body = text.replace(/\s+$/, '');
  return body === ''
    ? ''
    : body
        .split('\n')
        .map((l) => `${prefix}${l}`)
        .join('\n');
}

/** Quotes an argument the way a POSIX shell user would have to type it. */
export function shellWord(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function heading(text: string): void {
  write(`\n${bold(`== ${text} ==`)}`);
}

export function say(text: string): void {
  write(text);
}

export function note(text: string): void {
  write(dim(`  (${text})`));
}

/** A command and what it printed; `prompt` is '$' on the host or '[INSTANCE]#' in a guest. */
export function transcript(prompt: string, command: string, output: string): void {
  write(`  ${bold(`${prompt} ${command}`)}`);
  const out = indented(output);
  if (out !== '') write(out);
}

/** A checked fact, stated after the output that shows it. */
export function shown(text: string): void {
  write(`  -> ${text}`);
}

export function failure(text: string): void {
  process.stdout.write(`\n${bold('DEMO FAILED:')} ${text}\n`);
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
