/**
 * The libvirt driver against a faithful fake `virsh` (test/fixtures/bin/virsh): first the one
 * VmmDriver conformance suite, then what is particular to virsh: the exact command lines (raw
 * format always, the volume ID as serial, --mode readonly for ro, -c URI), how virsh's failures
 * become DriverError kinds, and that paths and IDs with shell metacharacters reach virsh as one
 * argument each.
 */
import { expect } from 'chai';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UNREACHABLE_STATE } from '../../../src/delegates/vmm/driver.js';
import { LibvirtDriver, type LibvirtDriverOptions } from '../../../src/delegates/vmm/drivers/libvirt.js';
import { vmmDriverConformance, type DriverFixture, kindOf } from '../../conformance/vmm-driver.js';
import { FAKE_BIN } from '../../support/repo.js';

interface FakeVirsh {
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly driver: LibvirtDriver;
  driverWith(options: LibvirtDriverOptions): LibvirtDriver;
  /** Every argv virsh was called with, in order. */
  calls(): Promise<string[][]>;
  volumeFile(volumeId: string, dir?: string): Promise<string>;
  teardown(): Promise<void>;
}

/** Two running domains with a root disk each (not VBS volumes), a paused one and a shut-off one. */
const DOMAINS = [
  {
    name: 'i-0000000a',
    disks: [{ source: '/var/lib/libvirt/images/i-0000000a.qcow2', target: 'vda', format: 'qcow2' }],
  },
  {
    name: 'i-0000000b',
    disks: [{ source: '/var/lib/libvirt/images/i-0000000b.qcow2', target: 'vda', format: 'qcow2' }],
  },
  {
    name: 'i-0000000c',
    state: 'paused',
    disks: [{ source: '/var/lib/libvirt/images/i-0000000c.qcow2', target: 'vda', format: 'qcow2' }],
  },
  { name: 'i-0000000d', state: 'shut off' },
];

async function fakeVirsh(domains: readonly object[] = DOMAINS): Promise<FakeVirsh> {
  const dir = await mkdtemp(join(tmpdir(), 'vbs-libvirt-driver-'));
  await writeFile(join(dir, 'domains.json'), JSON.stringify({ domains }));
  const log = join(dir, 'virsh.log');
  await writeFile(log, '');
  const env = { FAKE_VIRSH_STATE: dir, FAKE_VIRSH_LOG: log };
  const driverWith = (options: LibvirtDriverOptions): LibvirtDriver =>
    new LibvirtDriver({ command: join(FAKE_BIN, 'virsh'), env, ...options });
  return {
    dir,
    env,
    driver: driverWith({}),
    driverWith,
    calls: async () =>
      (await readFile(log, 'utf8'))
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as string[]),
    volumeFile: async (volumeId, under = join(dir, 'volumes')) => {
      await mkdir(under, { recursive: true });
      const file = join(under, `${volumeId}.img`);
      await writeFile(file, Buffer.alloc(64 * 1024));
      return file;
    },
    teardown: () => rm(dir, { recursive: true, force: true }),
  };
}

const attachArgv = (domain: string, path: string, target: string, serial: string, ro: boolean): string[] => [
  'attach-disk',
  domain,
  path,
  target,
  '--sourcetype',
  'file',
  '--driver',
  'qemu',
  '--subdriver',
  'raw',
  '--serial',
  serial,
  ...(ro ? ['--mode', 'readonly'] : []),
  '--live',
];

vmmDriverConformance('libvirt (fake virsh)', async (): Promise<DriverFixture> => {
  const fake = await fakeVirsh(DOMAINS.slice(0, 2));
  return {
    driver: fake.driver,
    instances: ['i-0000000a', 'i-0000000b'],
    device: (index) => `/dev/vd${String.fromCharCode('b'.charCodeAt(0) + index)}`,
    volumeFile: (volumeId) => fake.volumeFile(volumeId),
    teardown: () => fake.teardown(),
  };
});

describe('LibvirtDriver with the fake virsh', function () {
  this.timeout(30_000);
  let fake: FakeVirsh;
  beforeEach(async () => {
    fake = await fakeVirsh();
  });
  afterEach(async () => {
    await fake.teardown();
  });

  it('attaches live as a raw file with the volume ID as serial, read-only with --mode readonly', async () => {
    const rw = await fake.volumeFile('vol-0000000000000000a');
    const ro = await fake.volumeFile('vol-0000000000000000b');
    await fake.driver.attach({
      instanceId: 'i-0000000a',
      volumeId: 'vol-0000000000000000a',
      path: rw,
      device: '/dev/vdb',
      mode: 'rw',
    });
    await fake.driver.attach({
      instanceId: 'i-0000000a',
      volumeId: 'vol-0000000000000000b',
      path: ro,
      device: '/dev/vdc',
      mode: 'ro',
    });
    // Each attach reads the domain first: a disk held as asked already is done without virsh.
    expect(await fake.calls()).to.deep.equal([
      ['dumpxml', '--domain', 'i-0000000a'],
      attachArgv('i-0000000a', rw, 'vdb', 'vol-0000000000000000a', false),
      ['dumpxml', '--domain', 'i-0000000a'],
      attachArgv('i-0000000a', ro, 'vdc', 'vol-0000000000000000b', true),
    ]);
  });

  it('passes the connection URI as -c before the command', async () => {
    const driver = fake.driverWith({ connectUri: 'qemu:///system' });
    const file = await fake.volumeFile('vol-0000000000000000c');
    await driver.attach({
      instanceId: 'i-0000000b',
      volumeId: 'vol-0000000000000000c',
      path: file,
      device: '/dev/vdb',
      mode: 'rw',
    });
    await driver.detach({
      instanceId: 'i-0000000b',
      volumeId: 'vol-0000000000000000c',
      device: '/dev/vdb',
      force: false,
    });
    expect(await fake.calls()).to.deep.equal([
      ['-c', 'qemu:///system', 'dumpxml', '--domain', 'i-0000000b'],
      ['-c', 'qemu:///system', ...attachArgv('i-0000000b', file, 'vdb', 'vol-0000000000000000c', false)],
      ['-c', 'qemu:///system', 'dumpxml', '--domain', 'i-0000000b'],
      ['-c', 'qemu:///system', 'detach-disk', 'i-0000000b', 'vdb', '--live'],
      ['-c', 'qemu:///system', 'dumpxml', '--domain', 'i-0000000b'],
    ]);
  });

  it('lists active domains with their state and only their VBS disks, from virsh list and dumpxml', async () => {
    const file = await fake.volumeFile('vol-0000000000000000d');
    await fake.driver.attach({
      instanceId: 'i-0000000c',
      volumeId: 'vol-0000000000000000d',
      path: file,
      device: '/dev/vdb',
      mode: 'ro',
    });
    expect(await fake.driver.listInstances()).to.deep.equal([
      { instanceId: 'i-0000000a', state: 'running', disks: [] },
      { instanceId: 'i-0000000b', state: 'running', disks: [] },
      {
        instanceId: 'i-0000000c',
        state: 'paused',
        disks: [{ instanceId: 'i-0000000c', volumeId: 'vol-0000000000000000d', device: '/dev/vdb', mode: 'ro' }],
      },
    ]);
    expect((await fake.calls()).slice(2)).to.deep.equal([
      ['list'],
      ['dumpxml', '--domain', 'i-0000000a'],
      ['dumpxml', '--domain', 'i-0000000b'],
      ['dumpxml', '--domain', 'i-0000000c'],
    ]);
  });

  it('lists a domain libvirt cannot describe in time as unreachable, with its disks unknown', async () => {
    const driver = new LibvirtDriver({
      command: join(FAKE_BIN, 'virsh'),
      env: { ...fake.env, FAKE_VIRSH_HANG: 'i-0000000b' },
      timeoutMs: 1500,
    });
    const list = await driver.listInstances();
    expect(list.map((i) => [i.instanceId, i.state])).to.deep.equal([
      ['i-0000000a', 'running'],
      ['i-0000000b', UNREACHABLE_STATE],
      ['i-0000000c', 'paused'],
    ]);
  });

  it('refuses instance IDs virsh would read as options, and relative paths, before calling it', async () => {
    const file = await fake.volumeFile('vol-00000000000000015');
    expect(
      await kindOf(
        fake.driver.attach({
          instanceId: '--all',
          volumeId: 'vol-00000000000000015',
          path: file,
          device: '/dev/vdb',
          mode: 'rw',
        }),
      ),
    ).to.equal('instance-not-found');
    expect(
      await kindOf(
        fake.driver.attach({
          instanceId: 'i-0000000a',
          volumeId: 'vol-00000000000000015',
          path: '--config',
          device: '/dev/vdb',
          mode: 'rw',
        }),
      ),
    ).to.equal('refused');
    expect(await fake.calls()).to.deep.equal([]);
  });

  it('never detaches a disk that is not the VBS volume asked for (a root disk, another volume)', async () => {
    const file = await fake.volumeFile('vol-0000000000000000e');
    await fake.driver.attach({
      instanceId: 'i-0000000a',
      volumeId: 'vol-0000000000000000e',
      path: file,
      device: '/dev/vdb',
      mode: 'rw',
    });
    expect(
      await fake.driver.detach({
        instanceId: 'i-0000000a',
        volumeId: 'vol-0000000000000000f',
        device: '/dev/vda',
        force: false,
      }),
    ).to.equal('not-held');
    expect(
      await fake.driver.detach({
        instanceId: 'i-0000000a',
        volumeId: 'vol-0000000000000000f',
        device: '/dev/vdb',
        force: false,
      }),
    ).to.equal('not-held');
    expect((await fake.calls()).some((c) => c[0] === 'detach-disk')).to.equal(false);
  });

  it('detaches only once the guest has let the disk go, and says so when it does not in time', async () => {
    const file = await fake.volumeFile('vol-00000000000000016');
    await fake.driver.attach({
      instanceId: 'i-0000000a',
      volumeId: 'vol-00000000000000016',
      path: file,
      device: '/dev/vdb',
      mode: 'rw',
    });
    const holding = fake.driverWith({ env: { ...fake.env, FAKE_VIRSH_GUEST_HOLDS: 'vdb' }, unplugTimeoutMs: 300 });
    const req = { instanceId: 'i-0000000a', volumeId: 'vol-00000000000000016', device: '/dev/vdb', force: false };
    expect(await kindOf(holding.detach(req))).to.equal('unavailable');
    // Asked again while QEMU still waits for the guest: the same wait, not a new failure.
    expect(await kindOf(holding.detach(req))).to.equal('unavailable');
    expect((await fake.calls()).filter((c) => c[0] === 'detach-disk')).to.have.length(2);
    expect((await holding.listInstances()).find((i) => i.instanceId === 'i-0000000a')?.disks).to.have.length(1);
    // The guest lets go: the disk leaves the live XML.
    expect((await fake.driver.listInstances()).find((i) => i.instanceId === 'i-0000000a')?.disks).to.deep.equal([]);
  });

  it('turns virsh failures into DriverError kinds', async () => {
    const file = await fake.volumeFile('vol-00000000000000011');
    const req = {
      instanceId: 'i-0000000a',
      volumeId: 'vol-00000000000000011',
      path: file,
      device: '/dev/vdb',
      mode: 'rw' as const,
    };
    expect(await kindOf(fake.driver.attach({ ...req, instanceId: 'i-nosuch' }))).to.equal('instance-not-found');
    expect(await kindOf(fake.driver.attach({ ...req, instanceId: 'i-0000000d' }))).to.equal('refused'); // shut off: not running
    await fake.driver.attach(req);
    const other = await fake.volumeFile('vol-00000000000000012');
    expect(await kindOf(fake.driver.attach({ ...req, volumeId: 'vol-00000000000000012', path: other }))).to.equal(
      'device-in-use',
    );
    // QEMU's image lock: a volume attached read-write cannot be opened again elsewhere.
    expect(await kindOf(fake.driver.attach({ ...req, instanceId: 'i-0000000b' }))).to.equal('refused');
    const missing = {
      ...req,
      volumeId: 'vol-00000000000000013',
      path: join(fake.dir, 'missing', 'vol-00000000000000013.img'),
      device: '/dev/vdc',
    };
    expect(await kindOf(fake.driver.attach(missing))).to.equal('refused');
    expect(await kindOf(fake.driver.attach({ ...missing, device: "/dev/vdc'/><x" }))).to.equal('refused');
    expect(
      await kindOf(
        fake.driver.detach({ instanceId: 'i-nosuch', volumeId: req.volumeId, device: '/dev/vdb', force: false }),
      ),
    ).to.equal('instance-not-found');
    // The unknown domain is found out by dumpxml, and the malformed device never reached virsh.
    expect((await fake.calls()).filter((c) => c[0] === 'attach-disk')).to.have.length(5);
  });

  it('reports a libvirt daemon it cannot reach, or a virsh it cannot run, as unavailable', async () => {
    const down = new LibvirtDriver({ command: join(FAKE_BIN, 'virsh'), env: { ...fake.env, FAKE_VIRSH_DOWN: '1' } });
    expect(await kindOf(down.listInstances())).to.equal('unavailable');
    const health = await down.health();
    expect(health.healthy).to.equal(false);
    expect(health.message).to.match(/failed to connect to the hypervisor/);
    expect(await kindOf(new LibvirtDriver({ command: join(fake.dir, 'no-such-virsh') }).listInstances())).to.equal(
      'unavailable',
    );
    expect((await fake.driver.health()).healthy).to.equal(true);
  });

  it('passes a path and a volume ID full of shell metacharacters to virsh as one argument each', async () => {
    const weird = join(fake.dir, `it's a $(touch pwned); \`touch pwned2\` & "x" | <y>`);
    const file = await fake.volumeFile('vol-00000000000000014', weird);
    await fake.driver.attach({
      instanceId: 'i-0000000b',
      volumeId: 'vol-00000000000000014',
      path: file,
      device: '/dev/vdb',
      mode: 'ro',
    });
    const inst = (await fake.driver.listInstances()).find((i) => i.instanceId === 'i-0000000b');
    expect(inst?.disks).to.deep.equal([
      { instanceId: 'i-0000000b', volumeId: 'vol-00000000000000014', device: '/dev/vdb', mode: 'ro' },
    ]);
    // libvirt refuses a serial QEMU could not take; the ID still went over as one argument.
    const badId = 'vol-1; rm -rf $(pwd) `id`';
    expect(
      await kindOf(
        fake.driver.attach({ instanceId: 'i-0000000b', volumeId: badId, path: file, device: '/dev/vdc', mode: 'ro' }),
      ),
    ).to.equal('refused');
    const attaches = (await fake.calls()).filter((c) => c[0] === 'attach-disk');
    expect(attaches).to.deep.equal([
      attachArgv('i-0000000b', file, 'vdb', 'vol-00000000000000014', true),
      attachArgv('i-0000000b', file, 'vdc', badId, true),
    ]);
  });
});
