/**
 * Reads one parsed profile document into its type (certificate-profile.ts): every field checked for
 * its type and range, unknown fields refused. What must hold across fields (a CA profile makes a CA,
 * a user profile never grants serverAuth, ...) is checked after, in profile-invariants.ts.
 */
import { MIN_RSA_BITS, type KeyKind } from '../wssec/key-kind.js';
import {
  EXTENDED_KEY_USAGE_OIDS,
  KEY_KINDS,
  KEY_USAGES,
  SIGNATURE_ALGORITHMS,
  type CaProfile,
  type ExtendedKeyUsage,
  type ExtensionName,
  type ExtensionProfile,
  type GeneratedKey,
  type KeyUsage,
  type Lifetime,
  type ServiceHosts,
  type ServiceProfile,
  type UserProfile,
} from './certificate-profile.js';
import { checkDnsName, checkIpAddress } from './host-names.js';
import {
  fieldPath,
  readBoolean,
  readField,
  readChoice,
  readInteger,
  readList,
  readObject,
  readString,
  refuse,
  type FieldPath,
} from './json-fields.js';
import { checkCaProfile, checkServiceProfile, checkUserProfile } from './profile-invariants.js';
import { SUBJECT_RULE_NAMES, type SubjectRuleName } from './subject-rules.js';

/** The longest validity an issuer may ever ask for (about a century), as the CA has always allowed. */
const MAX_DAYS = 36_500;
/** RSA keys VBS makes: 8192 bits already take seconds to generate; a larger size is a typo. */
const MAX_RSA_BITS = 8192;
const COMMON_FIELDS = ['description', 'subject', 'lifetime', 'extensions'] as const;
const LIFETIME_FIELDS = ['defaultDays', 'maxDays', 'backdateMinutes'] as const;

export function readCaProfile(doc: unknown): CaProfile {
  const fields = readObject(doc, '', [...COMMON_FIELDS, 'key', 'signatureAlgorithm']);
  const key = readObject(fields.key, 'key', ['generate']);
  const profile: CaProfile = {
    ...readCommon(fields),
    lifetime: readLifetime(fields.lifetime, 'lifetime'),
    key: { generate: readGeneratedKey(key.generate, 'key.generate') },
    signatureAlgorithm: readChoice(fields.signatureAlgorithm, 'signatureAlgorithm', keysOf(SIGNATURE_ALGORITHMS)),
  };
  checkCaProfile(profile);
  return profile;
}

export function readServiceProfile(doc: unknown): ServiceProfile {
  const fields = readObject(doc, '', [...COMMON_FIELDS, 'key', 'defaultHosts']);
  const key = readObject(fields.key, 'key', ['accept', 'generate'], ['forRsaPeers']);
  const profile: ServiceProfile = {
    ...readCommon(fields),
    lifetime: readServiceLifetime(fields.lifetime, 'lifetime'),
    key: {
      accept: readKeyKinds(key.accept, 'key.accept'),
      generate: readGeneratedKey(key.generate, 'key.generate'),
      ...(key.forRsaPeers === undefined ? {} : { forRsaPeers: readGeneratedKey(key.forRsaPeers, 'key.forRsaPeers') }),
    },
    defaultHosts: readHosts(fields.defaultHosts, 'defaultHosts'),
  };
  checkServiceProfile(profile);
  return profile;
}

export function readUserProfile(doc: unknown): UserProfile {
  const fields = readObject(doc, '', [...COMMON_FIELDS, 'key']);
  const key = readObject(fields.key, 'key', ['accept']);
  const profile: UserProfile = {
    ...readCommon(fields),
    lifetime: readLifetime(fields.lifetime, 'lifetime'),
    key: { accept: readKeyKinds(key.accept, 'key.accept') },
  };
  checkUserProfile(profile);
  return profile;
}

function keysOf<T extends object>(o: T): (keyof T & string)[] {
  return Object.keys(o) as (keyof T & string)[];
}

function readCommon(fields: Readonly<Record<'description' | 'subject' | 'extensions', unknown>>): {
  description: string;
  subject: { commonName: SubjectRuleName };
  extensions: readonly ExtensionProfile[];
} {
  const subject = readObject(fields.subject, 'subject', ['commonName']);
  const extensions = readList(fields.extensions, 'extensions', readExtension, { nonEmpty: true });
  extensions.forEach((e, i) => {
    if (extensions.findIndex((other) => other.name === e.name) !== i) {
      refuse(fieldPath('extensions', i), `${e.name} is listed twice`);
    }
  });
  return {
    description: readString(fields.description, 'description'),
    subject: { commonName: readChoice(subject.commonName, 'subject.commonName', SUBJECT_RULE_NAMES) },
    extensions,
  };
}

function readLifetime(value: unknown, at: FieldPath): Lifetime {
  return lifetimeOf(readObject(value, at, LIFETIME_FIELDS), at);
}

/** A service's lifetime also says when the service renews its certificate. */
function readServiceLifetime(value: unknown, at: FieldPath): ServiceProfile['lifetime'] {
  const fields = readObject(value, at, [...LIFETIME_FIELDS, 'renewWithinDays']);
  return {
    ...lifetimeOf(fields, at),
    renewWithinDays: readInteger(fields.renewWithinDays, fieldPath(at, 'renewWithinDays'), 0, MAX_DAYS),
  };
}

function lifetimeOf(fields: Readonly<Record<(typeof LIFETIME_FIELDS)[number], unknown>>, at: FieldPath): Lifetime {
  const maxDays = readInteger(fields.maxDays, fieldPath(at, 'maxDays'), 1, MAX_DAYS);
  return {
    defaultDays: readInteger(fields.defaultDays, fieldPath(at, 'defaultDays'), 1, maxDays),
    maxDays,
    backdateMinutes: readInteger(fields.backdateMinutes, fieldPath(at, 'backdateMinutes'), 0, 24 * 60),
  };
}

function readKeyKinds(value: unknown, at: FieldPath): readonly KeyKind[] {
  return readList(value, at, (v, p) => readChoice(v, p, keysOf(KEY_KINDS)), { nonEmpty: true, unique: true });
}

function readGeneratedKey(value: unknown, at: FieldPath): GeneratedKey {
  const type = readChoice(readField(value, at, 'type'), fieldPath(at, 'type'), ['rsa', 'ec'] as const);
  if (type === 'rsa') {
    const fields = readObject(value, at, ['type', 'bits']);
    return { type, bits: readInteger(fields.bits, fieldPath(at, 'bits'), MIN_RSA_BITS, MAX_RSA_BITS) };
  }
  const fields = readObject(value, at, ['type', 'curve']);
  return { type, curve: readChoice(fields.curve, fieldPath(at, 'curve'), ['P-256'] as const) };
}

function readHosts(value: unknown, at: FieldPath): ServiceHosts {
  const fields = readObject(value, at, ['dnsNames', 'ipAddresses']);
  const checked = (check: (name: string) => void) => (v: unknown, p: FieldPath) => {
    const name = readString(v, p);
    try {
      check(name);
    } catch (err) {
      refuse(p, err instanceof Error ? err.message : String(err));
    }
    return name;
  };
  return {
    dnsNames: readList(fields.dnsNames, fieldPath(at, 'dnsNames'), checked(checkDnsName), { unique: true }),
    ipAddresses: readList(fields.ipAddresses, fieldPath(at, 'ipAddresses'), checked(checkIpAddress), { unique: true }),
  };
}

const EXTENSION_NAMES: readonly ExtensionName[] = [
  'basicConstraints',
  'keyUsage',
  'extKeyUsage',
  'subjectKeyIdentifier',
  'authorityKeyIdentifier',
  'subjectAltName',
];

function readExtension(value: unknown, at: FieldPath): ExtensionProfile {
  // The name says which fields the rest of the extension may have.
  const name = readChoice(readField(value, at, 'name'), fieldPath(at, 'name'), EXTENSION_NAMES);
  const critical = (fields: { readonly critical: unknown }): boolean =>
    readBoolean(fields.critical, fieldPath(at, 'critical'));
  switch (name) {
    case 'basicConstraints': {
      const fields = readObject(value, at, ['name', 'critical', 'ca']);
      return { name, critical: critical(fields), ca: readBoolean(fields.ca, fieldPath(at, 'ca')) };
    }
    case 'keyUsage': {
      const fields = readObject(value, at, ['name', 'critical', 'usages'], ['forRsaKeys']);
      const usages = readKeyUsages(fields.usages, fieldPath(at, 'usages'), true);
      const forRsaKeys = readKeyUsages(fields.forRsaKeys ?? [], fieldPath(at, 'forRsaKeys'), false);
      const both = forRsaKeys.find((u) => usages.includes(u));
      if (both !== undefined) refuse(fieldPath(at, 'forRsaKeys'), `${both} is already in usages`);
      return { name, critical: critical(fields), usages, forRsaKeys };
    }
    case 'extKeyUsage': {
      const fields = readObject(value, at, ['name', 'critical', 'purposes']);
      const purposes = readList(
        fields.purposes,
        fieldPath(at, 'purposes'),
        (v, p): ExtendedKeyUsage => readChoice(v, p, keysOf(EXTENDED_KEY_USAGE_OIDS)),
        { nonEmpty: true, unique: true },
      );
      return { name, critical: critical(fields), purposes };
    }
    case 'subjectKeyIdentifier':
    case 'authorityKeyIdentifier': {
      const fields = readObject(value, at, ['name', 'critical']);
      // RFC 5280 4.2.1.1 and 4.2.1.2: conforming CAs mark both non-critical.
      if (critical(fields)) refuse(fieldPath(at, 'critical'), `${name} must not be critical (RFC 5280)`);
      return { name, critical: false };
    }
    case 'subjectAltName': {
      const fields = readObject(value, at, ['name', 'critical']);
      return { name, critical: critical(fields) };
    }
  }
}

function readKeyUsages(value: unknown, at: FieldPath, nonEmpty: boolean): readonly KeyUsage[] {
  return readList(value, at, (v, p) => readChoice(v, p, KEY_USAGES), { nonEmpty, unique: true });
}
