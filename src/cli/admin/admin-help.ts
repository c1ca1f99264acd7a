/** The text of `vbs-admin --help`, `vbs-admin GROUP --help`, `vbs-admin GROUP VERB --help`, and usage lines. */
import type { OptionSpecs } from '../args.js';
import type { AdminCommand } from './admin-command.js';
import { ADMIN_GLOBAL_OPTIONS } from './admin-args.js';
import { ADMIN_COMMANDS } from './commands.js';

export const GENERAL_USAGE = 'Usage: vbs-admin [--home DIR] COMMAND [arguments]';

function optionLines(specs: OptionSpecs): string[] {
  const rows = Object.entries(specs).map(
    ([name, s]) => [`  ${s.short ? `-${s.short}, ` : ''}--${name}${s.value ? ` ${s.value}` : ''}`, s.help] as const,
  );
  const width = Math.max(...rows.map(([left]) => left.length));
  return rows.map(([left, help]) => `${left.padEnd(width)}  ${help}`);
}

/** All commands, or those of one group ("user"). */
export function generalHelp(group?: string): string {
  const shown = ADMIN_COMMANDS.filter((c) => group === undefined || c.name.startsWith(`${group} `));
  const width = Math.max(...shown.map((c) => c.name.length));
  return [
    group === undefined ? GENERAL_USAGE : `Usage: vbs-admin [--home DIR] ${group} COMMAND [arguments]`,
    '',
    "Administers a VBS installation: its CA, its trust store (who may sign requests), its users'",
    'quotas and whom instances belong to, in the VBS home the services use. Changes take effect in',
    'running services at once.',
    '',
    'Commands:',
    ...shown.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Options:',
    ...optionLines(ADMIN_GLOBAL_OPTIONS),
    '',
    'Exit status: 0 success, 1 failure, 2 usage error.',
    "Run 'vbs-admin COMMAND --help' for a command's arguments.",
    '',
  ].join('\n');
}

export function commandUsage(c: AdminCommand): string {
  return `Usage: vbs-admin ${c.name} ${c.synopsis}`.trimEnd();
}

export function commandHelp(c: AdminCommand): string {
  const own = Object.keys(c.options).length ? ['', 'Options:', ...optionLines(c.options)] : [];
  return [
    commandUsage(c),
    '',
    `${c.summary[0]?.toUpperCase() ?? ''}${c.summary.slice(1)}.`,
    ...(c.details?.length ? ['', ...c.details] : []),
    ...own,
    '',
    'Global options:',
    ...optionLines(ADMIN_GLOBAL_OPTIONS),
    '',
  ].join('\n');
}
