/**
 * The one conformance suite of VmmDriver (src/delegates/vmm/driver.ts). Every driver runs it, against
 * the real hypervisor where one runs here (QEMU) and against faithful fakes of its tools otherwise
 * (xl, virsh). A driver that cannot pass a case skips it only with a written reason.
 */
import { expect } from 'chai';
import { DriverError, type VmmDriver } from '../../src/delegates/vmm/driver.js';

export interface DriverFixture {
  readonly driver: VmmDriver;
  /** At least two running instances, with no VBS disks attached. */
  readonly instances: readonly [string, string, ...string[]];
  /** A guest device name valid for this hypervisor, by index (0 -> e.g. /dev/vdb, 1 -> /dev/vdc). */
  device(index: number): string;
  /** Makes a small volume file for this volume ID and returns its absolute path. */
  volumeFile(volumeId: string): Promise<string>;
  teardown(): Promise<void>;
}

export interface ConformanceOptions {
  /** Cases this driver skips, each with the reason written down. */
  readonly skip?: Readonly<Record<string, string>>;
}

/** The DriverError kind a call ends with, or 'no error'; other errors are passed on. */
export async function kindOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof DriverError) return e.kind;
    throw e;
  }
  return 'no error';
}

/** The DriverError a call ends with; fails the test when it succeeds or throws anything else. */
export async function driverErrorOf(p: Promise<unknown>): Promise<DriverError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof DriverError) return e;
    throw e;
  }
  return expect.fail('expected a DriverError');
}

export function vmmDriverConformance(
  name: string,
  setup: () => Promise<DriverFixture>,
  options: ConformanceOptions = {},
): void {
  describe(`VmmDriver conformance: ${name}`, function () {
    this.timeout(60_000);
    let f: DriverFixture;
    beforeEach(async () => {
      f = await setup();
    });
    afterEach(async () => {
      await f.teardown();
    });

    const test = (title: string, body: () => Promise<void>): void => {
      const reason = options.skip?.[title];
      if (reason !== undefined) {
        it(`${title} (skipped: ${reason})`);
      } else {
        it(title, body);
      }
    };

    test('lists its running instances, with no VBS disks at first', async () => {
      const list = await f.driver.listInstances();
      for (const id of f.instances) {
        const inst = list.find((i) => i.instanceId === id);
        expect(inst, id).to.not.equal(undefined);
        expect(inst?.disks).to.deep.equal([]);
      }
    });

    test('is healthy', async () => {
      expect((await f.driver.health()).healthy).to.equal(true);
    });

    test('attaches read-write and then lists the disk with its volume, device and mode', async () => {
      const path = await f.volumeFile('vol-0000000000000000a');
      const [a] = f.instances;
      const got = await f.driver.attach({
        instanceId: a,
        volumeId: 'vol-0000000000000000a',
        path,
        device: f.device(0),
        mode: 'rw',
      });
      expect(got).to.deep.equal({ instanceId: a, volumeId: 'vol-0000000000000000a', device: f.device(0), mode: 'rw' });
      const inst = (await f.driver.listInstances()).find((i) => i.instanceId === a);
      expect(inst?.disks).to.deep.equal([got]);
    });

    test('attaches one volume read-only to two instances at once', async () => {
      const path = await f.volumeFile('vol-0000000000000000b');
      const [a, b] = f.instances;
      await f.driver.attach({
        instanceId: a,
        volumeId: 'vol-0000000000000000b',
        path,
        device: f.device(0),
        mode: 'ro',
      });
      await f.driver.attach({
        instanceId: b,
        volumeId: 'vol-0000000000000000b',
        path,
        device: f.device(0),
        mode: 'ro',
      });
      const list = await f.driver.listInstances();
      for (const id of [a, b]) {
        expect(list.find((i) => i.instanceId === id)?.disks).to.deep.equal([
          { instanceId: id, volumeId: 'vol-0000000000000000b', device: f.device(0), mode: 'ro' },
        ]);
      }
    });

    test('refuses an instance it does not have', async () => {
      const path = await f.volumeFile('vol-0000000000000000c');
      expect(
        await kindOf(
          f.driver.attach({
            instanceId: 'i-doesnotexist',
            volumeId: 'vol-0000000000000000c',
            path,
            device: f.device(0),
            mode: 'rw',
          }),
        ),
      ).to.equal('instance-not-found');
    });

    test('refuses a device name already used in the instance', async () => {
      const [a] = f.instances;
      const p1 = await f.volumeFile('vol-0000000000000000d');
      const p2 = await f.volumeFile('vol-0000000000000000e');
      await f.driver.attach({
        instanceId: a,
        volumeId: 'vol-0000000000000000d',
        path: p1,
        device: f.device(0),
        mode: 'rw',
      });
      expect(
        await kindOf(
          f.driver.attach({
            instanceId: a,
            volumeId: 'vol-0000000000000000e',
            path: p2,
            device: f.device(0),
            mode: 'rw',
          }),
        ),
      ).to.equal('device-in-use');
    });

    test('detaches, after which the disk is no longer listed', async () => {
      const [a] = f.instances;
      const path = await f.volumeFile('vol-0000000000000000f');
      await f.driver.attach({
        instanceId: a,
        volumeId: 'vol-0000000000000000f',
        path,
        device: f.device(1),
        mode: 'rw',
      });
      expect(
        await f.driver.detach({ instanceId: a, volumeId: 'vol-0000000000000000f', device: f.device(1), force: false }),
      ).to.equal('detached');
      expect((await f.driver.listInstances()).find((i) => i.instanceId === a)?.disks).to.deep.equal([]);
    });

    test('detaches a disk it does not hold (any more) with success, saying it was not held', async () => {
      const [a] = f.instances;
      for (const force of [false, true]) {
        expect(
          await f.driver.detach({ instanceId: a, volumeId: 'vol-00000000000000010', device: f.device(1), force }),
          `force ${force}`,
        ).to.equal('not-held');
      }
      const path = await f.volumeFile('vol-00000000000000012');
      const disk = { instanceId: a, volumeId: 'vol-00000000000000012', device: f.device(1), force: false };
      await f.driver.attach({ ...disk, path, mode: 'rw' });
      expect(await f.driver.detach(disk)).to.equal('detached');
      // A detach sent again (its answer was lost) finds the work done.
      expect(await f.driver.detach(disk)).to.equal('not-held');
      expect(
        await kindOf(
          f.driver.detach({
            instanceId: 'i-doesnotexist',
            volumeId: 'vol-00000000000000010',
            device: f.device(1),
            force: false,
          }),
        ),
      ).to.equal('instance-not-found');
    });

    test('attaches a disk the instance already holds exactly as asked with success, and changes nothing', async () => {
      const [a] = f.instances;
      const path = await f.volumeFile('vol-00000000000000013');
      const req = { instanceId: a, volumeId: 'vol-00000000000000013', path, device: f.device(0), mode: 'ro' as const };
      const first = await f.driver.attach(req);
      // The same request again (its answer was lost): done already.
      expect(await f.driver.attach(req)).to.deep.equal(first);
      expect((await f.driver.listInstances()).find((i) => i.instanceId === a)?.disks).to.deep.equal([first]);
      // Held, but not as asked: refused, and the disk stays as it was.
      expect(await kindOf(f.driver.attach({ ...req, mode: 'rw' })), 'other mode').to.equal('refused');
      expect(await kindOf(f.driver.attach({ ...req, device: f.device(1) })), 'other device').to.equal('refused');
      expect((await f.driver.listInstances()).find((i) => i.instanceId === a)?.disks).to.deep.equal([first]);
    });

    test('does nothing for a request whose deadline has passed, and says that nothing was done', async () => {
      const [a] = f.instances;
      const path = await f.volumeFile('vol-00000000000000014');
      const req = { instanceId: a, volumeId: 'vol-00000000000000014', path, device: f.device(0), mode: 'rw' as const };
      const late = await driverErrorOf(f.driver.attach({ ...req, deadline: Date.now() - 1 }));
      expect([late.kind, late.effect]).to.deep.equal(['unavailable', 'none']);
      expect((await f.driver.listInstances()).find((i) => i.instanceId === a)?.disks).to.deep.equal([]);
      await f.driver.attach(req);
      const detach = { instanceId: a, volumeId: req.volumeId, device: req.device, force: false };
      const lateDetach = await driverErrorOf(f.driver.detach({ ...detach, deadline: Date.now() - 1 }));
      expect([lateDetach.kind, lateDetach.effect]).to.deep.equal(['unavailable', 'none']);
      expect((await f.driver.listInstances()).find((i) => i.instanceId === a)?.disks).to.have.length(1);
    });

    test('can attach the same volume again after detaching it', async () => {
      const [a] = f.instances;
      const path = await f.volumeFile('vol-00000000000000011');
      const req = { instanceId: a, volumeId: 'vol-00000000000000011', path, device: f.device(0), mode: 'rw' as const };
      await f.driver.attach(req);
      await f.driver.detach({ instanceId: a, volumeId: req.volumeId, device: req.device, force: false });
      await f.driver.attach(req);
      expect((await f.driver.listInstances()).find((i) => i.instanceId === a)?.disks).to.have.length(1);
    });
  });
}
