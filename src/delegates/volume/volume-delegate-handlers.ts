/**
 * The Volume Delegate's operations (wsdl/volume-delegate.wsdl). Create and copy check the path (the
 * one its resource ID names) and the free space, journal the job and answer at once (paper 4.1); the
 * job runs in the background. A repeated request for a job already journaled is answered as accepted
 * again, so a frontend that asked again after a lost answer never starts a second job. Delete
 * stops the resource's job here and removes the resource's file and its jobs' partial files.
 */
import { stat } from 'node:fs/promises';
import { VbsError } from '../../core/errors.js';
import { isId } from '../../core/ids.js';
import { resourceFilePath } from '../../core/paths.js';
import { VOLUME_TYPES } from '../../core/records.js';
import type * as Wire from '../../generated/volume-delegate.js';
import type { Handlers } from '../../soap/server.js';
import type { Logger } from '../../log.js';
import { capacity } from './capacity.js';
import { readExtentMap } from './extent-map.js';
import type { JobRunner } from './job-runner.js';
import { removeResourceFiles } from './job-files.js';
import type { Journal, NewJob } from './journal.js';
import { PathRefusedError, resolveInRoot } from './storage-root.js';

export interface VolumeDelegateSettings {
  readonly id: string;
  readonly root: string;
  readonly lustre: boolean;
  /** A sparse volume needs only this fraction of its size free when it is made (thin provisioning). */
  readonly sparseOvercommit: number;
  /**
   * The most the full sizes of this delegate's sparse volumes (made and not deleted, or being made)
   * may add up to; null: sparseOvercommit times the size of the file system.
   */
  readonly maxPromisedSparseBytes: number | null;
  /** The most jobs this delegate runs at once (journaled and not ended); more are refused as Unavailable. */
  readonly maxConcurrentJobs: number;
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

function requireJob(id: string): string {
  if (!isId('job', id)) throw new VbsError('InvalidParameterValue', 'Not a job ID.');
  return id;
}

/** The one path a resource's file may have; anything else is refused, so no request names another's file. */
function ownPath(root: string, resourceId: string, path: string): string {
  if (path !== resourceFilePath(resourceId))
    throw new VbsError('InvalidParameterValue', 'The path is not the file of that resource.');
  inRoot(root, path);
  return path;
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
  // Admissions one at a time: each counts the bytes of those journaled before it.
  let admitting: Promise<unknown> = Promise.resolve();

  /**
   * Whether a sparse volume of `sizeBytes` keeps the promise within `cap`. When it would not, the
   * journal is checked against the files first: a volume made here may have been deleted through
   * another delegate (they share the storage root), and its promise is then forgotten.
   */
  async function sparseFits(sizeBytes: number, cap: number): Promise<boolean> {
    if (journal.promisedSparseBytes() + sizeBytes <= cap) return true;
    const gone: string[] = [];
    for (const made of journal.madeSparseVolumes()) {
      const exists = await stat(inRoot(settings.root, made.path)).then(
        () => true,
        (e: unknown) => (e as NodeJS.ErrnoException).code !== 'ENOENT',
      );
      if (!exists) {
        journal.forget(made.resourceId);
        gone.push(made.resourceId);
      }
    }
    if (gone.length > 0) logger.info('forgot the promise of sparse volumes whose files are gone', { gone });
    return journal.promisedSparseBytes() + sizeBytes <= cap;
  }

  /**
   * Journals `job` and starts it, when what it reserves fits in the free space beyond what running
   * jobs reserved already; a job journaled already is accepted again (the frontend asked twice).
   */
  function admit(job: Omit<NewJob, 'reservedBytes'>, reserve: () => Promise<number>): Promise<Wire.JobAcceptedType> {
    const run = async (): Promise<Wire.JobAcceptedType> => {
      const accepted = { delegateId: settings.id, resourceId: job.resourceId, accepted: true };
      const known = journal.get(job.resourceId);
      if (known) {
        if (known.jobId !== job.jobId)
          throw new VbsError('IncorrectState', 'This delegate has another job for that resource.');
        return accepted;
      }
      // Busy, not full: Unavailable says "another delegate, or later", and the frontend asks the next.
      const running = journal.runningCount();
      if (running >= settings.maxConcurrentJobs) {
        throw new VbsError(
          'Unavailable',
          `This delegate runs ${running} jobs, its most (maxConcurrentJobs); try another delegate or later.`,
        );
      }
      const reservedBytes = await reserve();
      const { totalBytes, freeBytes } = await capacity(settings.root, settings.lustre);
      if (reservedBytes > freeBytes - journal.promisedBytes()) {
        throw new VbsError(
          'InsufficientVolumeCapacity',
          'There is not enough free space on this delegate for the request.',
        );
      }
      if (job.kind === 'volume' && job.volumeType === 'sparse') {
        const cap = settings.maxPromisedSparseBytes ?? settings.sparseOvercommit * totalBytes;
        if (!(await sparseFits(job.sizeBytes, cap))) {
          throw new VbsError(
            'InsufficientVolumeCapacity',
            `This delegate has promised its sparse volumes ${journal.promisedSparseBytes()} of the ${cap} bytes it may (maxPromisedSparseBytes).`,
          );
        }
      }
      if (journal.add({ ...job, reservedBytes }) === 'added') {
        const added = journal.get(job.resourceId);
        if (added) runner.start(added);
        logger.info('job accepted', { resourceId: job.resourceId, jobId: job.jobId, reservedBytes });
      }
      return accepted;
    };
    const result = admitting.then(run, run);
    admitting = result.catch(() => undefined);
    return result;
  }

  return {
    CreateVolumeFile: async (req) => {
      const volumeId = requireResource('vol', req.volumeId);
      const jobId = requireJob(req.jobId);
      const path = ownPath(settings.root, volumeId, req.path);
      const volumeType = VOLUME_TYPES.find((t) => t === req.volumeType);
      if (!volumeType) throw new VbsError('InvalidParameterValue', 'Unknown volume type.');
      if (!Number.isSafeInteger(req.sizeGiB) || req.sizeGiB < 1)
        throw new VbsError('InvalidParameterValue', 'The size must be a positive number of GiB.');
      const sizeBytes = req.sizeGiB * GiB;
      const source = req.sourcePath === undefined ? undefined : inRoot(settings.root, req.sourcePath);
      return admit(
        {
          jobId,
          resourceId: volumeId,
          kind: 'volume',
          path,
          sizeBytes,
          volumeType,
          sourcePath: req.sourcePath ?? null,
        },
        async () => {
          const st = source ? await stat(source) : undefined;
          const fromSource = source && st ? await bytesToCopy(source, st.size, st.blocks * 512) : 0;
          // A sparse volume is promised, not reserved: it needs its overcommitted share (docs/architecture.md).
          return volumeType === 'sparse' ? Math.max(fromSource, sizeBytes / settings.sparseOvercommit) : sizeBytes;
        },
      );
    },
    CreateSnapshotFile: async (req) => {
      const snapshotId = requireResource('snap', req.snapshotId);
      const jobId = requireJob(req.jobId);
      const path = ownPath(settings.root, snapshotId, req.path);
      const source = inRoot(settings.root, req.sourcePath);
      const st = await stat(source).catch(() => undefined);
      if (!st) throw new VbsError('InvalidParameterValue', 'The volume file to snapshot does not exist.');
      return admit(
        {
          jobId,
          resourceId: snapshotId,
          kind: 'snapshot',
          path,
          sizeBytes: st.size,
          volumeType: 'sparse',
          sourcePath: req.sourcePath,
        },
        () => bytesToCopy(source, st.size, st.blocks * 512),
      );
    },
    DeleteFile: async (req) => {
      if (!isId('vol', req.resourceId) && !isId('snap', req.resourceId))
        throw new VbsError('InvalidParameterValue', 'Not a volume or snapshot ID.');
      ownPath(settings.root, req.resourceId, req.path);
      await runner.cancel(req.resourceId);
      const existed = await removeResourceFiles(settings.root, req.resourceId);
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
