/**
 * The VBS certificate authority: every VBS channel is HTTPS, and every service and (later) every
 * enrolled user holds a certificate issued here, so clients need to trust one thing only: the CA.
 *
 * node-forge builds and signs the certificates (Node's crypto cannot), but RSA keys come from
 * Node's crypto.generateKeyPairSync (forge's JS keygen is far slower), and all checks of what we
 * load use crypto.X509Certificate, never forge's chain verification (see guides/security.md).
 * A user's certificate carries only the CN (the user ID) from their CSR, so nothing else a user
 * writes into a request can end up in a certificate we sign.
 */
import { X509Certificate, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';

export interface CaMaterial {
  certPem: string;
  keyPem: string;
}

export interface IssueRequest {
  commonName: string;
  publicKeyPem: string;
  usage: 'server' | 'client';
  dnsNames?: string[];
  ipAddresses?: string[];
  validDays?: number;
}

export interface IssuedCertificate {
  certPem: string;
  /** Upper-case hex, as crypto.X509Certificate#serialNumber reports it. */
  serialHex: string;
}

const DAY_MS = 86_400_000;
/** Backdating notBefore tolerates small clock differences between hosts. */
const BACKDATE_MS = 5 * 60_000;
const DEFAULT_ISSUE_DAYS = 365;
const MIN_RSA_BITS = 2048;
/** sha256/384/512 with RSA: what we accept on a CSR's self-signature. */
const CSR_SIGNATURE_OIDS = new Set(['1.2.840.113549.1.1.11', '1.2.840.113549.1.1.12', '1.2.840.113549.1.1.13']);
const DNS_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** PKCS#8 private key and SPKI public key, PEM. */
export function generateKeyPair(): { publicKeyPem: string; privateKeyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicExponent: 0x10001,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { publicKeyPem: publicKey, privateKeyPem: privateKey };
}

/** True when the private key is the one whose public half the certificate carries. */
export function keyMatchesCertificate(keyPem: string, certPem: string): boolean {
  const fromKey = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
  const fromCert = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return fromKey.equals(fromCert);
}

export function createCa(commonName: string, validDays = 3650): CaMaterial {
  checkCommonName(commonName);
  checkDays(validDays);
  const { publicKeyPem, privateKeyPem } = generateKeyPair();
  const cert = forge.pki.createCertificate();
  const { serialNumber } = newSerial();
  cert.serialNumber = serialNumber;
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  const now = Date.now();
  cert.validity.notBefore = new Date(now - BACKDATE_MS);
  cert.validity.notAfter = new Date(now + validDays * DAY_MS);
  const name = [cnField(commonName)];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(privateKeyPem), forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: privateKeyPem };
}

export function issueCertificate(ca: CaMaterial, req: IssueRequest): IssuedCertificate {
  checkCommonName(req.commonName);
  const validDays = req.validDays ?? DEFAULT_ISSUE_DAYS;
  checkDays(validDays);
  checkSubjectKey(req.publicKeyPem);
  const dnsNames = req.dnsNames ?? [];
  const ipAddresses = req.ipAddresses ?? [];
  if (req.usage === 'client' && dnsNames.length + ipAddresses.length > 0) {
    throw new Error('client certificates carry no DNS names or IP addresses');
  }
  if (req.usage === 'server' && dnsNames.length + ipAddresses.length === 0) {
    throw new Error('a server certificate needs at least one DNS name or IP address');
  }
  for (const d of dnsNames) checkDnsName(d);
  for (const ip of ipAddresses) if (isIP(ip) === 0) throw new Error(`not an IP address: ${JSON.stringify(ip)}`);

  const { caCert, caKey, caNotAfter } = loadCa(ca);
  const cert = forge.pki.createCertificate();
  const { serialNumber, serialHex } = newSerial();
  cert.serialNumber = serialNumber;
  cert.publicKey = forge.pki.publicKeyFromPem(req.publicKeyPem);
  const now = Date.now();
  cert.validity.notBefore = new Date(now - BACKDATE_MS);
  // A certificate must not outlive the CA that vouches for it.
  cert.validity.notAfter = new Date(Math.min(now + validDays * DAY_MS, caNotAfter));
  cert.setSubject([cnField(req.commonName)]);
  cert.setIssuer(caCert.subject.attributes);
  const extensions: object[] = [
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caKeyIdentifier(caCert) },
  ];
  if (req.usage === 'server') {
    extensions.push(
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      // clientAuth too: services also authenticate what they send to each other.
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          ...dnsNames.map((value) => ({ type: 2, value })),
          ...ipAddresses.map((ip) => ({ type: 7, ip })),
        ],
      },
    );
  } else {
    extensions.push(
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', clientAuth: true },
    );
  }
  cert.setExtensions(extensions);
  cert.sign(caKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), serialHex };
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
    throw new Error(`CSR refused: cannot parse it (${err instanceof Error ? err.message : String(err)})`);
  }
  if (csr.signatureOid === null || !CSR_SIGNATURE_OIDS.has(csr.signatureOid)) {
    throw new Error('CSR refused: its signature algorithm is not RSA with SHA-256/384/512');
  }
  let signatureOk = false;
  try {
    signatureOk = csr.verify();
  } catch {
    signatureOk = false;
  }
  if (!signatureOk || csr.publicKey === null) throw new Error('CSR refused: its signature does not verify');
  const cns = csr.subject.attributes.filter((a) => a.shortName === 'CN' || a.type === '2.5.4.3');
  const cn = cns[0]?.value;
  if (cns.length !== 1 || typeof cn !== 'string' || cn.length === 0) {
    throw new Error('CSR refused: its subject must have exactly one non-empty CN (the user ID)');
  }
  const publicKeyPem = forge.pki.publicKeyToPem(csr.publicKey);
  return issueCertificate(ca, { commonName: cn, publicKeyPem, usage, ...(validDays === undefined ? {} : { validDays }) });
}

function loadCa(ca: CaMaterial): { caCert: forge.pki.Certificate; caKey: forge.pki.rsa.PrivateKey; caNotAfter: number } {
  const x509 = new X509Certificate(ca.certPem);
  if (!x509.ca) throw new Error('the CA certificate is not a CA (basicConstraints cA is not set)');
  if (!keyMatchesCertificate(ca.keyPem, ca.certPem)) throw new Error('the CA key does not match the CA certificate');
  const caNotAfter = Date.parse(x509.validTo);
  if (!(caNotAfter > Date.now())) throw new Error(`the CA certificate expired on ${x509.validTo}`);
  return {
    caCert: forge.pki.certificateFromPem(ca.certPem),
    caKey: forge.pki.privateKeyFromPem(ca.keyPem),
    caNotAfter,
  };
}

/** The CA's own subjectKeyIdentifier (as bytes), so that authorityKeyIdentifier matches it. */
function caKeyIdentifier(caCert: forge.pki.Certificate): string {
  const ext = caCert.getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier?: unknown } | undefined;
  return typeof ext?.subjectKeyIdentifier === 'string'
    ? forge.util.hexToBytes(ext.subjectKeyIdentifier)
    : caCert.generateSubjectKeyIdentifier().getBytes();
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

function checkCommonName(cn: string): void {
  // 64: the X.520 upper bound for a common name.
  if (cn.length === 0 || cn.length > 64 || /[\p{Cc}]/u.test(cn)) {
    throw new Error(`invalid common name: ${JSON.stringify(cn)} (1 to 64 characters, no control characters)`);
  }
}

function checkDays(days: number): void {
  if (!Number.isInteger(days) || days < 1 || days > 36_500) throw new Error(`invalid validity: ${days} days`);
}

function checkDnsName(name: string): void {
  if (name.length > 253 || !name.split('.').every((label) => DNS_LABEL.test(label))) {
    throw new Error(`not a DNS name: ${JSON.stringify(name)}`);
  }
}

function checkSubjectKey(publicKeyPem: string): void {
  const key = createPublicKey(publicKeyPem);
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (key.asymmetricKeyType !== 'rsa' || bits < MIN_RSA_BITS) {
    throw new Error(`the subject key must be RSA of at least ${MIN_RSA_BITS} bits`);
  }
}
