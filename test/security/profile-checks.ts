/**
 * Checks an issued certificate against a certificate profile, reading the certificate with readers
 * other than the one that wrote it: openssl (the extensions in order, their criticality, key usage
 * bits, identifiers, the signature algorithm) and Node's X509Certificate (subject, EKU OIDs, names,
 * dates, key). The expected values come from the profile; what openssl calls each thing is this
 * file's own knowledge, not the CA's.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { X509Certificate, createHash, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  EXTENDED_KEY_USAGE_OIDS,
  KEY_USAGES,
  type CaProfile,
  type ExtensionName,
  type KeyUsage,
  type ServiceProfile,
  type UserProfile,
} from '../../src/security/ca/certificate-profile.js';
import { keyKindOf } from '../../src/security/wssec/key-kind.js';

export const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;

const OPENSSL_LABELS: Readonly<Record<ExtensionName, string>> = {
  basicConstraints: 'X509v3 Basic Constraints',
  keyUsage: 'X509v3 Key Usage',
  extKeyUsage: 'X509v3 Extended Key Usage',
  subjectKeyIdentifier: 'X509v3 Subject Key Identifier',
  authorityKeyIdentifier: 'X509v3 Authority Key Identifier',
  subjectAltName: 'X509v3 Subject Alternative Name',
};

const OPENSSL_KEY_USAGES: Readonly<Record<KeyUsage, string>> = {
  digitalSignature: 'Digital Signature',
  nonRepudiation: 'Non Repudiation',
  keyEncipherment: 'Key Encipherment',
  dataEncipherment: 'Data Encipherment',
  keyAgreement: 'Key Agreement',
  keyCertSign: 'Certificate Sign',
  cRLSign: 'CRL Sign',
  encipherOnly: 'Encipher Only',
  decipherOnly: 'Decipher Only',
};

export interface OpensslExtension {
  readonly label: string;
  readonly critical: boolean;
  readonly value: string;
}

export interface OpensslView {
  readonly extensions: readonly OpensslExtension[];
  readonly signatureAlgorithm: string;
}

/** `openssl x509 -text`, cut into its extensions (in order) and its signature algorithm. */
export function opensslView(certPem: string): OpensslView {
  const dir = mkdtempSync(join(tmpdir(), 'vbs-profile-check-'));
  let text: string;
  try {
    writeFileSync(join(dir, 'cert.pem'), certPem, { mode: 0o600 });
    text = execFileSync('openssl', ['x509', '-in', join(dir, 'cert.pem'), '-noout', '-text'], { encoding: 'utf8' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trim() === 'X509v3 extensions:');
  const extensions: { label: string; critical: boolean; value: string }[] = [];
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith('            ')) break; // the extensions end where the indentation does
    const header = /^ {12}(\S.*?):( critical)?\s*$/.exec(line);
    if (header?.[1] !== undefined) extensions.push({ label: header[1], critical: header[2] !== undefined, value: '' });
    else {
      const last = extensions[extensions.length - 1];
      if (last) last.value = [last.value, line.trim()].filter((v) => v !== '').join(' ');
    }
  }
  const signatureAlgorithm = /^ {4}Signature Algorithm: (\S+)$/m.exec(text)?.[1] ?? '';
  return { extensions: start < 0 ? [] : extensions, signatureAlgorithm };
}

/** RFC 5280 4.2.1.2 method 1 computed from Node's view of the key, as openssl prints it. */
export function keyIdentifierOf(key: KeyObject): string {
  let bits: Buffer;
  if (key.asymmetricKeyType === 'rsa') {
    bits = key.export({ type: 'pkcs1', format: 'der' });
  } else {
    const jwk = key.export({ format: 'jwk' });
    bits = Buffer.concat([
      Buffer.from([4]),
      Buffer.from(jwk.x ?? '', 'base64url'),
      Buffer.from(jwk.y ?? '', 'base64url'),
    ]);
  }
  return createHash('sha1')
    .update(bits)
    .digest('hex')
    .toUpperCase()
    .replace(/(..)(?!$)/g, '$1:');
}

export interface Expected {
  readonly commonName: string;
  /** The issuer's certificate; the certificate itself for the CA. */
  readonly issuer: X509Certificate;
  /** The CA profile: how every certificate is signed. */
  readonly ca: CaProfile;
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  /** Asked for; the profile's defaultDays otherwise. */
  readonly validDays?: number;
  /** When it was issued (ms), to check notBefore. */
  readonly issuedAt: number;
}

/** Everything the profile says, checked on the certificate. */
export function expectFollowsProfile(
  certPem: string,
  profile: CaProfile | ServiceProfile | UserProfile,
  expected: Expected,
): void {
  const cert = new X509Certificate(certPem);
  const view = opensslView(certPem);
  expect(cert.subject, 'subject: a CN only').to.equal(`CN=${expected.commonName}`);
  expect(cert.issuer, 'issuer').to.equal(expected.issuer.subject);
  expect(view.signatureAlgorithm, 'signature algorithm').to.equal(expected.ca.signatureAlgorithm);

  const { lifetime } = profile;
  const days = expected.validDays ?? lifetime.defaultDays;
  const notBefore = Date.parse(cert.validFrom);
  const notAfter = Date.parse(cert.validTo);
  // X.509 times are whole seconds: notBefore may be up to a second before the exact backdated time.
  const backdated = expected.issuedAt - lifetime.backdateMinutes * MINUTE_MS;
  expect(notBefore, 'notBefore: backdated by the profile').to.be.within(backdated - 2_000, backdated + 5_000);
  const wanted = notBefore + days * DAY_MS + lifetime.backdateMinutes * MINUTE_MS;
  const issuerEnds = Date.parse(expected.issuer.validTo);
  expect(notAfter, 'notAfter: the lifetime, or the issuer end').to.be.within(
    Math.min(wanted, issuerEnds) - 2_000,
    Math.min(wanted, issuerEnds) + 2_000,
  );

  const keyKind = keyKindOf(cert.publicKey);
  expect(keyKind, 'a key of a kind VBS knows').to.not.equal(undefined);
  if ('accept' in profile.key) expect(profile.key.accept, 'key accepted by the profile').to.include(keyKind);

  expect(
    view.extensions.map((e) => [e.label, e.critical]),
    'the extensions, in order, and which are critical',
  ).to.deep.equal(profile.extensions.map((e) => [OPENSSL_LABELS[e.name], e.critical]));

  for (const [i, e] of profile.extensions.entries()) {
    const value = view.extensions[i]?.value;
    switch (e.name) {
      case 'basicConstraints':
        expect(value, e.name).to.equal(`CA:${e.ca ? 'TRUE' : 'FALSE'}`);
        expect(cert.ca, 'X509Certificate#ca').to.equal(e.ca);
        break;
      case 'keyUsage': {
        const bits = new Set([...e.usages, ...(keyKind === 'rsa' ? e.forRsaKeys : [])]);
        const printed = KEY_USAGES.filter((u) => bits.has(u)).map((u) => OPENSSL_KEY_USAGES[u]);
        expect(value, e.name).to.equal(printed.join(', '));
        break;
      }
      case 'extKeyUsage':
        // Node calls the extended key usages keyUsage.
        expect(cert.keyUsage, e.name).to.deep.equal(e.purposes.map((p) => EXTENDED_KEY_USAGE_OIDS[p]));
        break;
      case 'subjectKeyIdentifier':
        expect(value, e.name).to.equal(keyIdentifierOf(cert.publicKey));
        break;
      case 'authorityKeyIdentifier':
        expect(value, e.name).to.equal(keyIdentifierOf(expected.issuer.publicKey));
        break;
      case 'subjectAltName': {
        const names = [
          ...(expected.dnsNames ?? []).map((d) => `DNS:${d}`),
          ...(expected.ipAddresses ?? []).map((ip) => `IP Address:${ip}`),
        ];
        expect(cert.subjectAltName, e.name).to.equal(names.join(', '));
        break;
      }
    }
  }
  if (!profile.extensions.some((e) => e.name === 'subjectAltName')) {
    expect(cert.subjectAltName, 'no subjectAltName').to.equal(undefined);
  }
}
