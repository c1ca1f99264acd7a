/**
 * Setting an instance's owner as a cloud platform does when it starts a VM (docs/vmm-delegate.md,
 * "Instance owners"), for tests: the owner file beside a QEMU instance's QMP socket, the xenstore key
 * of a Xen domain, VBS's element in a libvirt domain's <metadata>. The Xen and libvirt forms are
 * fields of the fakes' state files (test/fixtures/bin/xl, xenstore, virsh), or the fakes' own
 * commands (xenstore-write, virsh metadata), run as a platform would run the real ones.
 */
import { chmodSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../src/delegates/exec.js';
import { LIBVIRT_METADATA_NS, QEMU_OWNER_SUFFIX } from '../../src/delegates/vmm/drivers/instance-owner.js';
import { FAKE_BIN } from './repo.js';

/** Writes <socketDir>/<instanceId>.owner with mode 0600, atomically, as a platform does before starting QEMU. */
export function writeQemuOwner(socketDir: string, instanceId: string, owner: string, mode = 0o600): string {
  const file = join(socketDir, `${instanceId}${QEMU_OWNER_SUFFIX}`);
  writeFileSync(`${file}.tmp`, `${owner}\n`, { mode });
  chmodSync(`${file}.tmp`, mode);
  renameSync(`${file}.tmp`, file);
  return file;
}

/**
 * The owner files of QEMU instances about to start, all given to one user: what tests that are not
 * about owners do, so that their (non-admin) user may attach to the instances they start.
 */
export function giveQemuInstances(socketDir: string, owner: string, instanceIds: readonly string[]): void {
  mkdirSync(socketDir, { recursive: true });
  for (const id of instanceIds) writeQemuOwner(socketDir, id, owner);
}

/** The fields of a fake xl domain whose xenstore has vbs/owner (as `xenstore-write` from dom0 leaves it). */
export function xenOwned(owner: string): { xenstore: Record<string, string> } {
  return { xenstore: { 'vbs/owner': owner } };
}

/** The fields of a fake virsh domain whose <metadata> names its owner (as `virsh metadata --set` leaves it). */
export function libvirtOwned(owner: string): { metadata: { uri: string; key: string; xml: string }[] } {
  return { metadata: [{ uri: LIBVIRT_METADATA_NS, key: 'vbs', xml: `<instance><owner>${owner}</owner></instance>` }] };
}

/** `xenstore-write /local/domain/<domid>/vbs/owner OWNER` against the fake xl's state. */
export async function xenstoreWriteOwner(xlState: string, domid: number, owner: string): Promise<void> {
  await run([join(FAKE_BIN, 'xenstore-write'), `/local/domain/${domid}/vbs/owner`, owner], {
    env: { FAKE_XL_STATE: xlState },
  });
}

/** `virsh metadata DOMAIN urn:vbs:instance:2026-11 --key vbs --set '<instance><owner>…</owner></instance>' --live`. */
export async function virshSetOwner(virshState: string, domain: string, owner: string): Promise<void> {
  await run(
    [
      join(FAKE_BIN, 'virsh'),
      'metadata',
      domain,
      LIBVIRT_METADATA_NS,
      '--key',
      'vbs',
      '--set',
      `<instance><owner>${owner}</owner></instance>`,
      '--live',
    ],
    { env: { FAKE_VIRSH_STATE: virshState } },
  );
}
