/**
 * The VBS certificate authority: every VBS channel is HTTPS, and every service and (later) every
 * enrolled user holds a certificate issued here, so clients need to trust one thing only: the CA.
 *
 * The CA itself is RSA. Services hold EC P-256 keys (signing every answer with ECDSA costs a tenth of
 * RSA-2048) or, from older installations, RSA; users hold RSA keys of at least 2048 bits (enrollment
 * by CSR reads the request with node-forge, which knows RSA only).
 *
 * node-forge writes the certificate's fields (Node's crypto cannot), but it can only write an RSA
 * SubjectPublicKeyInfo: the subject's own, as Node exports it, is put in its place, and the
 * TBSCertificate is signed with Node's crypto. Keys come from Node's crypto.generateKeyPairSync
 * (forge's JS keygen is far slower), and every certificate issued is read back and checked with
 * crypto.X509Certificate, never forge's chain verification (see guides/security.md). A user's
 * certificate carries only the CN (the user ID) from their CSR, so nothing else a user writes into a
 * request can end up in a certificate we sign.
 */
import {
  X509Certificate,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  hash,
  randomBytes,
  sign,
  type KeyObject,
} from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';
import { describeKeyKind, keyKindOf, MIN_RSA_BITS, type KeyKind } from '../wssec/key-kind.js';

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
const SHA256_WITH_RSA = '1.2.840.113549.1.1.11';
/** forge.pki.getTBSCertificate exists (forge's own cert.sign uses it) but @types/node-forge omits it. */
const forgeTbs = forge.pki as unknown as { getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1 };
/** sha256/384/512 with RSA: what we accept on a CSR's self-signature. */
const CSR_SIGNATURE_OIDS = new Set(['1.2.840.113549.1.1.11', '1.2.840.113549.1.1.12', '1.2.840.113549.1.1.13']);
const DNS_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** PKCS#8 private key and SPKI public key, PEM: RSA-2048 (the default) or EC P-256. */
export function generateKeyPair(kind: KeyKind = 'rsa'): { publicKeyPem: string; privateKeyPem: string } {
  const publicKeyEncoding = { type: 'spki', format: 'pem' } as const;
  const privateKeyEncoding = { type: 'pkcs8', format: 'pem' } as const;
  const { publicKey, privateKey } =
    kind === 'rsa'
      ? generateKeyPairSync('rsa', {
          modulusLength: MIN_RSA_BITS,
          publicExponent: 0x10001,
          publicKeyEncoding,
          privateKeyEncoding,
        })
      : generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding, privateKeyEncoding });
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
  const subjectKey = checkSubjectKey(req.publicKeyPem, req.usage);
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
  // A stand-in that forge can write; signedCertificate puts the subject's key in its place.
  cert.publicKey = caCert.publicKey;
  const subjectSpki = subjectKey.key.export({ type: 'spki', format: 'der' });
  const now = Date.now();
  cert.validity.notBefore = new Date(now - BACKDATE_MS);
  // A certificate must not outlive the CA that vouches for it.
  cert.validity.notAfter = new Date(Math.min(now + validDays * DAY_MS, caNotAfter));
  cert.setSubject([cnField(req.commonName)]);
  cert.setIssuer(caCert.subject.attributes);
  const extensions: object[] = [
    { name: 'basicConstraints', cA: false, critical: true },
    {
      name: 'subjectKeyIdentifier',
      value: forge.asn1.create(
        forge.asn1.Class.UNIVERSAL,
        forge.asn1.Type.OCTETSTRING,
        false,
        subjectKeyIdentifier(subjectSpki),
      ),
    },
    { name: 'authorityKeyIdentifier', keyIdentifier: caKeyIdentifier(caCert) },
  ];
  if (req.usage === 'server') {
    extensions.push(
      // keyEncipherment is RSA key transport; an EC key only signs (RFC 5480 section 3).
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: subjectKey.kind === 'rsa', critical: true },
      // clientAuth too: services also authenticate what they send to each other.
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
      {
        name: 'subjectAltName',
        altNames: [...dnsNames.map((value) => ({ type: 2, value })), ...ipAddresses.map((ip) => ({ type: 7, ip }))],
      },
    );
  } else {
    extensions.push(
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', clientAuth: true },
    );
  }
  cert.setExtensions(extensions);
  return { certPem: signedCertificate(cert, subjectSpki, caKey, ca.certPem), serialHex };
}

/**
 * The certificate forge describes, with the subject's SubjectPublicKeyInfo in place of forge's
 * stand-in, signed sha256WithRSA by the CA with Node's crypto; read back and checked before use.
 */
function signedCertificate(cert: forge.pki.Certificate, subjectSpki: Buffer, caKey: KeyObject, caPem: string): string {
  cert.signatureOid = SHA256_WITH_RSA;
  cert.siginfo.algorithmOid = SHA256_WITH_RSA;
  const tbs = forgeTbs.getTBSCertificate(cert);
  // TBSCertificate: version, serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, ...
  const fields = tbs.value;
  if (!Array.isArray(fields) || fields.length < 7) throw new Error('unexpected TBSCertificate from node-forge');
  fields[6] = forge.asn1.fromDer(forge.util.createBuffer(subjectSpki.toString('binary')));
  const tbsDer = forge.asn1.toDer(tbs).getBytes();
  const signature = sign('sha256', Buffer.from(tbsDer, 'binary'), caKey);
  const { asn1 } = forge;
  const certificate = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    tbs,
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(SHA256_WITH_RSA).getBytes()),
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, ''),
    ]),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, `\u0000${signature.toString('binary')}`),
  ]);
  const der = Buffer.from(asn1.toDer(certificate).getBytes(), 'binary');
  const issued = new X509Certificate(der);
  const caCert = new X509Certificate(caPem);
  if (
    !issued.publicKey.export({ type: 'spki', format: 'der' }).equals(subjectSpki) ||
    !issued.verify(caCert.publicKey) ||
    !issued.checkIssued(caCert)
  ) {
    throw new Error('the issued certificate does not read back as signed for its subject key');
  }
  return issued.toString();
}

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING's bits (as forge does for RSA). */
function subjectKeyIdentifier(spkiDer: Buffer): string {
  const spki = forge.asn1.fromDer(forge.util.createBuffer(spkiDer.toString('binary')));
  // forge keeps a BIT STRING's raw content beside what it decoded from it (an RSA key's SEQUENCE).
  const bits = Array.isArray(spki.value) ? spki.value[1] : undefined;
  const content =
    bits?.type === forge.asn1.Type.BITSTRING && 'bitStringContents' in bits ? bits.bitStringContents : undefined;
  if (typeof content !== 'string' || content.length < 2) throw new Error('unexpected SubjectPublicKeyInfo');
  // The first octet of a BIT STRING's content is its count of unused bits, not part of the key.
  return hash('sha1', Buffer.from(content.slice(1), 'binary'), 'binary');
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

/** Services: RSA >= 2048 or EC P-256. Users: RSA >= 2048 only (the user side is unchanged). */
function checkSubjectKey(publicKeyPem: string, usage: IssueRequest['usage']): { key: KeyObject; kind: KeyKind } {
  const key = createPublicKey(publicKeyPem);
  const kind = keyKindOf(key);
  if (kind === undefined || (usage === 'client' && kind !== 'rsa')) {
    const allowed = usage === 'client' ? '' : ` or ${describeKeyKind('ec-p256')}`;
    throw new Error(`the subject key must be RSA of at least ${MIN_RSA_BITS} bits${allowed}`);
  }
  return { key, kind };
}
