/**
 * Who an instance belongs to, as the cloud platform that started it says: each driver reads it from
 * where that hypervisor keeps what a platform sets when it starts a VM, never from anything the guest
 * can write (docs/vmm-delegate.md, "Instance owners"):
 *  - qemu: the file <qemuSocketDir>/<instance-id>.owner beside the QMP socket, a regular file of the
 *    delegate's user (or root) that nobody else may write;
 *  - xen: the xenstore key /local/domain/<domid>/vbs/owner, written from dom0 (the guest can read its
 *    domain's directory but not write in it);
 *  - libvirt: the element <owner> inside <instance xmlns="urn:vbs:instance:2026-11"> in the domain's
 *    <metadata>.
 * The owner is a user ID (the subject CN of the user's certificate). What is not one is no owner: the
 * instance is then attachable by admins only, and the reason goes to the delegate's log.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { isReservedName, USER_NAME } from '../../../security/truststore/user-names.js';
import type { DriverLog } from '../driver.js';

/** The QEMU driver's owner file: <instance-id> + this, beside <instance-id>.qmp. */
export const QEMU_OWNER_SUFFIX = '.owner';

/** The Xen driver's xenstore key, relative to the domain's home /local/domain/<domid>. */
export const XENSTORE_OWNER_KEY = 'vbs/owner';

/** The namespace of VBS's element in a libvirt domain's <metadata>. */
export const LIBVIRT_METADATA_NS = 'urn:vbs:instance:2026-11';

/** Nothing longer is a user ID; a file is read only this far. */
export const MAX_OWNER_BYTES = 256;

export type OwnerFound = { readonly owner: string } | { readonly refused: string };

/**
 * The user ID a platform wrote, or why it is none. Surrounding white space (a trailing newline) is
 * dropped; anything else that is not a user name, or a name reserved for a VBS service, is refused.
 */
export function ownerFromText(text: string): OwnerFound {
  const owner = text.trim();
  if (owner === '') return { refused: 'it is empty' };
  if (!USER_NAME.test(owner)) return { refused: `${JSON.stringify(owner.slice(0, 80))} is not a user ID` };
  if (isReservedName(owner)) return { refused: `${JSON.stringify(owner)} is reserved for a VBS service` };
  return { owner };
}

/**
 * The owner in a QEMU instance's owner file; undefined when there is none. The file must be a regular
 * file (not a symbolic link, not a FIFO that would block), of this delegate's user or root, that no
 * one else may write: whoever may write in the socket directory can drive every VM through its QMP
 * socket already, and nobody else may say who a VM belongs to.
 */
export async function readOwnerFile(path: string): Promise<OwnerFound | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') return { refused: 'it is a symbolic link' };
    return { refused: `it cannot be read (${code ?? String(error)})` };
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) return { refused: 'it is not a regular file' };
    const uid = process.getuid?.();
    if (st.uid !== 0 && st.uid !== uid)
      return { refused: `it belongs to uid ${st.uid}, neither this delegate's user (${uid ?? '?'}) nor root` };
    if ((st.mode & 0o022) !== 0)
      return { refused: `others may write it (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}, not 0600)` };
    const buffer = Buffer.alloc(MAX_OWNER_BYTES + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    if (bytesRead > MAX_OWNER_BYTES) return { refused: `it is longer than ${MAX_OWNER_BYTES} bytes` };
    return ownerFromText(buffer.subarray(0, bytesRead).toString('utf8'));
  } finally {
    await handle.close();
  }
}

/**
 * Logs each instance's owner problem once, not at every listing (the inventory is polled every few
 * seconds), and again only when it changes.
 */
export class OwnerWarnings {
  private readonly last = new Map<string, string>();

  constructor(private readonly logger: DriverLog | undefined) {}

  /** The owner, or undefined after logging (once) why there is none. */
  owner(instanceId: string, where: string, found: OwnerFound | undefined): string | undefined {
    if (found === undefined) {
      this.last.delete(instanceId);
      return undefined;
    }
    if ('owner' in found) {
      this.last.delete(instanceId);
      return found.owner;
    }
    this.refused(instanceId, where, found.refused);
    return undefined;
  }

  refused(instanceId: string, where: string, why: string): void {
    const text = `${where}: ${why}`;
    if (this.last.get(instanceId) === text) return;
    this.last.set(instanceId, text);
    this.logger?.warn('instance owner ignored: only admins may attach to this instance', {
      instanceId,
      where,
      why,
    });
  }
}
