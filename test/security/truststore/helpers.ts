/**
 * Certificates the VBS CA would never issue, for the trust store tests: self-signed ones, ones from
 * another CA, ones with chosen dates or no CN. Built with node-forge (keys from Node's crypto).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { generateKeyPair, type CaMaterial } from '../../../src/security/ca/certificate-authority.js';

export const DAY_MS = 86_400_000;

export interface MadeCertificate {
  readonly certPem: string;
  readonly keyPem: string;
  readonly der: Buffer;
}

export interface MakeOptions {
  /** Omit for a subject without CN (O=VBS test only). */
  readonly cn?: string;
  /** Signed by this CA; self-signed when omitted. */
  readonly issuer?: CaMaterial;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  readonly serverAuth?: boolean;
}

export function makeCertificate(options: MakeOptions = {}): MadeCertificate {
  const pair = generateKeyPair();
  const cert = forge.pki.createCertificate();
  cert.serialNumber = `01${forge.util.bytesToHex(forge.random.getBytesSync(8))}`;
  cert.publicKey = forge.pki.publicKeyFromPem(pair.publicKeyPem);
  cert.validity.notBefore = options.notBefore ?? new Date(Date.now() - 60_000);
  cert.validity.notAfter = options.notAfter ?? new Date(Date.now() + 30 * DAY_MS);
  const subject: forge.pki.CertificateField[] = [{ shortName: 'O', value: 'VBS test' }];
  if (options.cn !== undefined) subject.push({ shortName: 'CN', value: options.cn });
  cert.setSubject(subject);
  const issuer = options.issuer;
  cert.setIssuer(issuer ? forge.pki.certificateFromPem(issuer.certPem).subject.attributes : subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'extKeyUsage', clientAuth: true, serverAuth: options.serverAuth === true },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(issuer ? issuer.keyPem : pair.privateKeyPem), forge.md.sha256.create());
  const certPem = forge.pki.certificateToPem(cert);
  const der = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary');
  return { certPem, keyPem: pair.privateKeyPem, der };
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
