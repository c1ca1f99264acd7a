/**
 * How a node-soap user signs requests for VBS: WSSecurityCert (soap 1.13) with a Timestamp, rsa-sha256
 * and sha256 digests, as one of the cluster's users. The frontend accepts only signed requests, and
 * node-soap's default Ids (plain `Id`) and its `wsu:Id` mode are both in use in the field, so each
 * interop test picks one and between them both are exercised end to end.
 *
 * One WSSecurityCert per identity, shared by all clients of it: node-soap's messages carry no nonce,
 * its Timestamp has whole seconds, xml-crypto numbers the Ids from _0 per WSSecurityCert and RSA
 * PKCS#1 v1.5 is deterministic, so two fresh WSSecurityCert objects sending the same call in the same
 * second send the same bytes, and the frontend rightly refuses the second as a replay. A shared one
 * keeps counting its Ids, so every request it signs differs.
 */
import { WSSecurityCert, type Client } from 'soap';
import type { UserCredentials } from '../support/services.js';

export const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
export const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';

export type IdMode = 'plain' | 'wssecurity';

const signers = new Map<string, WSSecurityCert>();

/** Makes every later request of `client` signed by `user`. */
export function signAs(client: Client, user: UserCredentials, idMode: IdMode = 'plain'): void {
  const key = `${idMode}\n${user.certPem}`;
  let security = signers.get(key);
  if (!security) {
    security = new WSSecurityCert(user.keyPem, user.certPem, '', {
      hasTimeStamp: true,
      signatureAlgorithm: RSA_SHA256,
      digestAlgorithm: SHA256,
      ...(idMode === 'wssecurity' ? { signerOptions: { idMode: 'wssecurity' } } : {}),
    });
    signers.set(key, security);
  }
  client.setSecurity(security);
}
