/**
 * The certificate profiles the CA issues by: certs/profiles/{ca,service,user}.json, read and
 * checked once per process (all three together, so that a broken user profile stops a service at
 * its start, not an enrollment months later) and then kept, frozen, for every issuance.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CertificateProfiles } from './certificate-profile.js';
import { PROFILES_DIR } from './certs-dir.js';
import { CertificateProfileError } from './json-fields.js';
import { readCaProfile, readServiceProfile, readUserProfile } from './read-profile.js';

let loaded: CertificateProfiles | undefined;

/** The profiles shipped in certs/profiles/, read on first use. */
export function certificateProfiles(): CertificateProfiles {
  loaded ??= loadCertificateProfiles(PROFILES_DIR);
  return loaded;
}

/** Reads and checks the three profiles in `dir`; a CertificateProfileError names the file and field. */
export function loadCertificateProfiles(dir: string): CertificateProfiles {
  return deepFreeze({
    ca: readProfileFile(join(dir, 'ca.json'), readCaProfile),
    service: readProfileFile(join(dir, 'service.json'), readServiceProfile),
    user: readProfileFile(join(dir, 'user.json'), readUserProfile),
  });
}

/** One profile from its text; `source` names it in refusals. */
export function parseProfile<T>(text: string, source: string, read: (doc: unknown) => T): T {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new CertificateProfileError(`certificate profile ${source}: not JSON (${messageOf(err)})`, { cause: err });
  }
  try {
    return read(doc);
  } catch (err) {
    if (err instanceof CertificateProfileError) {
      throw new CertificateProfileError(`certificate profile ${source}: ${err.message}`, { cause: err });
    }
    throw err;
  }
}

function readProfileFile<T>(file: string, read: (doc: unknown) => T): T {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CertificateProfileError(`certificate profile ${file}: cannot read it (${messageOf(err)})`, {
      cause: err,
    });
  }
  return parseProfile(text, file, read);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
