/**
 * The Xen driver against a faithful fake `xl` (test/fixtures/bin/xl): first the one VmmDriver
 * conformance suite, then what is particular to xl: the exact command lines (format=raw always,
 * access=ro|rw, target= last), how xl's failures become DriverError kinds, and that paths with
 * shell metacharacters reach xl as one argument.
 */
import { expect } from 'chai';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UNREACHABLE_STATE } from '../../../src/delegates/vmm/driver.js';
import { XenDriver } from '../../../src/delegates/vmm/drivers/xen.js';
import { vmmDriverConformance, type DriverFixture, kindOf } from '../../conformance/vmm-driver.js';
import { FAKE_BIN } from '../../support/repo.js';

interface FakeXl {
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly driver: XenDriver;
  /** Every argv xl was called with, in order. */
  calls(): Promise<string[][]>;
  volumeFile(volumeId: string, dir?: string): Promise<string>;
  teardown(): Promise<void>;
}

/** Two running domains, each with a root disk that is not a VBS volume. */
const DOMAINS = [
  {
    name: 'i-0000000a',
    disks: [{ pdev_path: '/srv/xen/i-0000000a-root.img', vdev: 'xvda', format: 'raw', readwrite: 1, backend: 'phy' }],
  },
  {
    name: 'i-0000000b',
    state: 'r-----',
    disks: [{ pdev_path: '/srv/xen/i-0000000b-root.img', vdev: 'xvda', format: 'raw', readwrite: 1, backend: 'phy' }],
  },
];

async function fakeXl(domains: readonly object[] = DOMAINS): Promise<FakeXl> {
  const dir = await mkdtemp(join(tmpdir(), 'vbs-xen-driver-'));
  await writeFile(join(dir, 'domains.json'), JSON.stringify({ domains }));
  const log = join(dir, 'xl.log');
  await writeFile(log, '');
  const env = { FAKE_XL_STATE: dir, FAKE_XL_LOG: log };
  return {
    dir,
    env,
    driver: new XenDriver({ command: join(FAKE_BIN, 'xl'), env }),
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

vmmDriverConformance('xen (fake xl)', async (): Promise<DriverFixture> => {
  const fake = await fakeXl();
  return {
    driver: fake.driver,
    instances: ['i-0000000a', 'i-0000000b'],
    device: (index) => `/dev/xvd${String.fromCharCode('b'.charCodeAt(0) + index)}`,
    volumeFile: (volumeId) => fake.volumeFile(volumeId),
    teardown: () => fake.teardown(),
  };
});

describe('XenDriver with the fake xl', function () {
  this.timeout(30_000);
  let fake: FakeXl;
  beforeEach(async () => {
    fake = await fakeXl();
  });
  afterEach(async () => {
    await fake.teardown();
  });

  it('attaches with format=raw, the bare vdev, the access mode and target= last', async () => {
    const rw = await fake.volumeFile('vol-0000000000000000a');
    const ro = await fake.volumeFile('vol-0000000000000000b');
    await fake.driver.attach({
      instanceId: 'i-0000000a',
      volumeId: 'vol-0000000000000000a',
      path: rw,
      device: '/dev/xvdb',
      mode: 'rw',
    });
    await fake.driver.attach({
      instanceId: 'i-0000000a',
      volumeId: 'vol-0000000000000000b',
      path: ro,
      device: '/dev/xvdc',
      mode: 'ro',
    });
    // Each attach reads the domain first: a disk held as asked already is done without block-attach.
    expect(await fake.calls()).to.deep.equal([
      ['list', '-l', 'i-0000000a'],
      ['block-attach', 'i-0000000a', `format=raw,vdev=xvdb,access=rw,target=${rw}`],
      ['list', '-l', 'i-0000000a'],
      ['block-attach', 'i-0000000a', `format=raw,vdev=xvdc,access=ro,target=${ro}`],
    ]);
  });

  it('lists domains from xl list and their VBS disks from xl list -l, leaving out Domain-0 and root disks', async () => {
    const file = await fake.volumeFile('vol-0000000000000000c');
    await fake.driver.attach({
      instanceId: 'i-0000000b',
      volumeId: 'vol-0000000000000000c',
      path: file,
      device: '/dev/xvdd',
      mode: 'ro',
    });
    const list = await fake.driver.listInstances();
    expect(list).to.deep.equal([
      { instanceId: 'i-0000000a', state: 'blocked', disks: [] },
      {
        instanceId: 'i-0000000b',
        state: 'running',
        disks: [{ instanceId: 'i-0000000b', volumeId: 'vol-0000000000000000c', device: '/dev/xvdd', mode: 'ro' }],
      },
    ]);
    expect((await fake.calls()).slice(2)).to.deep.equal([['list'], ['list', '-l']]);
  });

  it('lists the domains as unreachable, their disks unknown, when xl list -l does not answer in time', async () => {
    const driver = new XenDriver({
      command: join(FAKE_BIN, 'xl'),
      env: { ...fake.env, FAKE_XL_HANG: 'list -l' },
      timeoutMs: 1500,
    });
    expect(await driver.listInstances()).to.deep.equal([
      { instanceId: 'i-0000000a', state: UNREACHABLE_STATE, disks: [] },
      { instanceId: 'i-0000000b', state: UNREACHABLE_STATE, disks: [] },
    ]);
  });

  it('refuses instance IDs xl would read as options, and relative paths, before calling it', async () => {
    const file = await fake.volumeFile('vol-00000000000000015');
    expect(
      await kindOf(
        fake.driver.attach({
          instanceId: '-N',
          volumeId: 'vol-00000000000000015',
          path: file,
          device: '/dev/xvdb',
          mode: 'rw',
        }),
      ),
    ).to.equal('instance-not-found');
    expect(
      await kindOf(
        fake.driver.detach({ instanceId: '-f', volumeId: 'vol-00000000000000015', device: '/dev/xvdb', force: false }),
      ),
    ).to.equal('instance-not-found');
    expect(
      await kindOf(
        fake.driver.attach({
          instanceId: 'i-0000000a',
          volumeId: 'vol-00000000000000015',
          path: 'volumes/x.img',
          device: '/dev/xvdb',
          mode: 'rw',
        }),
      ),
    ).to.equal('refused');
    expect(await fake.calls()).to.deep.equal([]);
  });

  it('detaches by the bare vdev, after checking in xl list -l that the volume is there', async () => {
    const file = await fake.volumeFile('vol-0000000000000000d');
    await fake.driver.attach({
      instanceId: 'i-0000000a',
      volumeId: 'vol-0000000000000000d',
      path: file,
      device: '/dev/xvdb',
      mode: 'rw',
    });
    await fake.driver.detach({
      instanceId: 'i-0000000a',
      volumeId: 'vol-0000000000000000d',
      device: '/dev/xvdb',
      force: false,
    });
    expect((await fake.calls()).slice(2)).to.deep.equal([
      ['list', '-l', 'i-0000000a'],
      ['block-detach', 'i-0000000a', 'xvdb'],
    ]);
  });

  it('never detaches a disk that is not the VBS volume asked for (a root disk, another volume)', async () => {
    const file = await fake.volumeFile('vol-0000000000000000e');
    await fake.driver.attach({
      instanceId: 'i-0000000a',
      volumeId: 'vol-0000000000000000e',
      path: file,
      device: '/dev/xvdb',
      mode: 'rw',
    });
    expect(
      await fake.driver.detach({
        instanceId: 'i-0000000a',
        volumeId: 'vol-0000000000000000f',
        device: '/dev/xvda',
        force: false,
      }),
    ).to.equal('not-held');
    expect(
      await fake.driver.detach({
        instanceId: 'i-0000000a',
        volumeId: 'vol-0000000000000000f',
        device: '/dev/xvdb',
        force: false,
      }),
    ).to.equal('not-held');
    expect((await fake.calls()).some((c) => c[0] === 'block-detach')).to.equal(false);
    expect((await fake.driver.listInstances()).find((i) => i.instanceId === 'i-0000000a')?.disks).to.have.length(1);
  });

  it('turns xl failures into DriverError kinds', async () => {
    const file = await fake.volumeFile('vol-00000000000000011');
    const req = {
      instanceId: 'i-0000000a',
      volumeId: 'vol-00000000000000011',
      path: file,
      device: '/dev/xvdb',
      mode: 'rw' as const,
    };
    expect(await kindOf(fake.driver.attach({ ...req, instanceId: 'i-nosuch' }))).to.equal('instance-not-found');
    await fake.driver.attach(req);
    expect(
      await kindOf(
        fake.driver.attach({
          ...req,
          volumeId: 'vol-00000000000000012',
          path: await fake.volumeFile('vol-00000000000000012'),
        }),
      ),
    ).to.equal('device-in-use');
    // libxl stats the target first: a missing file is refused, as is a vdev libxl does not know.
    const missing = {
      ...req,
      volumeId: 'vol-00000000000000013',
      path: join(fake.dir, 'missing', 'vol-00000000000000013.img'),
      device: '/dev/xvdc',
    };
    expect(await kindOf(fake.driver.attach(missing))).to.equal('refused');
    expect(await kindOf(fake.driver.attach({ ...missing, device: '/dev/xvdb,access=rw' }))).to.equal('refused');
    expect(
      await kindOf(
        fake.driver.detach({ instanceId: 'i-nosuch', volumeId: req.volumeId, device: '/dev/xvdb', force: false }),
      ),
    ).to.equal('instance-not-found');
    // The unknown domain is found out by xl list -l, and the malformed device never reached xl.
    const xlCalls = (await fake.calls()).filter((c) => c[0] === 'block-attach');
    expect(xlCalls).to.have.length(3);
  });

  it('reports a disk the guest does not release in time as unavailable, and keeps listing it', async () => {
    const file = await fake.volumeFile('vol-00000000000000016');
    await fake.driver.attach({
      instanceId: 'i-0000000a',
      volumeId: 'vol-00000000000000016',
      path: file,
      device: '/dev/xvdb',
      mode: 'rw',
    });
    const holding = new XenDriver({ command: join(FAKE_BIN, 'xl'), env: { ...fake.env, FAKE_XL_GUEST_HOLDS: 'xvdb' } });
    expect(
      await kindOf(
        holding.detach({
          instanceId: 'i-0000000a',
          volumeId: 'vol-00000000000000016',
          device: '/dev/xvdb',
          force: false,
        }),
      ),
    ).to.equal('unavailable');
    expect((await fake.driver.listInstances()).find((i) => i.instanceId === 'i-0000000a')?.disks).to.have.length(1);
  });

  it('reports xl that cannot reach the hypervisor, or cannot run at all, as unavailable', async () => {
    const down = new XenDriver({ command: join(FAKE_BIN, 'xl'), env: { ...fake.env, FAKE_XL_DOWN: '1' } });
    expect(await kindOf(down.listInstances())).to.equal('unavailable');
    const health = await down.health();
    expect(health.healthy).to.equal(false);
    expect(health.message).to.match(/cannot init xl context/);
    const missing = new XenDriver({ command: join(fake.dir, 'no-such-xl') });
    expect(await kindOf(missing.listInstances())).to.equal('unavailable');
    expect((await fake.driver.health()).healthy).to.equal(true);
  });

  it('passes a path full of shell metacharacters to xl as one argument, untouched', async () => {
    const weird = join(fake.dir, `it's a $(touch pwned); \`touch pwned2\` & "x" | y`);
    const file = await fake.volumeFile('vol-00000000000000014', weird);
    await fake.driver.attach({
      instanceId: 'i-0000000b',
      volumeId: 'vol-00000000000000014',
      path: file,
      device: '/dev/xvdb',
      mode: 'ro',
    });
    expect(await fake.calls()).to.deep.equal([
      ['list', '-l', 'i-0000000b'],
      ['block-attach', 'i-0000000b', `format=raw,vdev=xvdb,access=ro,target=${file}`],
    ]);
    const inst = (await fake.driver.listInstances()).find((i) => i.instanceId === 'i-0000000b');
    expect(inst?.disks).to.deep.equal([
      { instanceId: 'i-0000000b', volumeId: 'vol-00000000000000014', device: '/dev/xvdb', mode: 'ro' },
    ]);
    for (const name of ['pwned', 'pwned2']) {
      expect(
        await access(join(process.cwd(), name)).then(
          () => true,
          () => false,
        ),
        name,
      ).to.equal(false);
    }
  });
});
