/**
 * What a client is told when the store refused a new volume or snapshot for its owner's quota
 * (MetadataStore.insertVolume / insertSnapshot): EC2's VolumeLimitExceeded for the number of volumes
 * or their total GiB, SnapshotLimitExceeded for the number of snapshots, with the limit and what the
 * owner holds, so that the client knows what to delete (or to ask an administrator for).
 */
import { VbsError } from '../../core/errors.js';
import type { InsertAdmission } from '../store/metadata-store.js';

type QuotaRefusal = Extract<InsertAdmission, { reason: 'quota' }>;

const HOW = 'Delete what you no longer need, or ask an administrator to raise the limit.';

export function quotaExceeded(refusal: QuotaRefusal, ownerId: string, addingGiB: number): VbsError {
  const { quota, limit, used } = refusal;
  if (quota === 'volumes')
    return new VbsError(
      'VolumeLimitExceeded',
      `User '${ownerId}' holds ${used} of the ${limit} volumes its quota allows. ${HOW}`,
    );
  if (quota === 'gib')
    return new VbsError(
      'VolumeLimitExceeded',
      `A ${addingGiB} GiB volume would take user '${ownerId}' past its quota of ${limit} GiB of volumes (${used} GiB held). ${HOW}`,
    );
  return new VbsError(
    'SnapshotLimitExceeded',
    `User '${ownerId}' holds ${used} of the ${limit} snapshots its quota allows. ${HOW}`,
  );
}
