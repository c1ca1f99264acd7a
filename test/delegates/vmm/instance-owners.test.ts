/**
 * Each driver reports whom an instance belongs to, from where its hypervisor keeps what the platform
 * set when it started the VM (src/delegates/vmm/drivers/instance-owner.ts): the owner file beside a
 * QEMU instance's QMP socket (real QEMU), the xenstore key of a Xen domain (the fake xl and xenstore),
 * VBS's element in a libvirt domain's <metadata> (the fake virsh). Whatever is not a user ID, or was
 * put where others than the platform could write it, is no owner, and is said once in the log.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DriverLog, InstanceInfo } from '../../../src/delegates/vmm/driver.js';
import { LibvirtDriver } from '../../../src/delegates/vmm/drivers/libvirt.js';
import { XenDriver } from '../../../src/delegates/vmm/drivers/xen.js';
import { INSTANCE_A, INSTANCE_B, qemuFixture, type QemuFixture } from '../../support/qemu-vm.js';
import { FAKE_BIN } from '../../support/repo.js';
import {
  libvirtOwned,
  virshSetOwner,
  writeQemuOwner,
  xenOwned,
  xenstoreWriteOwner,
} from '../../support/instance-owners.js';

/** A DriverLog that keeps what it is told. */
function recordingLog(): DriverLog & { readonly lines: { message: string; fields: Record<string, unknown> }[] } {
  const lines: { message: string; fields: Record<string, unknown> }[] = [];
  return {
    lines,
    warn: (message, fields) => lines.push({ message, fields }),
  };
}

const ownersOf = (instances: readonly InstanceInfo[]): Record<string, string | undefined> =>
  Object.fromEntries(instances.map((i) => [i.instanceId, i.owner]));

describe('instance owners as each driver reads them', function () {
  this.timeout(60_000);

  describe('qemu: <instance-id>.owner beside the QMP socket', () => {
    let fx: QemuFixture;
    let log: ReturnType<typeof recordingLog>;
    before(async () => {
      fx = await qemuFixture({ scsi: true }, 'sd');
    });
    after(async () => {
      await fx.teardown();
    });
    beforeEach(() => {
      log = recordingLog();
      rmSync(join(fx.socketDir, `${INSTANCE_A}.owner`), { force: true });
      rmSync(join(fx.socketDir, `${INSTANCE_B}.owner`), { force: true });
    });

    it("reports the platform's owner file (mode 0600), and no owner where there is none", async () => {
      writeQemuOwner(fx.socketDir, INSTANCE_A, 'alice');
      const driver = fx.newDriver({ logger: log });
      expect(ownersOf(await driver.listInstances())).to.deep.equal({ [INSTANCE_A]: 'alice', [INSTANCE_B]: undefined });
      // Changed by the platform: the next listing says so.
      writeQemuOwner(fx.socketDir, INSTANCE_A, 'bob');
      expect(ownersOf(await driver.listInstances())[INSTANCE_A]).to.equal('bob');
      expect(log.lines).to.deep.equal([]);
    });

    it('ignores an owner file others may write, a symbolic link, a FIFO and what is not a user ID, and says so once', async () => {
      const driver = fx.newDriver({ logger: log });
      const file = writeQemuOwner(fx.socketDir, INSTANCE_A, 'alice', 0o666);
      const target = join(fx.dir, 'elsewhere.owner');
      writeFileSync(target, 'alice\n', { mode: 0o600 });
      symlinkSync(target, join(fx.socketDir, `${INSTANCE_B}.owner`));
      expect(ownersOf(await driver.listInstances())).to.deep.equal({
        [INSTANCE_A]: undefined,
        [INSTANCE_B]: undefined,
      });
      expect(ownersOf(await driver.listInstances())).to.deep.equal({
        [INSTANCE_A]: undefined,
        [INSTANCE_B]: undefined,
      });
      const why = log.lines.map((l) => `${String(l.fields['instanceId'])}: ${String(l.fields['why'])}`).sort();
      expect(why).to.deep.equal(
        [`${INSTANCE_A}: others may write it (mode 0666, not 0600)`, `${INSTANCE_B}: it is a symbolic link`].sort(),
      );
      for (const bad of ['frontend', 'vmm-delegate-node1', 'al ice', '-alice', 'a'.repeat(65), '']) {
        writeQemuOwner(fx.socketDir, INSTANCE_A, bad);
        expect((await driver.listInstances()).find((i) => i.instanceId === INSTANCE_A)?.owner, bad).to.equal(undefined);
      }
      rmSync(file);
      execFileSync('mkfifo', [file]);
      // A FIFO must not block the listing (nothing ever writes into it).
      expect(ownersOf(await driver.listInstances())[INSTANCE_A]).to.equal(undefined);
      expect(log.lines.at(-1)?.fields['why']).to.equal('it is not a regular file');
      rmSync(file);
    });

    it("ignores an owner file of another user than the delegate's or root", async function () {
      if (process.getuid?.() !== 0) this.skip(); // only root can give a file away
      const file = writeQemuOwner(fx.socketDir, INSTANCE_A, 'alice');
      chownSync(file, 65534, 65534);
      const driver = fx.newDriver({ logger: log });
      expect(ownersOf(await driver.listInstances())[INSTANCE_A]).to.equal(undefined);
      expect(String(log.lines[0]?.fields['why'])).to.match(/^it belongs to uid 65534/);
    });
  });

  describe('xen: /local/domain/<domid>/vbs/owner in xenstore', () => {
    let dir: string;
    let log: ReturnType<typeof recordingLog>;
    let env: NodeJS.ProcessEnv;
    const driver = (): XenDriver =>
      new XenDriver({
        command: join(FAKE_BIN, 'xl'),
        xenstoreReadCommand: join(FAKE_BIN, 'xenstore-read'),
        env,
        logger: log,
      });
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'vbs-xen-owner-'));
      env = { FAKE_XL_STATE: dir };
      log = recordingLog();
      writeFileSync(
        join(dir, 'domains.json'),
        JSON.stringify({
          domains: [
            { name: 'i-xowned0000000001', domid: 3, ...xenOwned('alice') },
            { name: 'i-xbare00000000002', domid: 4 },
          ],
        }),
      );
    });
    afterEach(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it('reports the key dom0 wrote, no owner where there is none, and a change once written', async () => {
      const d = driver();
      expect(ownersOf(await d.listInstances())).to.deep.equal({
        'i-xowned0000000001': 'alice',
        'i-xbare00000000002': undefined,
      });
      await xenstoreWriteOwner(dir, 4, 'bob');
      expect(ownersOf(await d.listInstances())['i-xbare00000000002']).to.equal('bob');
      expect(log.lines).to.deep.equal([]);
    });

    it('takes a value that is not a user ID, or a xenstore it cannot read, as no owner, and says so', async () => {
      await xenstoreWriteOwner(dir, 3, 'alice\\nbob');
      const d = driver();
      expect(ownersOf(await d.listInstances())['i-xowned0000000001']).to.equal(undefined);
      expect(String(log.lines[0]?.fields['why'])).to.include('is not a user ID');
      env = { ...env, FAKE_XENSTORE_DOWN: '1' };
      const down = driver();
      const listed = await down.listInstances();
      // The domains and their disks are still listed: only their owners are unknown.
      expect(listed.map((i) => [i.instanceId, i.state, i.owner])).to.deep.equal([
        ['i-xowned0000000001', 'blocked', undefined],
        ['i-xbare00000000002', 'blocked', undefined],
      ]);
      expect(String(log.lines.at(-1)?.fields['why'])).to.include('xs_open');
    });
  });

  describe("libvirt: <owner> in VBS's element of the domain's <metadata>", () => {
    let dir: string;
    let log: ReturnType<typeof recordingLog>;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'vbs-libvirt-owner-'));
      log = recordingLog();
      writeFileSync(
        join(dir, 'domains.json'),
        JSON.stringify({
          domains: [
            { name: 'i-lowned0000000001', ...libvirtOwned('alice') },
            { name: 'i-lbare00000000002' },
            // Another application's metadata names an owner in its own namespace: not VBS's word.
            {
              name: 'i-lother0000000003',
              metadata: [{ uri: 'urn:example:other', key: 'other', xml: '<instance><owner>alice</owner></instance>' }],
            },
          ],
        }),
      );
    });
    afterEach(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    const driver = (): LibvirtDriver =>
      new LibvirtDriver({ command: join(FAKE_BIN, 'virsh'), env: { FAKE_VIRSH_STATE: dir }, logger: log });

    it("reports VBS's metadata element only, and a change made with virsh metadata", async () => {
      const d = driver();
      expect(ownersOf(await d.listInstances())).to.deep.equal({
        'i-lowned0000000001': 'alice',
        'i-lbare00000000002': undefined,
        'i-lother0000000003': undefined,
      });
      await virshSetOwner(dir, 'i-lbare00000000002', 'bob');
      await virshSetOwner(dir, 'i-lowned0000000001', 'carol');
      expect(ownersOf(await d.listInstances())).to.deep.equal({
        'i-lowned0000000001': 'carol',
        'i-lbare00000000002': 'bob',
        'i-lother0000000003': undefined,
      });
      expect(log.lines).to.deep.equal([]);
    });

    it('takes an owner that is not a user ID as none, and says so once', async () => {
      await virshSetOwner(dir, 'i-lowned0000000001', 'not a user');
      const d = driver();
      await d.listInstances();
      expect(ownersOf(await d.listInstances())['i-lowned0000000001']).to.equal(undefined);
      expect(log.lines).to.have.length(1);
      expect(log.lines[0]?.fields).to.include({ instanceId: 'i-lowned0000000001' });
    });
  });
});
