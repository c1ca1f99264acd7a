/**
 * A profile's extensions as node-forge writes them, in the profile's order. forge encodes
 * basicConstraints, keyUsage, authorityKeyIdentifier and subjectAltName from their fields (and
 * `critical`, written only when true, as DER wants); the key identifier and the extended key usages
 * are given as values, so that neither depends on forge's stand-in key or on its OID table.
 */
import { hash } from 'node:crypto';
import forge from 'node-forge';
import type { KeyKind } from '../wssec/key-kind.js';
import { EXTENDED_KEY_USAGE_OIDS, type ExtensionProfile, type KeyUsage } from './certificate-profile.js';

export interface ExtensionSubject {
  /** The subject's SubjectPublicKeyInfo, DER. */
  readonly spki: Buffer;
  readonly keyKind: KeyKind;
  /** The issuer's key identifier, as bytes (the subject's own when self-signed). */
  readonly issuerKeyIdentifier: string;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
}

export function forgeExtensions(extensions: readonly ExtensionProfile[], subject: ExtensionSubject): object[] {
  return extensions.map((e) => forgeExtension(e, subject));
}

function forgeExtension(e: ExtensionProfile, subject: ExtensionSubject): object {
  const { asn1 } = forge;
  switch (e.name) {
    case 'basicConstraints':
      return { name: e.name, critical: e.critical, cA: e.ca };
    case 'keyUsage': {
      const usages: readonly KeyUsage[] = subject.keyKind === 'rsa' ? [...e.usages, ...e.forRsaKeys] : e.usages;
      return { name: e.name, critical: e.critical, ...Object.fromEntries(usages.map((u) => [u, true])) };
    }
    case 'extKeyUsage':
      return {
        name: e.name,
        critical: e.critical,
        value: asn1.create(
          asn1.Class.UNIVERSAL,
          asn1.Type.SEQUENCE,
          true,
          e.purposes.map((p) =>
            asn1.create(
              asn1.Class.UNIVERSAL,
              asn1.Type.OID,
              false,
              asn1.oidToDer(EXTENDED_KEY_USAGE_OIDS[p]).getBytes(),
            ),
          ),
        ),
      };
    case 'subjectKeyIdentifier':
      return {
        name: e.name,
        value: asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, subjectKeyIdentifier(subject.spki)),
      };
    case 'authorityKeyIdentifier':
      return { name: e.name, keyIdentifier: subject.issuerKeyIdentifier };
    case 'subjectAltName':
      return {
        name: e.name,
        critical: e.critical,
        altNames: [
          ...subject.dnsNames.map((value) => ({ type: 2, value })),
          ...subject.ipAddresses.map((ip) => ({ type: 7, ip })),
        ],
      };
  }
}

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING's bits (as forge does for RSA). */
export function subjectKeyIdentifier(spkiDer: Buffer): string {
  const spki = forge.asn1.fromDer(forge.util.createBuffer(spkiDer.toString('binary')));
  // forge keeps a BIT STRING's raw content beside what it decoded from it (an RSA key's SEQUENCE).
  const bits = Array.isArray(spki.value) ? spki.value[1] : undefined;
  const content =
    bits?.type === forge.asn1.Type.BITSTRING && 'bitStringContents' in bits ? bits.bitStringContents : undefined;
  if (typeof content !== 'string' || content.length < 2) throw new Error('unexpected SubjectPublicKeyInfo');
  // The first octet of a BIT STRING's content is its count of unused bits, not part of the key.
  return hash('sha1', Buffer.from(content.slice(1), 'binary'), 'binary');
}
