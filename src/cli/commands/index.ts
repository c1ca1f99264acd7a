/** Every command of the vbs CLI, in the order help lists them. */
import type { Command } from '../command.js';
import { attachVolume } from './attach-volume.js';
import { createSnapshot } from './create-snapshot.js';
import { createVolume } from './create-volume.js';
import { deleteSnapshot } from './delete-snapshot.js';
import { deleteVolume } from './delete-volume.js';
import { describeSnapshots } from './describe-snapshots.js';
import { describeVolumes } from './describe-volumes.js';
import { describeZones } from './describe-zones.js';
import { detachVolume } from './detach-volume.js';

export const COMMANDS: readonly Command[] = [
  createVolume,
  describeVolumes,
  deleteVolume,
  createSnapshot,
  describeSnapshots,
  deleteSnapshot,
  attachVolume,
  detachVolume,
  describeZones,
];

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}
