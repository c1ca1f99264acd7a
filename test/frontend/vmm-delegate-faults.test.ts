/**
 * A VMM Delegate's fault, as the frontend passes it on (src/frontend/vmm-delegates.ts): in the
 * frontend's words and with a code that names the right culprit. A node that refuses the frontend's
 * own signature (AuthFailure between services) or fails inside is the service's fault, never the
 * user's AuthFailure; the node's message never reaches the user. Against a real HTTPS server on
 * 127.0.0.1 that answers as a failing node would.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VbsError, type ErrorCode } from '../../src/core/errors.js';
import { VmmDelegatePool } from '../../src/frontend/vmm-delegates.js';
import { silentLogger } from '../../src/log.js';
import { ensureServiceTls } from '../../src/security/ca/local-tls.js';
import { faultEnvelope } from '../../src/soap/faults.js';

describe('VMM Delegate faults, as the frontend passes them on', () => {
  let dir: string;
  let server: Server;
  let port: number;
  let answer: { code: ErrorCode; message: string } = { code: 'InternalError', message: '' };
  let pool: VmmDelegatePool;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vbs-nodefault-'));
    const tls = ensureServiceTls(dir, 'vmm-delegate-n1');
    server = createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
      req.resume();
      req.on('end', () => {
        // A node's fault, with the node's own words (its faultFor keeps VbsError messages).
        const body = faultEnvelope(
          { code: answer.code, faultcode: `Client.${answer.code}`, message: answer.message, httpStatus: 500 },
          'node-request-1',
        );
        res.writeHead(500, { 'content-type': 'text/xml' }).end(body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    pool = new VmmDelegatePool(tls.caPem, { certPem: tls.certPem, keyPem: tls.keyPem }, silentLogger(), 5000);
  });
  after(() => {
    pool.close();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function passedOn(code: ErrorCode, message: string): Promise<{ code: string; message: string }> {
    answer = { code, message };
    try {
      await pool.attach(`https://127.0.0.1:${port}/vmm-delegate`, {
        attachmentId: '1',
        instanceId: 'i-1',
        volumeId: 'vol-0123456789abcdef0',
        path: 'volumes/vol-0123456789abcdef0.img',
        device: '/dev/vdb',
        mode: 'rw',
      });
    } catch (e) {
      if (e instanceof VbsError) return { code: e.code, message: e.message };
      throw e;
    }
    return expect.fail('the attach succeeded');
  }

  it("makes a node's refusal of the frontend's own signature a server fault, not the user's AuthFailure", async () => {
    const got = await passedOn('AuthFailure', 'The signing certificate is not valid now.');
    expect(got.code).to.equal('InternalError');
    expect(got.message).to.not.include('signing certificate');
  });

  it("passes on what a refusal means in the frontend's words, never the node's message", async () => {
    for (const code of ['VolumeInUse', 'InvalidParameterValue', 'Unavailable', 'InvalidInstanceID.NotFound'] as const) {
      const got = await passedOn(code, `node secret detail for ${code}`);
      expect(got.code, code).to.equal(code);
      expect(got.message, code).to.not.include('node secret detail');
    }
    const other = await passedOn('IncorrectState', 'node secret detail');
    expect(other.code).to.equal('InternalError');
  });
});
