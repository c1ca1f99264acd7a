/**
 * The second half of DeleteVolume and DeleteSnapshot, also run by the sweeper for deletions that
 * could not reach a delegate: a delegate removes the file, then the row becomes a tombstone. If no
 * delegate answers, the resource stays "deleting" and this runs again later.
 */
import type { Deps } from './deps.js';

export async function finishDeletion(
  deps: Deps,
  kind: 'volume' | 'snapshot',
  resource: { readonly id: string; readonly path: string; readonly delegateId: string | null },
): Promise<boolean> {
  const logKey = kind === 'volume' ? 'volumeId' : 'snapshotId';
  try {
    await deps.delegates.deleteFile(resource.id, resource.path, resource.delegateId);
  } catch (error) {
    deps.logger.warn(`${kind} deletion deferred`, { [logKey]: resource.id, error: String(error) });
    return false;
  }
  if (kind === 'volume') await deps.store.transitionVolume(resource.id, 'deleted');
  else await deps.store.transitionSnapshot(resource.id, 'deleted');
  deps.logger.info(`${kind} deleted`, { [logKey]: resource.id });
  return true;
}
