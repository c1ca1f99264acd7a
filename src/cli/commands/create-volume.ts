/**
 * vbs create-volume: CreateVolume, empty (--size) or from a snapshot (--snapshot), in the given zone or
 * the first one the frontend lists; with --wait, follows it until it is available or in error.
 */
import { UsageError } from '../args.js';
import { CliError, type Command } from '../command.js';
import type { Frontend } from '../connection.js';
import { followNewVolume } from '../follow.js';
import { volumeTable } from '../views.js';

const VOLUME_TYPES = ['sparse', 'thick', 'zero'] as const;

export const createVolume: Command = {
  name: 'create-volume',
  synopsis: '(--size GiB | --snapshot SNAP_ID) [--zone ZONE] [--type sparse|thick|zero] [--wait]',
  summary: 'create a volume, empty or from a snapshot',
  details: ['Without --zone the volume goes to the first zone describe-zones lists.'],
  waits: true,
  options: {
    size: { type: 'string', value: 'GiB', help: "size in GiB (default with --snapshot: the snapshot's size)" },
    snapshot: { type: 'string', value: 'SNAP_ID', help: 'make the volume from this snapshot' },
    zone: { type: 'string', value: 'ZONE', help: 'availability zone (default: the first one)' },
    type: { type: 'string', value: 'TYPE', help: "sparse, thick or zero (default: the frontend's)" },
  },
  async run({ args, out, frontend, wait }) {
    args.exactly();
    const size = args.string('size');
    const snapshotId = args.string('snapshot');
    if (size === undefined && snapshotId === undefined)
      throw new UsageError('give --size or --snapshot (or both)', args.command);
    if (size !== undefined && !/^[1-9]\d*$/.test(size))
      throw new UsageError(`--size must be a whole number of GiB, not '${size}'`, args.command);
    const volumeType = args.choice('type', VOLUME_TYPES);
    const fe = frontend();
    const zone = args.string('zone') ?? (await firstZone(fe));
    const created = await fe.call('CreateVolume', {
      availabilityZone: zone,
      ...(size !== undefined ? { size } : {}),
      ...(snapshotId !== undefined ? { snapshotId } : {}),
      ...(volumeType !== undefined ? { volumeType } : {}),
    });
    if (!wait) {
      out.result(created, (v) => volumeTable([v]));
      return 0;
    }
    const end = await followNewVolume(fe, created.volumeId, { timeoutSeconds: wait.timeoutSeconds, out });
    if (end.value) out.result(end.value, (r) => volumeTable(r.volumeSet.item ?? []));
    if (end.phase === 'failed') {
      out.stderr(`vbs: volume ${created.volumeId} ended ${end.status}\n`);
      return 1;
    }
    return 0;
  },
};

async function firstZone(fe: Frontend): Promise<string> {
  const zones = await fe.call('DescribeAvailabilityZones', { availabilityZoneSet: {} });
  const first = zones.availabilityZoneInfo.item?.[0]?.zoneName;
  if (first === undefined) throw new CliError('the frontend lists no availability zones; give --zone');
  return first;
}
