/**
 * The frontend's clients of the VMM Delegates are kept for the endpoints used last only: a node that
 * registers ever new URLs cannot make the frontend keep a client (an agent and its sockets) for each.
 * An evicted client still finishes the call it has in flight. Against a real HTTPS service on
 * 127.0.0.1 that answers every call with a fault (what the pool passes on as it is).
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VbsError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/log.js';
import { VmmDelegatePool } from '../../src/frontend/vmm-delegates.js';
import { ensureServiceTls } from '../../src/security/ca/local-tls.js';
import { faultElement, faultFor, plainEnvelope } from '../../src/soap/faults.js';

const ATTACH = { attachmentId: '1', instanceId: 'i-1', volumeId: 'vol-1', path: '/x', device: '/dev/vdb' } as const;
const DISK = { ...ATTACH, mode: 'rw' } as const;
const DETACH = { attachmentId: '1', instanceId: 'i-1', volumeId: 'vol-1', device: '/dev/vdb', force: false } as const;

describe('the VMM Delegate clients of the frontend', function () {
  this.timeout(20_000);
  let dir: string;
  let server: Server;
  let base: string;
  let pool: VmmDelegatePool;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vbs-vmm-clients-'));
    const tls = ensureServiceTls(dir, 'frontend');
    const fault = plainEnvelope(
      faultElement(faultFor(new VbsError('InvalidInstanceID.NotFound', 'no such instance')), 'r-1'),
    );
    server = createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
      req.resume();
      const answer = (): void => void res.writeHead(500, { 'content-type': 'text/xml' }).end(fault);
      if (req.url === '/slow') setTimeout(answer, 500);
      else answer();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    pool = new VmmDelegatePool(tls.caPem, { certPem: tls.certPem, keyPem: tls.keyPem }, silentLogger(), 5_000, 4);
  });
  after(async () => {
    pool.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  /** The code the call ended with: the service's fault when it was answered. */
  const codeOf = async (p: Promise<unknown>): Promise<string> => {
    try {
      await p;
      return 'answered';
    } catch (e) {
      if (e instanceof VbsError) return e.code;
      throw e;
    }
  };

  it('keeps clients for the endpoints used last only, however many a node registers', async () => {
    for (let i = 0; i < 50; i++) {
      expect(await codeOf(pool.attach(`${base}/node-${i}`, DISK))).to.equal('InvalidInstanceID.NotFound');
      expect(pool.keptClients).to.be.at.most(4);
    }
    expect(pool.keptClients).to.equal(4);
  });

  it('lets an evicted client finish the call it has in flight', async () => {
    const slow = codeOf(pool.detach(`${base}/slow`, DETACH));
    for (let i = 0; i < 8; i++) await codeOf(pool.attach(`${base}/other-${i}`, DISK));
    expect(pool.keptClients).to.equal(4);
    // Answered by the service, not cut off ('Unavailable') when its client was evicted.
    expect(await slow).to.equal('InvalidInstanceID.NotFound');
  });
});
