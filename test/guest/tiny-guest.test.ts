/**
 * Checks the tiny real guest (test/support/tiny-guest.ts) does what VBS end-to-end tests need: a
 * volume hot-plugged over QMP shows INSIDE the running guest with its serial, read-only when
 * attached read-only, with the right bytes, and is gone after device_del. Both ways the VBS QEMU
 * driver attaches: virtio-blk-pci (on a pcie-root-port) and scsi-hd on a virtio-scsi controller.
 * QMP is spoken directly here, on purpose: this tests the guest, not the driver.
 */
import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTinyGuest, shellQuote, VIRTIO_BLK_SERIAL_MAX, type TinyGuest } from '../support/tiny-guest.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Just enough QMP: one command at a time, events kept for waitEvent. */
class MiniQmp {
  private buf = '';
  private events: JsonObject[] = [];
  private pending: { resolve: (v: Json) => void; reject: (e: Error) => void } | undefined;
  private eventWaiters: (() => void)[] = [];
  private greeted!: Promise<void>;

  private constructor(private readonly sock: Socket) {}

  static async open(path: string): Promise<MiniQmp> {
    const sock = connect(path);
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    const qmp = new MiniQmp(sock);
    qmp.greeted = new Promise((resolve) => {
      qmp.onGreeting = resolve;
    });
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => qmp.feed(d));
    await qmp.greeted;
    await qmp.execute('qmp_capabilities');
    return qmp;
  }

  private onGreeting: (() => void) | undefined;

  private feed(data: string): void {
    this.buf += data;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (!line) continue;
      const msg: unknown = JSON.parse(line);
      if (!isObject(msg)) continue;
      if ('QMP' in msg) {
        this.onGreeting?.();
      } else if ('event' in msg) {
        this.events.push(msg);
        for (const w of this.eventWaiters) w();
      } else if (this.pending) {
        const p = this.pending;
        this.pending = undefined;
        const err = msg['error'];
        if (isObject(err)) p.reject(new Error(`QMP: ${JSON.stringify(err['desc'])}`));
        else p.resolve(msg['return'] ?? null);
      }
    }
  }

  execute(command: string, args?: JsonObject): Promise<Json> {
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.sock.write(JSON.stringify(args ? { execute: command, arguments: args } : { execute: command }) + '\n');
    });
  }

  /** Resolves with the first event (seen so far or later) that matches. */
  waitEvent(name: string, match: (data: JsonObject) => boolean, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): boolean =>
        this.events.some((e) => e['event'] === name && isObject(e['data']) && match(e['data']));
      const waiter = (): void => {
        if (check()) finish();
      };
      const finish = (err?: Error): void => {
        clearTimeout(timer);
        this.eventWaiters = this.eventWaiters.filter((w) => w !== waiter);
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(() => finish(new Error(`no ${name} within ${timeoutMs} ms`)), timeoutMs);
      this.eventWaiters.push(waiter);
      waiter();
    });
  }

  close(): void {
    this.sock.destroy();
  }
}

describe('tiny real guest under QEMU', function () {
  this.timeout(120_000);
  let dir = '';
  let guest: TinyGuest | undefined;
  let qmp: MiniQmp | undefined;
  let image = '';
  let firstMiBSha256 = '';

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'vbs-guest-'));
    image = join(dir, 'vol.raw');
    const bytes = randomBytes(3 << 20);
    writeFileSync(image, bytes);
    firstMiBSha256 = createHash('sha256')
      .update(bytes.subarray(0, 1 << 20))
      .digest('hex');
    guest = await startTinyGuest(dir, 'i-0tinyguest0000001', { scsi: true });
    qmp = await MiniQmp.open(guest.qmpSocket);
  });

  after(async function () {
    qmp?.close();
    if (guest) {
      const pid = guest.pid;
      await guest.stop();
      expect(() => process.kill(pid, 0), 'QEMU is gone').to.throw();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function need<T>(v: T | undefined): T {
    if (v === undefined) throw new Error('not started');
    return v;
  }

  it('boots to a shell that answers with output and exit status', async () => {
    const g = need(guest);
    expect(g.bootMs).to.be.below(60_000);
    console.log(`      booted ${g.kernelRelease} to a shell in ${g.bootMs} ms (pid ${g.pid})`);
    expect(await g.run('uname -r'))
      .to.equal(g.kernelRelease)
      .and.match(/-amd64$/);
    expect(await g.exec('echo out; echo err >&2; exit 3')).to.deep.equal({ status: 3, output: 'out\nerr' });
    expect((await g.exec('if then')).status).to.equal(2); // a syntax error does not kill the shell
    expect(await g.run(`printf '%s' ${shellQuote("it's")}`)).to.equal("it's");
    expect(await g.run('ls /sys/block')).to.not.match(/\b(vd|sd)[a-z]/);
  });

  // The volume ID as serial shows cut to 20 bytes on virtio-blk; the VBS QEMU driver therefore gives
  // virtio-blk the dash-less form (as EC2 does for NVMe), and scsi-hd the volume ID whole.
  const attachments = [
    {
      kind: 'virtio-blk-pci, serial = volume ID',
      driver: 'virtio-blk-pci',
      serial: 'vol-0123456789abcdef0',
      seen: 'vol-0123456789abcdef',
    },
    {
      kind: 'virtio-blk-pci, dash-less serial',
      driver: 'virtio-blk-pci',
      serial: 'vol0123456789abcdef1',
      seen: 'vol0123456789abcdef1',
    },
    {
      kind: 'scsi-hd on virtio-scsi',
      driver: 'scsi-hd',
      serial: 'vol-0123456789abcdef2',
      seen: 'vol-0123456789abcdef2',
    },
  ] as const;

  for (const [n, a] of attachments.entries()) {
    it(`shows a read-only ${a.kind} with its serial and bytes, and loses it on device_del`, async () => {
      const g = need(guest);
      const q = need(qmp);
      const volumeId = `vol-0123456789abcdef${n}`;
      const node = `node-${n}`;
      const dev = `dev-${n}`;
      await q.execute('blockdev-add', {
        driver: 'raw',
        'node-name': node,
        'read-only': true,
        file: { driver: 'file', filename: image },
      });
      const bus = a.driver === 'scsi-hd' ? `${need(g.scsiController)}.0` : need(g.hotplugBuses[0]);
      const t0 = Date.now();
      await q.execute('device_add', { driver: a.driver, id: dev, drive: node, serial: a.serial, bus });

      const name = await g.waitForDisk(volumeId);
      const seenMs = Date.now() - t0;
      const prefix = a.driver === 'scsi-hd' ? 'sd' : 'vd';
      expect(name.startsWith(prefix), name).to.equal(true);
      if (prefix === 'vd') {
        expect(await g.run(`cat /sys/block/${name}/serial`))
          .to.equal(a.seen)
          .and.have.length(VIRTIO_BLK_SERIAL_MAX);
      } else {
        // VPD page 0x80 (unit serial number): 4 header bytes, then the serial whole.
        expect(await g.run(`tail -c +5 /sys/block/${name}/device/vpd_pg80`)).to.equal(a.seen);
        expect(await g.run(`cat /sys/block/${name}/device/vendor`)).to.equal('QEMU    ');
      }
      expect(await g.run(`cat /sys/block/${name}/ro`)).to.equal('1');
      expect(await g.run(`cat /sys/block/${name}/size`)).to.equal(String((3 << 20) / 512));
      expect(await g.run(`dd if=/dev/${name} bs=1M count=1 2>/dev/null | sha256sum`)).to.equal(`${firstMiBSha256}  -`);
      // Writes are refused by the guest's block layer on a read-only disk.
      expect((await g.exec(`dd if=/dev/zero of=/dev/${name} bs=512 count=1 conv=fsync`)).status).to.not.equal(0);

      const t1 = Date.now();
      const deleted = q.waitEvent('DEVICE_DELETED', (d) => d['device'] === dev, 15_000);
      await q.execute('device_del', { id: dev });
      await deleted;
      const deletedMs = Date.now() - t1;
      await g.waitForDiskGone(name);
      expect(await g.run('ls /sys/block')).to.not.include(name);
      await q.execute('blockdev-del', { 'node-name': node });
      console.log(`      ${a.kind}: seen in guest after ${seenMs} ms as ${name}; DEVICE_DELETED after ${deletedMs} ms`);
    });
  }
});
