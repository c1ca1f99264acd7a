/** Every vbs-admin command, in the order help lists them. */
import type { AdminCommand } from './admin-command.js';
import { caInit } from './ca-init.js';
import { quotaSet } from './quota-set.js';
import { quotaShow } from './quota-show.js';
import { instanceList } from './instance-list.js';
import { instanceSetOwner } from './instance-set-owner.js';
import { userAdd } from './user-add.js';
import { userEnroll } from './user-enroll.js';
import { userList } from './user-list.js';
import { userRevoke } from './user-revoke.js';
import { userTrust } from './user-trust.js';

export const ADMIN_COMMANDS: readonly AdminCommand[] = [
  caInit,
  userAdd,
  userEnroll,
  userTrust,
  userRevoke,
  userList,
  quotaSet,
  quotaShow,
  instanceSetOwner,
  instanceList,
];

export const ADMIN_GROUPS: readonly string[] = [...new Set(ADMIN_COMMANDS.map((c) => c.name.split(' ')[0] ?? ''))];

export function findAdminCommand(name: string): AdminCommand | undefined {
  return ADMIN_COMMANDS.find((c) => c.name === name);
}

/** The verbs of one group, for messages: "add, enroll, trust, revoke, list". */
export function verbsOf(group: string): string {
  return ADMIN_COMMANDS.filter((c) => c.name.startsWith(`${group} `))
    .map((c) => c.name.slice(group.length + 1))
    .join(', ');
}
