/**
 * Where the CLI writes: results on stdout (a table, or JSON with --json), messages and progress on
 * stderr. Kept behind an interface so that commands do not reach for process streams themselves.
 */

export interface Output {
  readonly json: boolean;
  /** Whether stderr is a terminal, where progress may redraw one line. */
  readonly stderrIsTTY: boolean;
  stdout(text: string): void;
  stderr(text: string): void;
  /** A result: `value` as JSON with --json, else the table or text that `render` makes of it. */
  result<T>(value: T, render: (value: T) => string): void;
}

export function processOutput(json: boolean): Output {
  return {
    json,
    // undefined when not a terminal, whatever its type says
    stderrIsTTY: (process.stderr.isTTY as boolean | undefined) === true,
    stdout: (text) => {
      process.stdout.write(text);
    },
    stderr: (text) => {
      process.stderr.write(text);
    },
    result(value, render) {
      process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : render(value));
    },
  };
}
