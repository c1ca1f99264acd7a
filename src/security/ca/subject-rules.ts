/**
 * The rules a certificate's subject CN may follow, by the name a profile gives them
 * (certs/profiles/*.json, `subject.commonName`). Each rule lives once, in code: the profile only
 * says which one applies, so a profile and the code can never hold two versions of a rule.
 *
 * - common-name: what the CA holds every CN it signs to (the X.520 bound, no control characters);
 * - service-name: a service identity (identities.ts), which is also the name of the service's files
 *   in $VBS_HOME/certs;
 * - user-name: a user ID, the trust store's rule (truststore/user-names.ts), applied to every
 *   certificate it trusts: issued, enrolled from a CSR, or added by hand.
 */
import { checkUserName } from '../truststore/user-names.js';

export const SUBJECT_RULE_NAMES = ['common-name', 'service-name', 'user-name'] as const;
export type SubjectRuleName = (typeof SUBJECT_RULE_NAMES)[number];

const SERVICE_NAME = /^[a-z][a-z0-9-]{0,62}$/;

export function checkCommonName(cn: string): void {
  // 64: the X.520 upper bound for a common name.
  if (cn.length === 0 || cn.length > 64 || /[\p{Cc}]/u.test(cn)) {
    throw new Error(`invalid common name: ${JSON.stringify(cn)} (1 to 64 characters, no control characters)`);
  }
}

export function checkServiceName(name: string): void {
  // 'ca' and '*-key' would make <name>.pem collide with a CA file or another service's key.
  if (!SERVICE_NAME.test(name) || name === 'ca' || name.endsWith('-key')) {
    throw new Error(`invalid service name: ${JSON.stringify(name)}`);
  }
}

/** Each rule throws, naming what is wrong, when a name breaks it. */
export const SUBJECT_RULES: Readonly<Record<SubjectRuleName, (cn: string) => void>> = {
  'common-name': checkCommonName,
  'service-name': checkServiceName,
  'user-name': checkUserName,
};
