/**
 * What must hold across a profile's fields, whatever else it says, because other code relies on it:
 * the CA profile makes a CA that can sign; service and user profiles never make a CA; a service
 * certificate carries serverAuth and host names (TLS clients, and service-trust.ts, which tells a
 * service from a user by serverAuth), and a user certificate never does, so no user can pass as a
 * service. A profile breaking one of these is refused when it is read, never used.
 */
import {
  EXTENDED_KEY_USAGE_OIDS,
  extensionOf,
  kindOfGenerated,
  type CaProfile,
  type ExtensionName,
  type ExtensionProfile,
  type ServiceProfile,
  type UserProfile,
} from './certificate-profile.js';
import { fieldPath, refuse, type FieldPath } from './json-fields.js';

type Extensions = { readonly extensions: readonly ExtensionProfile[] };

export function checkCaProfile(profile: CaProfile): void {
  if (!required(profile, 'basicConstraints').ca) {
    refuse(at(profile, 'basicConstraints', 'ca'), 'the CA profile must make a CA certificate (true)');
  }
  if (!required(profile, 'keyUsage').usages.includes('keyCertSign')) {
    refuse(at(profile, 'keyUsage', 'usages'), 'the CA profile needs keyCertSign: without it nothing it signs verifies');
  }
  absent(profile, 'subjectAltName', 'the CA certificate names no hosts');
  if (profile.key.generate.type !== 'rsa') {
    refuse('key.generate.type', `the CA signs with ${profile.signatureAlgorithm}, so its key must be RSA`);
  }
}

export function checkServiceProfile(profile: ServiceProfile): void {
  notCa(profile);
  if (!required(profile, 'extKeyUsage').purposes.includes('serverAuth')) {
    refuse(
      at(profile, 'extKeyUsage', 'purposes'),
      `service certificates need serverAuth (${EXTENDED_KEY_USAGE_OIDS.serverAuth}): TLS clients and service-trust.ts check it`,
    );
  }
  required(profile, 'subjectAltName');
  const generated = kindOfGenerated(profile.key.generate);
  if (!profile.key.accept.includes(generated)) {
    refuse('key.generate', `a ${generated} key is generated but key.accept does not list ${generated}`);
  }
  const forRsa = profile.key.forRsaPeers;
  if (forRsa !== undefined && forRsa.type !== 'rsa') {
    refuse('key.forRsaPeers.type', 'it signs answers for peers that verify RSA only, so it must be an RSA key');
  }
  if (forRsa !== undefined && !profile.key.accept.includes('rsa')) {
    refuse('key.forRsaPeers', 'an rsa key is generated but key.accept does not list rsa');
  }
  if (profile.lifetime.renewWithinDays >= profile.lifetime.defaultDays) {
    refuse('lifetime.renewWithinDays', 'must be less than defaultDays, or every start would reissue the certificate');
  }
  if (profile.defaultHosts.dnsNames.length + profile.defaultHosts.ipAddresses.length === 0) {
    refuse('defaultHosts', 'name at least one DNS name or IP address');
  }
}

export function checkUserProfile(profile: UserProfile): void {
  notCa(profile);
  if (required(profile, 'extKeyUsage').purposes.includes('serverAuth')) {
    refuse(
      at(profile, 'extKeyUsage', 'purposes'),
      'user certificates must not carry serverAuth: service-trust.ts would take the user for a service',
    );
  }
  absent(profile, 'subjectAltName', 'user certificates name no hosts; the CN is the user ID');
  const other = profile.key.accept.find((kind) => kind !== 'rsa');
  if (other !== undefined) {
    // CSRs are read with node-forge (RSA only) and the trust store accepts RSA users only (certificate-facts.ts).
    refuse('key.accept', `user keys are RSA only; ${other} cannot be enrolled or trusted`);
  }
}

function notCa(profile: Extensions): void {
  if (required(profile, 'basicConstraints').ca) {
    refuse(at(profile, 'basicConstraints', 'ca'), 'only the CA profile may make a CA certificate');
  }
  const keyUsage = extensionOf(profile, 'keyUsage');
  const signing = [...(keyUsage?.usages ?? []), ...(keyUsage?.forRsaKeys ?? [])].find(
    (u) => u === 'keyCertSign' || u === 'cRLSign',
  );
  if (signing !== undefined) refuse(at(profile, 'keyUsage'), `${signing} is for CA certificates only`);
}

function required<N extends ExtensionName>(profile: Extensions, name: N): Extract<ExtensionProfile, { name: N }> {
  return extensionOf(profile, name) ?? refuse('extensions', `${name} is missing`);
}

function absent(profile: Extensions, name: ExtensionName, why: string): void {
  if (extensionOf(profile, name) !== undefined) refuse(at(profile, name), `no ${name} here: ${why}`);
}

/** The path of an extension (or one of its fields) in the profile, e.g. `extensions[3].usages`. */
function at(profile: Extensions, name: ExtensionName, field?: string): FieldPath {
  const path = fieldPath(
    'extensions',
    profile.extensions.findIndex((e) => e.name === name),
  );
  return field === undefined ? path : fieldPath(path, field);
}
