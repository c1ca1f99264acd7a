/*
 * The Volume Delegate runs as a privileged service and receives file names
 * from the network (volume and snapshot ids). This module is the single gate
 * between such a name and the file system: a name is accepted only if it is
 * a plain relative path that lands inside the delegate's storage root, even
 * after following any symlink that someone may have planted inside the root.
 * Everything the delegate opens, creates or deletes must pass through it.
 */
import { lstatSync, realpathSync } from 'node:fs';
import path from 'node:path';

export class PathRefusedError extends Error {
  readonly root: string;
  readonly relPath: string;

  constructor(root: string, relPath: string, reason: string, options?: { cause?: unknown }) {
    super(`refused path ${JSON.stringify(relPath)} under storage root ${root}: ${reason}`, options);
    this.name = 'PathRefusedError';
    this.root = root;
    this.relPath = relPath;
  }
}

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
// Linux NAME_MAX / PATH_MAX: longer names would only fail later, less clearly.
const MAX_SEGMENT_BYTES = 255;
const MAX_PATH_BYTES = 4096;

function errnoCode(error: unknown): string | undefined {
  if (error instanceof Error && 'code' in error && typeof error.code === 'string') return error.code;
  return undefined;
}

function isInside(realRoot: string, candidate: string): boolean {
  const rel = path.relative(realRoot, candidate);
  return rel === '' || (rel !== '..' && !rel.startsWith('../') && !path.isAbsolute(rel));
}

function checkSyntax(root: string, relPath: string): string[] {
  const refuse = (reason: string): never => {
    throw new PathRefusedError(root, relPath, reason);
  };
  if (typeof relPath !== 'string' || relPath.length === 0) refuse('empty path');
  if (relPath.includes('\0')) refuse('contains NUL');
  if (relPath.includes('\\')) refuse('contains a backslash');
  if (relPath.startsWith('/')) refuse('absolute path');
  if (Buffer.byteLength(relPath) > MAX_PATH_BYTES) refuse('path too long');
  const segments = relPath.split('/');
  for (const segment of segments) {
    if (segment === '') refuse('empty path segment');
    if (segment === '.' || segment === '..') refuse(`"${segment}" segment`);
    if (!SEGMENT.test(segment))
      refuse(
        `segment ${JSON.stringify(segment)} has characters outside [A-Za-z0-9._-] or does not start with a letter or digit`,
      );
    if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES) refuse('path segment too long');
  }
  return segments;
}

/**
 * Returns the absolute path for relPath inside root, with every existing
 * ancestor resolved to its real location. Throws PathRefusedError otherwise.
 * The check is made now; the root must not be writable by untrusted users,
 * or a symlink could still be swapped in between this check and the use.
 */
export function resolveInRoot(root: string, relPath: string): string {
  const segments = checkSyntax(root, relPath);
  let realRoot: string;
  try {
    realRoot = realpathSync(root);
  } catch (error) {
    throw new PathRefusedError(root, relPath, `storage root is not accessible (${errnoCode(error) ?? String(error)})`, {
      cause: error,
    });
  }

  // Walk down to the deepest entry that exists (lstat: a dangling symlink exists too).
  let existing = 0;
  for (let i = 1; i <= segments.length; i++) {
    try {
      lstatSync(path.join(realRoot, ...segments.slice(0, i)));
      existing = i;
    } catch (error) {
      const code = errnoCode(error);
      if (code === 'ENOENT') break;
      if (code === 'ENOTDIR')
        throw new PathRefusedError(root, relPath, 'a path component is not a directory', { cause: error });
      throw error;
    }
  }

  let realAncestor = realRoot;
  if (existing > 0) {
    const ancestor = path.join(realRoot, ...segments.slice(0, existing));
    try {
      realAncestor = realpathSync(ancestor);
    } catch (error) {
      // A dangling symlink: creating through it would create its target, wherever that is.
      throw new PathRefusedError(
        root,
        relPath,
        `${ancestor} cannot be resolved (${errnoCode(error) ?? String(error)})`,
        { cause: error },
      );
    }
  }
  if (!isInside(realRoot, realAncestor)) {
    throw new PathRefusedError(root, relPath, `resolves to ${realAncestor}, outside ${realRoot}`);
  }
  const resolved = path.join(realAncestor, ...segments.slice(existing));
  if (resolved === realRoot) throw new PathRefusedError(root, relPath, 'resolves to the storage root itself');
  return resolved;
}
