/**
 * The end states --wait follows, per resource: a new volume until available (or error), a new
 * snapshot until completed (or error), a deleted volume until the frontend no longer knows it.
 * Each poll is one Describe* call for the one ID; the last answer is what the command prints.
 */
import { phaseOf, SNAPSHOT_CREATION, VOLUME_CREATION, VOLUME_DELETION } from '../core/state.js';
import type * as Wire from '../generated/frontend.js';
import { SoapFault } from '../soap/client.js';
import type { Frontend } from './connection.js';
import { percentOf, waitFor, type Observation, type WaitOptions } from './wait.js';

const VOLUME_NOT_FOUND = 'InvalidVolume.NotFound';
const SNAPSHOT_NOT_FOUND = 'InvalidSnapshot.NotFound';

function isFault(e: unknown, code: string): boolean {
  return e instanceof SoapFault && e.code === code;
}

async function describeVolume(
  frontend: Frontend,
  volumeId: string,
): Promise<Wire.DescribeVolumesResponseType | undefined> {
  try {
    return await frontend.call('DescribeVolumes', { volumeSet: { item: [{ volumeId }] } });
  } catch (e) {
    if (isFault(e, VOLUME_NOT_FOUND)) return undefined;
    throw e;
  }
}

export function followNewVolume(
  frontend: Frontend,
  volumeId: string,
  options: WaitOptions,
): Promise<Observation<Wire.DescribeVolumesResponseType | undefined>> {
  return waitFor(
    volumeId,
    async () => {
      const answer = await describeVolume(frontend, volumeId);
      const status = answer?.volumeSet.item?.[0]?.status ?? 'gone';
      const phase = phaseOf(VOLUME_CREATION, status);
      return { phase, status, value: answer };
    },
    options,
  );
}

export function followVolumeDeletion(
  frontend: Frontend,
  volumeId: string,
  options: WaitOptions,
): Promise<Observation<Wire.DescribeVolumesResponseType | undefined>> {
  return waitFor(
    volumeId,
    async () => {
      const answer = await describeVolume(frontend, volumeId);
      // A volume the frontend no longer knows is as deleted as a tombstone.
      const status = answer?.volumeSet.item?.[0]?.status ?? 'deleted';
      const phase = answer === undefined ? 'done' : phaseOf(VOLUME_DELETION, status);
      return { phase, status, value: answer };
    },
    options,
  );
}

export function followNewSnapshot(
  frontend: Frontend,
  snapshotId: string,
  options: WaitOptions,
): Promise<Observation<Wire.DescribeSnapshotsResponseType | undefined>> {
  return waitFor(
    snapshotId,
    async () => {
      let answer: Wire.DescribeSnapshotsResponseType | undefined;
      try {
        answer = await frontend.call('DescribeSnapshots', { snapshotSet: { item: [{ snapshotId }] } });
      } catch (e) {
        if (!isFault(e, SNAPSHOT_NOT_FOUND)) throw e;
      }
      const item = answer?.snapshotSet.item?.[0];
      const status = item?.status ?? 'gone';
      const phase = phaseOf(SNAPSHOT_CREATION, status);
      const percent = percentOf(item?.progress);
      return { phase, status, ...(percent !== undefined ? { percent } : {}), value: answer };
    },
    options,
  );
}
