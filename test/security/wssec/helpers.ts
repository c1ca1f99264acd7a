/**
 * Fixtures for the WS-Security tests: one CA, an enrolled user (alice), an unenrolled one issued by
 * the same CA (mallory), a self-signed impostor who copies alice's name, a service with an EC P-256
 * certificate (as ensureServiceTls issues them) and one with an RSA certificate (as it did before),
 * and the outcome of a request text as the service would see it (parseEnvelope, then
 * verifySignedEnvelope). Keys are made once per run: RSA key generation is the slow part of these tests.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isVbsError } from '../../../src/core/errors.js';
import {
  createCa,
  generateKeyPair,
  issueCertificate,
  type CaMaterial,
} from '../../../src/security/ca/certificate-authority.js';
import { parseEnvelope } from '../../../src/soap/envelope.js';
import { MemoryReplayCache, type ReplayCache } from '../../../src/security/wssec/replay-cache.js';
import { FingerprintTrustStore } from '../../../src/security/wssec/trust-store.js';
import { verifySignedEnvelope, type VerifyOptions } from '../../../src/security/wssec/verify.js';
import { REPO_ROOT } from '../../support/repo.js';

export const EC2_NS = 'http://ec2.amazonaws.com/doc/2010-08-31/';
export const FRONTEND_WSDL = join(REPO_ROOT, 'wsdl', 'frontend.wsdl');
export const HELPERS_DIR = join(REPO_ROOT, 'test', 'security', 'wssec');
export const PYTHON = '/usr/bin/python3';

export const CREATE_VOLUME = `<t:CreateVolume xmlns:t="${EC2_NS}"><t:size>1</t:size><t:availabilityZone>zone-a</t:availabilityZone></t:CreateVolume>`;

export interface Identity {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface Fixtures {
  readonly ca: CaMaterial;
  /** Enrolled in `store` as user "alice". */
  readonly alice: Identity;
  /** Issued by the same CA, never enrolled. */
  readonly mallory: Identity;
  /** Self-signed, subject CN=alice: the same name as the enrolled user, another key. */
  readonly impostor: Identity;
  /** A service's own identity (server certificate, EC P-256), for signed answers. */
  readonly service: Identity;
  /** The same with an RSA-2048 key: a service certificate issued before services moved to EC. */
  readonly rsaService: Identity;
  readonly store: FingerprintTrustStore;
}

let made: Fixtures | undefined;

function client(ca: CaMaterial, commonName: string): Identity {
  const pair = generateKeyPair();
  const { certPem } = issueCertificate(ca, { commonName, publicKeyPem: pair.publicKeyPem, usage: 'client' });
  return { certPem, keyPem: pair.privateKeyPem };
}

export function fixtures(): Fixtures {
  if (!made) {
    const ca = createCa('VBS test CA');
    const alice = client(ca, 'alice');
    const mallory = client(ca, 'mallory');
    // createCa makes a self-signed certificate whose subject is exactly the name given.
    const impostor = createCa('alice');
    const serviceOf = (kind: 'rsa' | 'ec-p256'): Identity => {
      const pair = generateKeyPair(kind);
      const { certPem } = issueCertificate(ca, {
        commonName: 'frontend',
        publicKeyPem: pair.publicKeyPem,
        usage: 'server',
        dnsNames: ['localhost'],
      });
      return { certPem, keyPem: pair.privateKeyPem };
    };
    const store = new FingerprintTrustStore();
    store.add(alice.certPem, 'alice');
    made = { ca, alice, mallory, impostor, service: serviceOf('ec-p256'), rsaService: serviceOf('rsa'), store };
  }
  return made;
}

/**
 * A replay cache of a service that started a little before the test's messages were signed, as a
 * real one does. A cache made just now would refuse ("signed before this service started") a message
 * whose whole-second Created (zeep, node-soap) lies in the previous second, which happens whenever a
 * tool's run crosses a second boundary. Tests of that rule make their own MemoryReplayCache.
 */
function runningCache(): ReplayCache {
  const cache = new MemoryReplayCache();
  return { record: (key, expiresAt, owner) => cache.record(key, expiresAt, owner), since: cache.since - 5_000 };
}

export function options(overrides: Partial<VerifyOptions> = {}): VerifyOptions {
  return {
    resolveCertificate: fixtures().store.resolve,
    now: () => new Date(),
    clockSkewSeconds: 30,
    replayCache: runningCache(),
    ...overrides,
  };
}

/** "accepted:<user>" or "<code>: <message>", as a client of the service would learn it. */
export function outcome(text: string, opts: VerifyOptions = options()): string {
  try {
    return `accepted:${verifySignedEnvelope(parseEnvelope(text), opts).userId}`;
  } catch (e) {
    if (isVbsError(e)) return `${e.code}: ${e.message}`;
    throw e;
  }
}

/** Writes files into a fresh temporary folder for a command-line tool; `done` removes it. */
export function scratch(files: Record<string, string>): {
  dir: string;
  path: (name: string) => string;
  done: () => void;
} {
  const dir = mkdtempSync(join(tmpdir(), 'vbs-wssec-'));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return { dir, path: (name) => join(dir, name), done: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The base64 body of a PEM certificate, as a BinarySecurityToken carries it. */
export function tokenOf(certPem: string): string {
  return certPem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
}
