/**
 * The Volume Delegate's operations (wsdl/volume-delegate.wsdl). Create and copy check the path and
 * the free space, journal the job and answer at once (paper 4.1); the job runs in the background.
 * A repeated request for a resource already journaled is answered as accepted again, so a frontend
 * that retried after a lost answer never starts a second job.
 */
import { stat, rm } from 'node:fs/promises';
import { VbsError } from '../../core/errors.js';
import { isId } from '../../core/ids.js';
import { VOLUME_TYPES } from '../../core/records.js';
import type * as Wire from '../../generated/volume-delegate.js';
import type { Handlers } from '../../soap/server.js';
import type { Logger } from '../../log.js';
import { capacity } from './capacity.js';
import { readExtentMap } from './extent-map.js';
import type { JobRunner } from './job-runner.js';
import type { Journal } from './journal.js';
import { PathRefusedError, resolveInRoot } from './storage-root.js';

export interface VolumeDelegateSettings {
  readonly id: string;
  readonly root: string;
  readonly lustre: boolean;
  /** A sparse volume needs only this fraction of its size free when it is made (thin provisioning). */
  readonly sparseOvercommit: number;
}

const GiB = 1024 ** 3;

function inRoot(root: string, path: string): string {
  try {
    return resolveInRoot(root, path);
  } catch (error) {
    if (error instanceof PathRefusedError)
      throw new VbsError('InvalidParameterValue', 'The path is outside the storage root or malformed.');
    throw error;
  }
}

function requireResource(kind: 'vol' | 'snap', id: string): string {
  if (!isId(kind, id))
    throw new VbsError('InvalidParameterValue', `Not a ${kind === 'vol' ? 'volume' : 'snapshot'} ID.`);
  return id;
}

/**
 * What copying a file will write at most: its data extents (a thick volume's unwritten extents are
 * not copied), or all it has allocated when there is no extent map. A clone writes even less.
 */
async function bytesToCopy(path: string, sizeBytes: number, allocatedBytes: number): Promise<number> {
  const found = await readExtentMap(path, sizeBytes, allocatedBytes);
  return 'map' in found ? found.map.data.reduce((n, r) => n + (r.end - r.start), 0) : allocatedBytes;
}

export function volumeDelegateHandlers(
  settings: VolumeDelegateSettings,
  journal: Journal,
  runner: JobRunner,
  logger: Logger,
): Handlers<Wire.VolumeDelegatePortTypeOperations> {
  async function admit(needed: number): Promise<void> {
    const { freeBytes } = await capacity(settings.root, settings.lustre);
    if (needed > freeBytes - journal.promisedBytes()) {
      throw new VbsError(
        'InsufficientVolumeCapacity',
        'There is not enough free space on this delegate for the request.',
      );
    }
  }

  function accept(resourceId: string, job: Parameters<Journal['add']>[0]): Wire.JobAcceptedType {
    if (journal.add(job)) {
      const added = journal.get(resourceId);
      if (added) runner.start(added);
    }
    return { delegateId: settings.id, resourceId, accepted: true };
  }

  return {
    CreateVolumeFile: async (req) => {
      const volumeId = requireResource('vol', req.volumeId);
      inRoot(settings.root, req.path);
      const volumeType = VOLUME_TYPES.find((t) => t === req.volumeType);
      if (!volumeType) throw new VbsError('InvalidParameterValue', 'Unknown volume type.');
      if (!Number.isSafeInteger(req.sizeGiB) || req.sizeGiB < 1)
        throw new VbsError('InvalidParameterValue', 'The size must be a positive number of GiB.');
      const sizeBytes = req.sizeGiB * GiB;
      if (journal.get(volumeId)) return { delegateId: settings.id, resourceId: volumeId, accepted: true };
      const source = req.sourcePath === undefined ? undefined : inRoot(settings.root, req.sourcePath);
      const sourceSt = source ? await stat(source) : undefined;
      const sourceAllocated = source && sourceSt ? await bytesToCopy(source, sourceSt.size, sourceSt.blocks * 512) : 0;
      await admit(
        volumeType === 'sparse' ? Math.max(sourceAllocated, sizeBytes / settings.sparseOvercommit) : sizeBytes,
      );
      return accept(volumeId, {
        resourceId: volumeId,
        kind: 'volume',
        path: req.path,
        sizeBytes,
        volumeType,
        sourcePath: req.sourcePath ?? null,
      });
    },
    CreateSnapshotFile: async (req) => {
      const snapshotId = requireResource('snap', req.snapshotId);
      inRoot(settings.root, req.path);
      const source = inRoot(settings.root, req.sourcePath);
      if (journal.get(snapshotId)) return { delegateId: settings.id, resourceId: snapshotId, accepted: true };
      const st = await stat(source).catch(() => undefined);
      if (!st) throw new VbsError('InvalidParameterValue', 'The volume file to snapshot does not exist.');
      await admit(await bytesToCopy(source, st.size, st.blocks * 512));
      return accept(snapshotId, {
        resourceId: snapshotId,
        kind: 'snapshot',
        path: req.path,
        sizeBytes: st.size,
        volumeType: 'sparse',
        sourcePath: req.sourcePath,
      });
    },
    DeleteFile: async (req) => {
      if (!isId('vol', req.resourceId) && !isId('snap', req.resourceId))
        throw new VbsError('InvalidParameterValue', 'Not a volume or snapshot ID.');
      const target = inRoot(settings.root, req.path);
      runner.cancel(req.resourceId);
      const existed = await stat(target).then(
        () => true,
        () => false,
      );
      await rm(target, { force: true });
      journal.forget(req.resourceId);
      logger.info('file deleted', { resourceId: req.resourceId, existed });
      return { existed };
    },
    DescribeCapacity: async () => {
      const c = await capacity(settings.root, settings.lustre);
      return {
        delegateId: settings.id,
        totalBytes: c.totalBytes,
        freeBytes: c.freeBytes,
        lustre: settings.lustre,
        pendingJobs: runner.activeJobs,
      };
    },
  };
}
