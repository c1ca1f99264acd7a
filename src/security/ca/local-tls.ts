/**
 * The TLS material of a VBS installation, kept under $VBS_HOME/certs: on first start the local CA
 * (ca.pem, ca-key.pem) and each service's certificate (<service>.pem, <service>-key.pem) are made
 * here; clients trust ca.pem only. What a service certificate holds, its key, when it is renewed and
 * the hosts it names by default are the service profile's (certs/profiles/service.json).
 *
 * Several services may start at once: every file is written to a temp file and renamed, so no one
 * reads half a file, and the CA key is published with link(), which fails if another process won
 * the race — the loser then loads the winner's CA. A service certificate is reissued when it is not
 * signed by the current CA, does not match its key, lacks a requested host, expires within the
 * profile's renewWithinDays, or holds another kind of key than the profile generates (EC P-256:
 * services sign every answer, and ECDSA P-256 costs a tenth of RSA-2048, so an installation's RSA
 * service certificates are replaced once, on their next start). A service that answers RSA signers
 * (the frontend) asks for a second certificate, <service>.rsa.pem, with the profile's forRsaPeers
 * key, kept and reissued by the same rules: clients that verify only RSA (stock gSOAP 2.8) can
 * check its answers to them.
 * One process per service name: two processes issuing the same service's pair at once may interleave
 * it, which the next start detects (key/cert mismatch) and repairs.
 */
import { X509Certificate, randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  fchmodSync,
  fsyncSync,
  linkSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { ensurePrivateDir } from '../../private-files.js';
import { keyKindOf, type KeyKind } from '../wssec/key-kind.js';
import {
  createCa,
  generateKeyPairFor,
  issueCertificate,
  keyMatchesCertificate,
  type CaMaterial,
} from './certificate-authority.js';
import { kindOfGenerated, type GeneratedKey, type ServiceHosts, type ServiceProfile } from './certificate-profile.js';
import { certificateProfiles } from './certificate-profiles.js';
import { SUBJECT_RULES } from './subject-rules.js';

export interface ServiceTls {
  caPem: string;
  certPem: string;
  keyPem: string;
  certPath: string;
  keyPath: string;
  caPath: string;
  /**
   * The service's second certificate, same CN and hosts, with the profile's forRsaPeers key
   * (<service>.rsa.pem, <service>.rsa-key.pem): made only when asked (ServiceTlsOptions.forRsaPeers)
   * and the profile names such a key. It signs answers to requests signed with RSA.
   */
  rsa?: ServiceKeyPair;
}

export interface ServiceKeyPair {
  readonly certPem: string;
  readonly keyPem: string;
  readonly certPath: string;
  readonly keyPath: string;
}

export interface ServiceTlsOptions {
  /** Also the certificate for answering RSA signers (the frontend's users): see ServiceTls.rsa. */
  readonly forRsaPeers?: boolean;
}

const CA_COMMON_NAME = 'VBS local CA';
const DAY_MS = 86_400_000;
/** How long to wait for another process to finish publishing the CA it just created. */
const CA_WAIT_MS = 10_000;

export function ensureLocalCa(certDir: string): CaMaterial {
  prepareDir(certDir);
  const certPath = join(certDir, 'ca.pem');
  const keyPath = join(certDir, 'ca-key.pem');
  if (!existsSync(keyPath)) {
    const ca = createCa(CA_COMMON_NAME);
    const tmpCert = writeTemp(certPath, ca.certPem, 0o644);
    const tmpKey = writeTemp(keyPath, ca.keyPem, 0o600);
    try {
      linkSync(tmpKey, keyPath); // atomic and exclusive: only one process publishes a CA key
      renameSync(tmpCert, certPath);
      return ca;
    } catch (err) {
      if (errorCode(err) !== 'EEXIST') throw err;
      // Another process created the CA meanwhile: load theirs below.
    } finally {
      rmSync(tmpKey, { force: true });
      rmSync(tmpCert, { force: true });
    }
  }
  return loadCa(certPath, keyPath);
}

/** `hosts` default: the service profile's defaultHosts. */
export function ensureServiceTls(
  certDir: string,
  serviceName: string,
  hosts?: ServiceHosts,
  options: ServiceTlsOptions = {},
): ServiceTls {
  const profile = certificateProfiles().service;
  // The service-name rule also keeps <name>.pem from colliding with a CA file or another service's key.
  SUBJECT_RULES[profile.subject.commonName](serviceName);
  const names = hosts ?? profile.defaultHosts;
  const ca = ensureLocalCa(certDir);
  const main = ensurePair(certDir, serviceName, serviceName, names, ca, profile, profile.key.generate);
  const forRsa = profile.key.forRsaPeers;
  return {
    caPem: ca.certPem,
    ...main,
    caPath: join(certDir, 'ca.pem'),
    // A service name holds no '.', so <name>.rsa never collides with another service's files.
    ...(options.forRsaPeers && forRsa
      ? { rsa: ensurePair(certDir, `${serviceName}.rsa`, serviceName, names, ca, profile, forRsa) }
      : {}),
  };
}

/** <stem>.pem and <stem>-key.pem for CN serviceName with a `generate` key: kept when current, else issued. */
function ensurePair(
  certDir: string,
  stem: string,
  serviceName: string,
  names: ServiceHosts,
  ca: CaMaterial,
  profile: ServiceProfile,
  generate: GeneratedKey,
): ServiceKeyPair {
  const certPath = join(certDir, `${stem}.pem`);
  const keyPath = join(certDir, `${stem}-key.pem`);
  const certPem = readIfExists(certPath);
  const keyPem = readIfExists(keyPath);
  if (
    certPem !== undefined &&
    keyPem !== undefined &&
    isCurrent(certPem, keyPem, ca, serviceName, names, profile, kindOfGenerated(generate))
  ) {
    fixKeyMode(keyPath);
    return { certPem, keyPem, certPath, keyPath };
  }
  const pair = generateKeyPairFor(generate);
  const issued = issueCertificate(ca, {
    commonName: serviceName,
    publicKeyPem: pair.publicKeyPem,
    usage: 'server',
    dnsNames: names.dnsNames,
    ipAddresses: names.ipAddresses,
  });
  publish(keyPath, pair.privateKeyPem, 0o600);
  publish(certPath, issued.certPem, 0o644);
  return { certPem: issued.certPem, keyPem: pair.privateKeyPem, certPath, keyPath };
}

function isCurrent(
  certPem: string,
  keyPem: string,
  ca: CaMaterial,
  serviceName: string,
  hosts: ServiceHosts,
  profile: ServiceProfile,
  kind: KeyKind,
): boolean {
  try {
    const cert = new X509Certificate(certPem);
    const caCert = new X509Certificate(ca.certPem);
    const now = Date.now();
    return (
      cert.checkIssued(caCert) &&
      cert.verify(caCert.publicKey) &&
      cert.subject === `CN=${serviceName}` &&
      keyKindOf(cert.publicKey) === kind &&
      Date.parse(cert.validFrom) <= now &&
      Date.parse(cert.validTo) - now > profile.lifetime.renewWithinDays * DAY_MS &&
      keyMatchesCertificate(keyPem, certPem) &&
      hosts.dnsNames.every((h) => cert.checkHost(h, { subject: 'never' }) !== undefined) &&
      hosts.ipAddresses.every((ip) => cert.checkIP(ip) !== undefined)
    );
  } catch {
    return false; // unreadable or corrupt: reissue
  }
}

/** Reads the CA; waits a little if another process is between publishing its key and its cert. */
function loadCa(certPath: string, keyPath: string): CaMaterial {
  const deadline = Date.now() + CA_WAIT_MS;
  for (;;) {
    const certPem = readIfExists(certPath);
    const keyPem = readIfExists(keyPath);
    if (certPem !== undefined && keyPem !== undefined && pairMatches(keyPem, certPem)) {
      const cert = new X509Certificate(certPem);
      if (!cert.ca) throw new Error(`${certPath} is not a CA certificate`);
      if (!(Date.parse(cert.validTo) > Date.now())) {
        throw new Error(
          `the local CA ${certPath} expired on ${cert.validTo}; remove ca.pem and ca-key.pem to make a new one`,
        );
      }
      fixKeyMode(keyPath);
      return { certPem, keyPem };
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${certPath} and ${keyPath} are missing or do not match; remove both to make a new CA ` +
          '(every certificate it issued becomes invalid)',
      );
    }
    sleepSync(50);
  }
}

function pairMatches(keyPem: string, certPem: string): boolean {
  try {
    return keyMatchesCertificate(keyPem, certPem);
  } catch {
    return false;
  }
}

/** The certificates' directory is VBS's own, and holds the keys: 0700 even if it was made looser. */
function prepareDir(dir: string): void {
  ensurePrivateDir(dir, { tighten: true });
}

function fixKeyMode(path: string): void {
  if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
}

/** Writes data to a fresh temp file beside `path` (O_EXCL: never through an existing file or link). */
function writeTemp(path: string, data: string, mode: number): string {
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', mode);
  try {
    fchmodSync(fd, mode);
    writeFileSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return tmp;
}

function publish(path: string, data: string, mode: number): void {
  const tmp = writeTemp(path, data, mode);
  try {
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

function errorCode(err: unknown): string | undefined {
  return err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
