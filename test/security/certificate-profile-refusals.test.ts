/**
 * A malformed certificate profile is refused when it is read, with a message naming the file, the
 * field and what is wrong, and nothing is issued from it: unknown fields (typos), wrong types,
 * values out of range, and profiles that break what other code relies on (profile-invariants.ts).
 */
import { expect } from 'chai';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCertificateProfiles, parseProfile } from '../../src/security/ca/certificate-profiles.js';
import { PROFILES_DIR } from '../../src/security/ca/certs-dir.js';
import { CertificateProfileError } from '../../src/security/ca/json-fields.js';
import { readUserProfile } from '../../src/security/ca/read-profile.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Role = 'ca' | 'service' | 'user';

/** Sets (or, with undefined, removes) the value at `path` in `doc`. */
function edit(doc: Json, path: readonly (string | number)[], value: Json | undefined): void {
  let node: Json | undefined = doc;
  for (const key of path.slice(0, -1)) {
    node = Array.isArray(node) && typeof key === 'number' ? node[key] : isObject(node) ? node[String(key)] : undefined;
  }
  const last = path[path.length - 1];
  if (Array.isArray(node) && typeof last === 'number') {
    if (value === undefined) node.splice(last, 1);
    else node[last] = value;
  } else if (isObject(node) && last !== undefined) {
    if (value === undefined) Reflect.deleteProperty(node, String(last));
    else node[String(last)] = value;
  } else {
    throw new Error(`no ${path.join('.')} in the profile`);
  }
}

function isObject(v: Json | undefined): v is { [key: string]: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

interface Case {
  readonly why: string;
  readonly role: Role;
  readonly path: readonly (string | number)[];
  readonly value: Json | undefined;
  readonly message: RegExp;
}

// Extension indexes are those of the shipped files: service and user list basicConstraints,
// subjectKeyIdentifier, authorityKeyIdentifier, keyUsage, extKeyUsage (and service subjectAltName).
const CASES: readonly Case[] = [
  {
    why: 'an unknown top-level field',
    role: 'service',
    path: ['validity'],
    value: 365,
    message:
      /^certificate profile \S+service\.json: unknown field "validity" \(the fields here are: description, subject, lifetime, extensions, key, defaultHosts\)$/,
  },
  {
    why: 'a typo in an extension field',
    role: 'user',
    path: ['extensions', 3, 'usage'],
    value: ['digitalSignature'],
    message:
      /user\.json: extensions\[3\]: unknown field "usage" \(the fields here are: name, critical, usages, forRsaKeys\)$/,
  },
  {
    why: 'a field for another extension',
    role: 'ca',
    path: ['extensions', 0, 'usages'],
    value: ['keyCertSign'],
    message: /ca\.json: extensions\[0\]: unknown field "usages"/,
  },
  {
    why: 'a missing field',
    role: 'user',
    path: ['lifetime'],
    value: undefined,
    message: /user\.json: missing field "lifetime"$/,
  },
  {
    why: 'a missing critical',
    role: 'service',
    path: ['extensions', 0, 'critical'],
    value: undefined,
    message: /service\.json: extensions\[0\]: missing field "critical"$/,
  },
  {
    why: 'a number as a string',
    role: 'service',
    path: ['lifetime', 'defaultDays'],
    value: '365',
    message: /service\.json: lifetime\.defaultDays: expected a whole number from 1 to 36500, got "365"$/,
  },
  {
    why: 'a fraction of a day',
    role: 'user',
    path: ['lifetime', 'maxDays'],
    value: 1.5,
    message: /user\.json: lifetime\.maxDays: expected a whole number from 1 to 36500, got 1\.5$/,
  },
  {
    why: 'a default beyond the maximum',
    role: 'user',
    path: ['lifetime', 'maxDays'],
    value: 300,
    message: /user\.json: lifetime\.defaultDays: expected a whole number from 1 to 300, got 365$/,
  },
  {
    why: 'a string as a boolean',
    role: 'ca',
    path: ['extensions', 0, 'critical'],
    value: 'true',
    message: /ca\.json: extensions\[0\]\.critical: expected true or false, got "true"$/,
  },
  {
    why: 'an unknown key usage',
    role: 'user',
    path: ['extensions', 3, 'usages', 0],
    value: 'digitalSignatures',
    message:
      /user\.json: extensions\[3\]\.usages\[0\]: expected one of "digitalSignature", "nonRepudiation", .*"decipherOnly", got "digitalSignatures"$/,
  },
  {
    why: 'an unknown extension',
    role: 'user',
    path: ['extensions', 1, 'name'],
    value: 'nsCertType',
    message: /user\.json: extensions\[1\]\.name: expected one of "basicConstraints", .*got "nsCertType"$/,
  },
  {
    why: 'an unknown purpose',
    role: 'service',
    path: ['extensions', 4, 'purposes', 1],
    value: 'anyExtendedKeyUsage',
    message: /service\.json: extensions\[4\]\.purposes\[1\]: expected one of "serverAuth", /,
  },
  {
    why: 'a purpose twice',
    role: 'service',
    path: ['extensions', 4, 'purposes', 1],
    value: 'serverAuth',
    message: /service\.json: extensions\[4\]\.purposes\[1\]: "serverAuth" is listed twice$/,
  },
  {
    why: 'an extension twice',
    role: 'user',
    path: ['extensions', 2],
    value: { name: 'subjectKeyIdentifier', critical: false },
    message: /user\.json: extensions\[2\]: subjectKeyIdentifier is listed twice$/,
  },
  {
    why: 'a critical key identifier',
    role: 'service',
    path: ['extensions', 1, 'critical'],
    value: true,
    message: /service\.json: extensions\[1\]\.critical: subjectKeyIdentifier must not be critical \(RFC 5280\)$/,
  },
  {
    why: 'a usage both always and for RSA keys',
    role: 'service',
    path: ['extensions', 3, 'forRsaKeys'],
    value: ['digitalSignature'],
    message: /service\.json: extensions\[3\]\.forRsaKeys: digitalSignature is already in usages$/,
  },
  {
    why: 'an unknown subject rule',
    role: 'user',
    path: ['subject', 'commonName'],
    value: 'email',
    message:
      /user\.json: subject\.commonName: expected one of "common-name", "service-name", "user-name", got "email"$/,
  },
  {
    why: 'an unknown key kind',
    role: 'service',
    path: ['key', 'accept', 1],
    value: 'ed25519',
    message: /service\.json: key\.accept\[1\]: expected one of "rsa", "ec-p256", got "ed25519"$/,
  },
  {
    why: 'a small RSA key',
    role: 'ca',
    path: ['key', 'generate', 'bits'],
    value: 1024,
    message: /ca\.json: key\.generate\.bits: expected a whole number from 2048 to 8192, got 1024$/,
  },
  {
    why: 'another curve',
    role: 'service',
    path: ['key', 'generate', 'curve'],
    value: 'P-384',
    message: /service\.json: key\.generate\.curve: expected one of "P-256", got "P-384"$/,
  },
  {
    why: 'bits on an EC key',
    role: 'service',
    path: ['key', 'generate', 'bits'],
    value: 2048,
    message: /service\.json: key\.generate: unknown field "bits" \(the fields here are: type, curve\)$/,
  },
  {
    why: 'another signature algorithm',
    role: 'ca',
    path: ['signatureAlgorithm'],
    value: 'sha1WithRSAEncryption',
    message: /ca\.json: signatureAlgorithm: expected one of "sha256WithRSAEncryption", got "sha1WithRSAEncryption"$/,
  },
  {
    why: 'a bad default host',
    role: 'service',
    path: ['defaultHosts', 'ipAddresses', 0],
    value: '127.0.0',
    message: /service\.json: defaultHosts\.ipAddresses\[0\]: not an IP address: "127\.0\.0"$/,
  },
  {
    why: 'an empty description',
    role: 'ca',
    path: ['description'],
    value: ' ',
    message: /ca\.json: description: expected a non-empty string, got " "$/,
  },
  {
    why: 'an object where a list goes',
    role: 'user',
    path: ['extensions'],
    value: {},
    message: /user\.json: extensions: expected a list, got an object$/,
  },
  // What other code relies on.
  {
    why: 'a CA profile that makes no CA',
    role: 'ca',
    path: ['extensions', 0, 'ca'],
    value: false,
    message: /ca\.json: extensions\[0\]\.ca: the CA profile must make a CA certificate/,
  },
  {
    why: 'a CA that cannot sign certificates',
    role: 'ca',
    path: ['extensions', 1, 'usages'],
    value: ['cRLSign'],
    message: /ca\.json: extensions\[1\]\.usages: the CA profile needs keyCertSign/,
  },
  {
    why: 'an EC CA key',
    role: 'ca',
    path: ['key', 'generate'],
    value: { type: 'ec', curve: 'P-256' },
    message: /ca\.json: key\.generate\.type: the CA signs with sha256WithRSAEncryption, so its key must be RSA$/,
  },
  {
    why: 'a service certificate that is a CA',
    role: 'service',
    path: ['extensions', 0, 'ca'],
    value: true,
    message: /service\.json: extensions\[0\]\.ca: only the CA profile may make a CA certificate$/,
  },
  {
    why: 'a user certificate that signs certificates',
    role: 'user',
    path: ['extensions', 3, 'usages', 1],
    value: 'keyCertSign',
    message: /user\.json: extensions\[3\]: keyCertSign is for CA certificates only$/,
  },
  {
    why: 'a user certificate without basicConstraints',
    role: 'user',
    path: ['extensions', 0],
    value: undefined,
    message: /user\.json: extensions: basicConstraints is missing$/,
  },
  {
    why: 'a user certificate with serverAuth',
    role: 'user',
    path: ['extensions', 4, 'purposes', 1],
    value: 'serverAuth',
    message:
      /user\.json: extensions\[4\]\.purposes: user certificates must not carry serverAuth: service-trust\.ts would take the user for a service$/,
  },
  {
    why: 'a user certificate with no extended key usage',
    role: 'user',
    path: ['extensions', 4],
    value: undefined,
    message: /user\.json: extensions: extKeyUsage is missing$/,
  },
  {
    why: 'a user certificate naming hosts',
    role: 'user',
    path: ['extensions', 5],
    value: { name: 'subjectAltName', critical: false },
    message: /user\.json: extensions\[5\]: no subjectAltName here/,
  },
  {
    why: 'EC user keys',
    role: 'user',
    path: ['key', 'accept', 1],
    value: 'ec-p256',
    message: /user\.json: key\.accept: user keys are RSA only; ec-p256 cannot be enrolled or trusted$/,
  },
  {
    why: 'a service certificate without serverAuth',
    role: 'service',
    path: ['extensions', 4, 'purposes'],
    value: ['clientAuth'],
    message: /service\.json: extensions\[4\]\.purposes: service certificates need serverAuth/,
  },
  {
    why: 'a service certificate without hosts',
    role: 'service',
    path: ['extensions', 5],
    value: undefined,
    message: /service\.json: extensions: subjectAltName is missing$/,
  },
  {
    why: 'a service key generated but not accepted',
    role: 'service',
    path: ['key', 'accept'],
    value: ['rsa'],
    message: /service\.json: key\.generate: a ec-p256 key is generated but key\.accept does not list ec-p256$/,
  },
  {
    why: 'a key for RSA peers that is not RSA',
    role: 'service',
    path: ['key', 'forRsaPeers'],
    value: { type: 'ec', curve: 'P-256' },
    message:
      /service\.json: key\.forRsaPeers\.type: it signs answers for peers that verify RSA only, so it must be an RSA key$/,
  },
  {
    why: 'a key for RSA peers that is not accepted',
    role: 'service',
    path: ['key', 'accept'],
    value: ['ec-p256'],
    message: /service\.json: key\.forRsaPeers: an rsa key is generated but key\.accept does not list rsa$/,
  },
  {
    why: 'a key for RSA peers of a bad size',
    role: 'service',
    path: ['key', 'forRsaPeers', 'bits'],
    value: 1024,
    message: /service\.json: key\.forRsaPeers\.bits: expected a whole number from 2048 to 8192, got 1024$/,
  },
  {
    why: 'renewal at every start',
    role: 'service',
    path: ['lifetime', 'renewWithinDays'],
    value: 365,
    message: /service\.json: lifetime\.renewWithinDays: must be less than defaultDays/,
  },
  {
    why: 'no default hosts',
    role: 'service',
    path: ['defaultHosts'],
    value: { dnsNames: [], ipAddresses: [] },
    message: /service\.json: defaultHosts: name at least one DNS name or IP address$/,
  },
];

describe('security/ca certificate profiles: malformed ones are refused', () => {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const copy = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'vbs-bad-profile-'));
    dirs.push(dir);
    cpSync(PROFILES_DIR, dir, { recursive: true });
    return dir;
  };

  it('the shipped ones are read without complaint', () => {
    expect(() => loadCertificateProfiles(copy())).to.not.throw();
  });

  for (const c of CASES) {
    it(`refuses ${c.why}`, () => {
      const dir = copy();
      const file = join(dir, `${c.role}.json`);
      const doc = JSON.parse(readFileSync(file, 'utf8')) as Json;
      edit(doc, c.path, c.value);
      writeFileSync(file, JSON.stringify(doc, null, 2));
      expect(() => loadCertificateProfiles(dir))
        .to.throw(CertificateProfileError, c.message)
        .with.property('message')
        .that.includes(file);
    });
  }

  it('refuses a file that is not JSON, and a missing file, naming it', () => {
    const dir = copy();
    writeFileSync(join(dir, 'user.json'), '{ "description": "a trailing comma", }');
    expect(() => loadCertificateProfiles(dir)).to.throw(
      CertificateProfileError,
      new RegExp(`^certificate profile ${join(dir, 'user.json')}: not JSON \\(`),
    );
    rmSync(join(dir, 'service.json'));
    expect(() => loadCertificateProfiles(dir)).to.throw(
      CertificateProfileError,
      new RegExp(`^certificate profile ${join(dir, 'service.json')}: cannot read it \\(`),
    );
  });

  it('refuses a document that is not an object', () => {
    expect(() => parseProfile('[]', 'user.json', readUserProfile)).to.throw(
      /^certificate profile user\.json: expected an object, got a list$/,
    );
  });
});
