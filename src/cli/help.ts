/** The text of `vbs --help`, `vbs COMMAND --help`, and the short usage shown after a usage error. */
import { GLOBAL_OPTIONS, WAIT_OPTIONS, type OptionSpecs } from './args.js';
import type { Command } from './command.js';
import { COMMANDS } from './commands/index.js';

function optionLines(specs: OptionSpecs): string[] {
  const rows = Object.entries(specs).map(
    ([name, s]) => [`  ${s.short ? `-${s.short}, ` : ''}--${name}${s.value ? ` ${s.value}` : ''}`, s.help] as const,
  );
  const width = Math.max(...rows.map(([left]) => left.length));
  return rows.map(([left, help]) => `${left.padEnd(width)}  ${help}`);
}

export function generalHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'Usage: vbs [options] COMMAND [arguments]',
    '',
    'A client for VBS, the virtual block store (EC2 API 2010-08-31 over SOAP).',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    'Options of create-volume, create-snapshot, delete-volume:',
    ...optionLines(WAIT_OPTIONS),
    '',
    'Exit status: 0 success, 1 fault or failure, 2 usage error.',
    "Run 'vbs COMMAND --help' for a command's arguments.",
    '',
  ].join('\n');
}

export function commandUsage(c: Command): string {
  return `Usage: vbs ${c.name} ${c.synopsis}`.trimEnd();
}

export function commandHelp(c: Command): string {
  const specs = { ...c.options, ...(c.waits ? WAIT_OPTIONS : {}) };
  const own = Object.keys(specs).length ? ['', 'Options:', ...optionLines(specs)] : [];
  return [
    commandUsage(c),
    '',
    `${c.summary[0]?.toUpperCase() ?? ''}${c.summary.slice(1)}.`,
    ...(c.details?.length ? ['', ...c.details] : []),
    ...own,
    ...(c.waits
      ? [
          '',
          'With --wait, progress goes to stderr and the output shows where the resource ended',
          '(with --json: the last Describe answer, or the Delete answer once the resource is gone);',
          'the exit status is 1 if it ended in error.',
        ]
      : []),
    '',
    'Global options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
  ].join('\n');
}
