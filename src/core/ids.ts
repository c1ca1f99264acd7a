/**
 * Resource IDs, made by the server only. EC2's current form (a prefix and 17 hex digits) is what we
 * make; the 8-digit form of 2010 is still accepted on input, as EC2 accepts both. IDs are the only
 * input that ever becomes part of a file path, so their pattern is the path's safety.
 */
import { randomBytes } from 'node:crypto';
import { VbsError } from './errors.js';

/** vol and snap name resources; job names the work of making a resource's file, made before it is asked for. */
export type ResourceKind = 'vol' | 'snap' | 'job';

const PATTERN: Record<ResourceKind, RegExp> = {
  vol: /^vol-(?:[0-9a-f]{8}|[0-9a-f]{17})$/,
  snap: /^snap-(?:[0-9a-f]{8}|[0-9a-f]{17})$/,
  job: /^job-[0-9a-f]{17}$/,
};

/**
 * Instance IDs are the hypervisor's names (a QMP socket's, a Xen or libvirt domain's), not made by
 * VBS: letters, digits, '.', '_' and '-', never first (a tool would read "-f" as an option), at most
 * 64 characters. The frontend refuses any other as malformed; a VMM Delegate knows no such instance.
 */
const INSTANCE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function isInstanceId(value: string): boolean {
  return INSTANCE_ID.test(value);
}

export function newId(kind: ResourceKind): string {
  return `${kind}-${randomBytes(9).toString('hex').slice(0, 17)}`;
}

export function isId(kind: ResourceKind, value: string): boolean {
  return PATTERN[kind].test(value);
}

export function requireVolumeId(value: string): string {
  if (!isId('vol', value))
    throw new VbsError('InvalidVolumeID.Malformed', `Invalid id: "${clip(value)}" (expecting "vol-...")`);
  return value;
}

export function requireSnapshotId(value: string): string {
  if (!isId('snap', value))
    throw new VbsError('InvalidSnapshotID.Malformed', `Invalid id: "${clip(value)}" (expecting "snap-...")`);
  return value;
}

/** Echoing client input back is fine, but never at unbounded length. */
export function clip(value: string, max = 64): string {
  return value.length > max ? `${value.slice(0, max)}...` : value;
}
