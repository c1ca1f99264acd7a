/**
 * The QMP client against a scripted fake monitor, for what real QEMU does not do on demand: an event
 * sent before the command's answer, a socket that closes mid-command, garbage on the line.
 */
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DriverError } from '../../../src/delegates/vmm/driver.js';
import { QmpClient, QmpCommandError, QmpConnectError } from '../../../src/delegates/vmm/qmp-client.js';

type Script = (command: string, id: unknown, socket: Socket) => void;

async function fakeMonitor(path: string, script: Script): Promise<{ server: Server; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.write('{"QMP": {"version": {}, "capabilities": []}}\r\n');
    let buffered = '';
    socket.on('data', (d) => {
      buffered += d.toString('utf8');
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const msg = JSON.parse(buffered.slice(0, nl)) as { execute: string; id?: unknown };
        buffered = buffered.slice(nl + 1);
        if (msg.execute === 'qmp_capabilities') socket.write(`${JSON.stringify({ return: {}, id: msg.id })}\r\n`);
        else script(msg.execute, msg.id, socket);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return { server, sockets };
}

describe('QmpClient', () => {
  let dir: string;
  let monitor: { server: Server; sockets: Set<Socket> } | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vbs-qmp-'));
  });
  afterEach(async () => {
    if (monitor) {
      for (const s of monitor.sockets) s.destroy();
      await new Promise<void>((resolve) => monitor?.server.close(() => resolve()));
      monitor = undefined;
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps an event that arrives before the answer for a later wait, and skips garbage lines', async () => {
    monitor = await fakeMonitor(join(dir, 'm.qmp'), (command, id, socket) => {
      socket.write('not json\r\n{"event": "DEVICE_DELETED", "data": {"device": "d1"}}\r\n');
      socket.write(`${JSON.stringify({ return: { ok: command }, id })}\r\n`);
    });
    const qmp = await QmpClient.connect(join(dir, 'm.qmp'), { timeoutMs: 500 });
    expect(await qmp.execute('device_del', { id: 'd1' })).to.deep.equal({ ok: 'device_del' });
    const event = await qmp.waitForEvent(
      (e) => e.data.device === 'd1',
      100,
      () => new Error('no event'),
    );
    expect(event.event).to.equal('DEVICE_DELETED');
    await qmp.close();
  });

  it('reports a command error with its class and description', async () => {
    monitor = await fakeMonitor(join(dir, 'm.qmp'), (_c, id, socket) => {
      socket.write(`${JSON.stringify({ error: { class: 'DeviceNotFound', desc: "Device 'x' not found" }, id })}\r\n`);
    });
    const qmp = await QmpClient.connect(join(dir, 'm.qmp'), { timeoutMs: 500 });
    const error = await qmp.execute('device_del', { id: 'x' }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(QmpCommandError);
    expect((error as QmpCommandError).errorClass).to.equal('DeviceNotFound');
    await qmp.close();
  });

  it('fails a command as unavailable when the socket closes or the answer does not come', async () => {
    monitor = await fakeMonitor(join(dir, 'm.qmp'), (command, _id, socket) => {
      if (command === 'hang-up') socket.destroy();
    });
    const qmp = await QmpClient.connect(join(dir, 'm.qmp'), { timeoutMs: 200 });
    const silent = await qmp.execute('query-status').catch((e: unknown) => e);
    expect(silent).to.be.instanceOf(DriverError);
    expect((silent as DriverError).kind).to.equal('unavailable');
    const closed = await qmp.execute('hang-up').catch((e: unknown) => e);
    expect((closed as DriverError).kind).to.equal('unavailable');
    await qmp.close();
  });

  it('says which socket is missing', async () => {
    const error = await QmpClient.connect(join(dir, 'none.qmp'), { timeoutMs: 200 }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(QmpConnectError);
    expect((error as QmpConnectError).code).to.equal('ENOENT');
  });
});
