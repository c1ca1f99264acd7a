/**
 * Proof that an answer came from the frontend: every answer, faults too, must be a WS-Security
 * envelope signed with one of the frontend's service certificates: HOME/certs/frontend.rsa.pem (RSA)
 * for a request signed with RSA, HOME/certs/frontend.pem (EC P-256) otherwise. Checked twice, by
 * VBS's own verifier with a trust store holding only that certificate, and by the xmlsec1 command
 * line, an independent implementation, so that a bug shared by signer and verifier cannot hide.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { isVbsError } from '../../../src/core/errors.js';
import { parseEnvelope } from '../../../src/soap/envelope.js';
import { FingerprintTrustStore } from '../../../src/security/wssec/trust-store.js';
import { verifySignedEnvelope } from '../../../src/security/wssec/verify.js';

const run = promisify(execFile);

/** The frontend's EC P-256 certificate: TLS, its calls, and answers to requests not signed with RSA. */
export function frontendCertPem(home: string): string {
  return readFileSync(join(home, 'certs', 'frontend.pem'), 'utf8');
}

/** The frontend's RSA certificate: what signs its answers to requests signed with RSA (every user's). */
export function frontendRsaCertPem(home: string): string {
  return readFileSync(join(home, 'certs', 'frontend.rsa.pem'), 'utf8');
}

/** The signer's user ID when VBS's verifier accepts `xml` as signed by `certPem`; else the refusal. */
export function signedBy(xml: string, certPem: string): string {
  const store = new FingerprintTrustStore();
  store.add(certPem, 'signer');
  try {
    const sender = verifySignedEnvelope(parseEnvelope(xml), {
      resolveCertificate: store.resolve,
      now: () => new Date(),
      clockSkewSeconds: 60, // An answer is checked once, whenever it arrived: no replay question, no start time.
      replayCache: { record: () => 'new', since: 0 },
    });
    return `signed:${sender.userId}`;
  } catch (e) {
    if (isVbsError(e)) return `${e.code}: ${e.message}`;
    throw e;
  }
}

/** `xmlsec1 --verify` of `xml` with `certPem`'s key; true when it says OK. */
export async function xmlsec1Verifies(xml: string, certPem: string): Promise<boolean> {
  const dir = mkdtempSync(join(tmpdir(), 'vbs-e2e-xmlsec-'));
  try {
    writeFileSync(join(dir, 'msg.xml'), xml);
    writeFileSync(join(dir, 'cert.pem'), certPem);
    await run('xmlsec1', [
      '--verify',
      '--pubkey-cert-pem',
      join(dir, 'cert.pem'),
      '--id-attr:Id',
      'Body',
      '--id-attr:Id',
      'Timestamp',
      join(dir, 'msg.xml'),
    ]);
    return true;
  } catch {
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
