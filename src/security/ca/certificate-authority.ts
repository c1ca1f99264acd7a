/**
 * The VBS certificate authority: every VBS channel is HTTPS, and every service and every enrolled
 * user holds a certificate issued here, so clients need to trust one thing only: the CA.
 *
 * What each certificate contains (the CA's own, a service's, a user's: key kinds, lifetimes,
 * extensions, the rule its CN follows) is not written here but in the certificate profiles,
 * certs/profiles/*.json (certs/README.md), read once by certificate-profiles.ts; this file issues
 * exactly what they say. What the profiles do not vary is fixed here: the subject is a single CN (a
 * UTF8String, within the X.520 bound), the serial is 128 random bits, and no certificate outlives
 * the CA that issued it.
 *
 * Keys come from Node's crypto.generateKeyPairSync (forge's JS keygen is far slower); forge writes
 * the fields and Node signs them (signed-certificate.ts). A user's certificate carries only the CN
 * (the user ID) from their CSR, so nothing else a user writes into a request can end up in a
 * certificate we sign.
 */
import {
  X509Certificate,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import forge from 'node-forge';
import { keyKindOf, MIN_RSA_BITS, type KeyKind } from '../wssec/key-kind.js';
import {
  KEY_KINDS,
  extensionOf,
  kindOfGenerated,
  type CertificateProfiles,
  type GeneratedKey,
  type Lifetime,
} from './certificate-profile.js';
import { certificateProfiles } from './certificate-profiles.js';
import { checkDnsName, checkIpAddress } from './host-names.js';
import { forgeExtensions, subjectKeyIdentifier } from './profile-extensions.js';
import { forgeDigest, signedCertificate } from './signed-certificate.js';
import { SUBJECT_RULES, checkCommonName } from './subject-rules.js';

export interface CaMaterial {
  certPem: string;
  keyPem: string;
}

export interface IssueRequest {
  commonName: string;
  publicKeyPem: string;
  /** server: the service profile (certs/profiles/service.json); client: the user profile. */
  usage: 'server' | 'client';
  dnsNames?: readonly string[];
  ipAddresses?: readonly string[];
  /** Default: the profile's lifetime.defaultDays. */
  validDays?: number;
}

export interface IssuedCertificate {
  certPem: string;
  /** Upper-case hex, as crypto.X509Certificate#serialNumber reports it. */
  serialHex: string;
}

export interface KeyPairPem {
  publicKeyPem: string;
  privateKeyPem: string;
}

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;
/** sha256/384/512 with RSA: what we accept on a CSR's self-signature. */
const CSR_SIGNATURE_OIDS = new Set(['1.2.840.113549.1.1.11', '1.2.840.113549.1.1.12', '1.2.840.113549.1.1.13']);

/** PKCS#8 private key and SPKI public key, PEM: RSA-2048 (the default) or EC P-256. */
export function generateKeyPair(kind: KeyKind = 'rsa'): KeyPairPem {
  return generateKeyPairFor(kind === 'rsa' ? { type: 'rsa', bits: MIN_RSA_BITS } : { type: 'ec', curve: 'P-256' });
}

/** A key pair as a profile's key.generate describes it. */
export function generateKeyPairFor(key: GeneratedKey): KeyPairPem {
  const publicKeyEncoding = { type: 'spki', format: 'pem' } as const;
  const privateKeyEncoding = { type: 'pkcs8', format: 'pem' } as const;
  const { publicKey, privateKey } =
    key.type === 'rsa'
      ? generateKeyPairSync('rsa', {
          modulusLength: key.bits,
          publicExponent: 0x10001,
          publicKeyEncoding,
          privateKeyEncoding,
        })
      : generateKeyPairSync('ec', { namedCurve: key.curve, publicKeyEncoding, privateKeyEncoding });
  return { publicKeyPem: publicKey, privateKeyPem: privateKey };
}

/** True when the private key is the one whose public half the certificate carries. */
export function keyMatchesCertificate(keyPem: string, certPem: string): boolean {
  const fromKey = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
  const fromCert = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return fromKey.equals(fromCert);
}

/** A new self-signed CA by the CA profile; `profiles` is for tests. */
export function createCa(
  commonName: string,
  validDays?: number,
  profiles: CertificateProfiles = certificateProfiles(),
): CaMaterial {
  const profile = profiles.ca;
  checkCommonName(commonName);
  SUBJECT_RULES[profile.subject.commonName](commonName);
  const days = validDays ?? profile.lifetime.defaultDays;
  checkDays(days, profile.lifetime);
  const { publicKeyPem, privateKeyPem } = generateKeyPairFor(profile.key.generate);
  const spki = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  const cert = forge.pki.createCertificate();
  cert.serialNumber = newSerial().serialNumber;
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  const now = Date.now();
  cert.validity.notBefore = new Date(now - profile.lifetime.backdateMinutes * MINUTE_MS);
  cert.validity.notAfter = new Date(now + days * DAY_MS);
  const name = [cnField(commonName)];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions(
    forgeExtensions(profile.extensions, {
      spki,
      keyKind: kindOfGenerated(profile.key.generate),
      issuerKeyIdentifier: subjectKeyIdentifier(spki),
      dnsNames: [],
      ipAddresses: [],
    }),
  );
  cert.sign(forge.pki.privateKeyFromPem(privateKeyPem), forgeDigest(profile.signatureAlgorithm));
  return { certPem: forge.pki.certificateToPem(cert), keyPem: privateKeyPem };
}

/** A certificate by the service or user profile, for the given key; `profiles` is for tests. */
export function issueCertificate(
  ca: CaMaterial,
  req: IssueRequest,
  profiles: CertificateProfiles = certificateProfiles(),
): IssuedCertificate {
  const profile = req.usage === 'server' ? profiles.service : profiles.user;
  checkCommonName(req.commonName);
  const validDays = req.validDays ?? profile.lifetime.defaultDays;
  checkDays(validDays, profile.lifetime);
  const subjectKey = checkSubjectKey(req.publicKeyPem, profile.key.accept);
  const dnsNames = req.dnsNames ?? [];
  const ipAddresses = req.ipAddresses ?? [];
  const named = dnsNames.length + ipAddresses.length > 0;
  if (extensionOf(profile, 'subjectAltName') === undefined) {
    if (named) throw new Error(`${req.usage} certificates carry no DNS names or IP addresses`);
  } else if (!named) {
    throw new Error(`a ${req.usage} certificate needs at least one DNS name or IP address`);
  }
  for (const d of dnsNames) checkDnsName(d);
  for (const ip of ipAddresses) checkIpAddress(ip);

  const { caCert, caKey, caNotAfter } = loadCa(ca);
  const cert = forge.pki.createCertificate();
  const { serialNumber, serialHex } = newSerial();
  cert.serialNumber = serialNumber;
  // A stand-in that forge can write; signedCertificate puts the subject's key in its place.
  cert.publicKey = caCert.publicKey;
  const spki = subjectKey.key.export({ type: 'spki', format: 'der' });
  const now = Date.now();
  cert.validity.notBefore = new Date(now - profile.lifetime.backdateMinutes * MINUTE_MS);
  // A certificate must not outlive the CA that vouches for it.
  cert.validity.notAfter = new Date(Math.min(now + validDays * DAY_MS, caNotAfter));
  cert.setSubject([cnField(req.commonName)]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions(
    forgeExtensions(profile.extensions, {
      spki,
      keyKind: subjectKey.kind,
      issuerKeyIdentifier: caKeyIdentifier(caCert),
      dnsNames,
      ipAddresses,
    }),
  );
  const certPem = signedCertificate(cert, spki, profiles.ca.signatureAlgorithm, caKey, ca.certPem);
  return { certPem, serialHex };
}

/**
 * Enrolls a user: checks the CSR's self-signature (proof that the requester holds the key) and
 * issues a client certificate for its CN and public key. Every other part of the request subject,
 * and every requested extension, is ignored.
 */
export function signCsr(ca: CaMaterial, csrPem: string, usage: 'client', validDays?: number): IssuedCertificate {
  let csr: forge.pki.CertificateSigningRequest;
  try {
    csr = forge.pki.certificationRequestFromPem(csrPem);
  } catch (err) {
    throw new Error(`CSR refused: cannot parse it (${err instanceof Error ? err.message : String(err)})`, {
      cause: err,
    });
  }
  if (csr.signatureOid === null || !CSR_SIGNATURE_OIDS.has(csr.signatureOid)) {
    throw new Error('CSR refused: its signature algorithm is not RSA with SHA-256/384/512');
  }
  if (!selfSignatureVerifies(csr) || csr.publicKey === null)
    throw new Error('CSR refused: its signature does not verify');
  const cns = csr.subject.attributes.filter((a) => a.shortName === 'CN' || a.type === '2.5.4.3');
  const cn = cns[0]?.value;
  if (cns.length !== 1 || typeof cn !== 'string' || cn.length === 0) {
    throw new Error('CSR refused: its subject must have exactly one non-empty CN (the user ID)');
  }
  const publicKeyPem = forge.pki.publicKeyToPem(csr.publicKey);
  return issueCertificate(ca, {
    commonName: cn,
    publicKeyPem,
    usage,
    ...(validDays === undefined ? {} : { validDays }),
  });
}

/** forge throws, rather than answering false, on a signature it cannot even check. */
function selfSignatureVerifies(csr: forge.pki.CertificateSigningRequest): boolean {
  try {
    return csr.verify();
  } catch {
    return false;
  }
}

function loadCa(ca: CaMaterial): { caCert: forge.pki.Certificate; caKey: KeyObject; caNotAfter: number } {
  const x509 = new X509Certificate(ca.certPem);
  if (!x509.ca) throw new Error('the CA certificate is not a CA (basicConstraints cA is not set)');
  if (!keyMatchesCertificate(ca.keyPem, ca.certPem)) throw new Error('the CA key does not match the CA certificate');
  const caNotAfter = Date.parse(x509.validTo);
  if (!(caNotAfter > Date.now())) throw new Error(`the CA certificate expired on ${x509.validTo}`);
  const caKey = createPrivateKey(ca.keyPem);
  // The CA signs with the CA profile's signatureAlgorithm, which is RSA (profile-invariants.ts).
  if (caKey.asymmetricKeyType !== 'rsa') throw new Error('the CA key must be RSA');
  return { caCert: forge.pki.certificateFromPem(ca.certPem), caKey, caNotAfter };
}

/** The CA's own subjectKeyIdentifier (as bytes), so that authorityKeyIdentifier matches it. */
function caKeyIdentifier(caCert: forge.pki.Certificate): string {
  // forge reads the extension's value into a hex string property of the same name.
  const ext = caCert.getExtension('subjectKeyIdentifier');
  const hex = ext !== undefined && 'subjectKeyIdentifier' in ext ? ext.subjectKeyIdentifier : undefined;
  return typeof hex === 'string' ? forge.util.hexToBytes(hex) : caCert.generateSubjectKeyIdentifier().getBytes();
}

/** A positive 128-bit serial: 16 random bytes, top bit set, DER needs a leading 00 octet. */
function newSerial(): { serialNumber: string; serialHex: string } {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) | 0x80;
  const hex = bytes.toString('hex');
  return { serialNumber: `00${hex}`, serialHex: hex.toUpperCase() };
}

/** CN as a UTF8String (forge's default, PrintableString, cannot hold '@', '_' and the like). */
function cnField(value: string): forge.pki.CertificateField {
  // @types/node-forge types valueTagClass as asn1.Class, but forge reads it as an asn1.Type.
  return { shortName: 'CN', value, valueTagClass: forge.asn1.Type.UTF8 as unknown as forge.asn1.Class };
}

/** Within the profile's bound (and never fractional days). */
function checkDays(days: number, lifetime: Lifetime): void {
  if (!Number.isInteger(days) || days < 1 || days > lifetime.maxDays) throw new Error(`invalid validity: ${days} days`);
}

/** The subject key, if it is of a kind the profile accepts (key.accept). */
function checkSubjectKey(publicKeyPem: string, accept: readonly KeyKind[]): { key: KeyObject; kind: KeyKind } {
  const key = createPublicKey(publicKeyPem);
  const kind = keyKindOf(key);
  if (kind === undefined || !accept.includes(kind)) {
    throw new Error(`the subject key must be ${accept.map((k) => KEY_KINDS[k]).join(' or ')}`);
  }
  return { key, kind };
}
