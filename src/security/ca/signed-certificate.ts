/**
 * Signing what forge describes. node-forge writes a certificate's fields (Node's crypto cannot), but
 * it can only write an RSA SubjectPublicKeyInfo: the subject's own, as Node exports it, is put in
 * its place, and the TBSCertificate is signed with Node's crypto. The result is read back with
 * crypto.X509Certificate and checked (never with forge's chain verification) before anyone sees it.
 */
import { X509Certificate, sign, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { SIGNATURE_ALGORITHMS, type SignatureAlgorithm } from './certificate-profile.js';

/** forge.pki.getTBSCertificate exists (forge's own cert.sign uses it) but @types/node-forge omits it. */
const forgeTbs = forge.pki as unknown as { getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1 };

export function signedCertificate(
  cert: forge.pki.Certificate,
  subjectSpki: Buffer,
  algorithm: SignatureAlgorithm,
  caKey: KeyObject,
  caPem: string,
): string {
  const { oid, digest } = SIGNATURE_ALGORITHMS[algorithm];
  cert.signatureOid = oid;
  cert.siginfo.algorithmOid = oid;
  const tbs = forgeTbs.getTBSCertificate(cert);
  // TBSCertificate: version, serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, ...
  const fields = tbs.value;
  if (!Array.isArray(fields) || fields.length < 7) throw new Error('unexpected TBSCertificate from node-forge');
  fields[6] = forge.asn1.fromDer(forge.util.createBuffer(subjectSpki.toString('binary')));
  const tbsDer = forge.asn1.toDer(tbs).getBytes();
  const signature = sign(digest, Buffer.from(tbsDer, 'binary'), caKey);
  const { asn1 } = forge;
  const certificate = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    tbs,
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(oid).getBytes()),
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

/** forge's own signer, for the CA's self-signed certificate (its key is RSA, which forge signs with). */
export function forgeDigest(algorithm: SignatureAlgorithm): forge.md.MessageDigest {
  const digests: Record<(typeof SIGNATURE_ALGORITHMS)[SignatureAlgorithm]['digest'], () => forge.md.MessageDigest> = {
    sha256: () => forge.md.sha256.create(),
  };
  return digests[SIGNATURE_ALGORITHMS[algorithm].digest]();
}
