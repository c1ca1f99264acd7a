/**
 * The PKCS#12 bundle `user add` hands out beside the PEM files, for clients that import one file
 * (Java keystores, browsers, Windows). node-forge builds it (Node's crypto cannot). Triple-DES and a
 * SHA-1 MAC: what every importer reads, including older Java and macOS; the password, often empty,
 * is what protects it, not the cipher, so the private key file's 0600 mode matters as much.
 */
import forge from 'node-forge';

export function pkcs12Of(
  keyPem: string,
  certPem: string,
  caPem: string,
  password: string,
  friendlyName: string,
): Buffer {
  const asn1 = forge.pkcs12.toPkcs12Asn1(
    forge.pki.privateKeyFromPem(keyPem),
    [forge.pki.certificateFromPem(certPem), forge.pki.certificateFromPem(caPem)],
    password,
    { algorithm: '3des', friendlyName, generateLocalKeyId: true },
  );
  return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary');
}
