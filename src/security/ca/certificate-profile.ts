/**
 * The format of a certificate profile (certs/profiles/ca.json, service.json, user.json): what a
 * certificate of that kind contains. certs/README.md explains every field; read-profile.ts reads a
 * file into these types, and the CA issues exactly what they say.
 *
 * Names are those of RFC 5280 (and node-forge), so that a profile reads like the `openssl x509
 * -text` of what it makes. Key kinds are key-kind.ts's: 'rsa' is RSA of at least MIN_RSA_BITS.
 */
import { MIN_RSA_BITS, describeKeyKind, type KeyKind } from '../wssec/key-kind.js';
import type { SubjectRuleName } from './subject-rules.js';

export type ProfileRole = 'ca' | 'service' | 'user';

/** The KeyUsage bits of RFC 5280 4.2.1.3, in their bit order. */
export const KEY_USAGES = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
] as const;
export type KeyUsage = (typeof KEY_USAGES)[number];

/** The extended key usages (RFC 5280 4.2.1.12) a profile may name, and their OIDs. */
export const EXTENDED_KEY_USAGE_OIDS = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  timeStamping: '1.3.6.1.5.5.7.3.8',
} as const;
export type ExtendedKeyUsage = keyof typeof EXTENDED_KEY_USAGE_OIDS;

/** How the CA signs: one algorithm today, named as openssl prints it. */
export const SIGNATURE_ALGORITHMS = {
  sha256WithRSAEncryption: { oid: '1.2.840.113549.1.1.11', digest: 'sha256' },
} as const;
export type SignatureAlgorithm = keyof typeof SIGNATURE_ALGORITHMS;

/** The key kinds a profile may accept, with how a refusal names them. */
export const KEY_KINDS: Readonly<Record<KeyKind, string>> = {
  rsa: `RSA of at least ${MIN_RSA_BITS} bits`,
  'ec-p256': describeKeyKind('ec-p256'),
};

/** A key VBS makes itself: RSA of some size (public exponent 65537), or EC on P-256. */
export type GeneratedKey =
  { readonly type: 'rsa'; readonly bits: number } | { readonly type: 'ec'; readonly curve: 'P-256' };

/** One extension, in the order the certificate carries them. */
export type ExtensionProfile =
  | { readonly name: 'basicConstraints'; readonly critical: boolean; readonly ca: boolean }
  | {
      readonly name: 'keyUsage';
      readonly critical: boolean;
      readonly usages: readonly KeyUsage[];
      /** Added when the subject key is RSA (key transport: an EC key only signs, RFC 5480 3). */
      readonly forRsaKeys: readonly KeyUsage[];
    }
  | { readonly name: 'extKeyUsage'; readonly critical: boolean; readonly purposes: readonly ExtendedKeyUsage[] }
  | { readonly name: 'subjectKeyIdentifier'; readonly critical: false }
  | { readonly name: 'authorityKeyIdentifier'; readonly critical: false }
  /** The DNS names and IP addresses the issuer is asked for; at least one. */
  | { readonly name: 'subjectAltName'; readonly critical: boolean };
export type ExtensionName = ExtensionProfile['name'];

export interface Lifetime {
  /** Validity when the issuer asks for none. */
  readonly defaultDays: number;
  /** The most an issuer may ask for. */
  readonly maxDays: number;
  /** notBefore is this far in the past, for hosts whose clocks differ a little. */
  readonly backdateMinutes: number;
}

export interface ServiceHosts {
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
}

interface CommonProfile {
  /** For the reader of the file; VBS does not act on it. */
  readonly description: string;
  /** The subject is a CN only; this is the rule (subject-rules.ts) its value follows. */
  readonly subject: { readonly commonName: SubjectRuleName };
  readonly lifetime: Lifetime;
  readonly extensions: readonly ExtensionProfile[];
}

export interface CaProfile extends CommonProfile {
  readonly key: { readonly generate: GeneratedKey };
  /** For the CA's own certificate and every certificate it issues. */
  readonly signatureAlgorithm: SignatureAlgorithm;
}

export interface ServiceProfile extends CommonProfile {
  /**
   * accept: what the CA signs for a service; generate: what a service is given on its start;
   * forRsaPeers (RSA only, optional): the key of a second certificate, made for a service that asks
   * for one (the frontend), to sign its answers to requests signed with RSA: stock gSOAP 2.8 cannot
   * verify an ECDSA answer. Without it, every answer is signed with the `generate` key.
   */
  readonly key: {
    readonly accept: readonly KeyKind[];
    readonly generate: GeneratedKey;
    readonly forRsaPeers?: GeneratedKey;
  };
  /** renewWithinDays: a service reissues its certificate when it expires within this many days. */
  readonly lifetime: Lifetime & { readonly renewWithinDays: number };
  /** The subjectAltName of a service whose caller names no hosts (one machine). */
  readonly defaultHosts: ServiceHosts;
}

export interface UserProfile extends CommonProfile {
  readonly key: { readonly accept: readonly KeyKind[] };
}

export interface CertificateProfiles {
  readonly ca: CaProfile;
  readonly service: ServiceProfile;
  readonly user: UserProfile;
}

/** The extension of that name in the profile, if it has one. */
export function extensionOf<N extends ExtensionName>(
  profile: { readonly extensions: readonly ExtensionProfile[] },
  name: N,
): Extract<ExtensionProfile, { name: N }> | undefined {
  return profile.extensions.find((e): e is Extract<ExtensionProfile, { name: N }> => e.name === name);
}

/** The key kind a generated key is (key-kind.ts), e.g. to tell whether a held key is the one wanted. */
export function kindOfGenerated(key: GeneratedKey): KeyKind {
  return key.type === 'rsa' ? 'rsa' : 'ec-p256';
}
