/**
 * Wires the verifier into a SoapEndpoint: an Authenticator that accepts only WS-Security X.509-signed
 * requests and hands the handlers a Principal, never the certificate or the XML. Who is an admin or
 * a service is the caller's decision (principalFor), made from the verified sender only.
 */
import type { Principal } from '../../core/principal.js';
import type { Authenticator } from '../../soap/server.js';
import { verifySignedEnvelope, type VerifiedSender, type VerifyOptions } from './verify.js';

export function wsSecurityAuthenticator(
  options: VerifyOptions,
  principalFor: (sender: VerifiedSender) => Principal = (sender) => ({ userId: sender.userId, admin: false }),
): Authenticator {
  return async (message) => principalFor(verifySignedEnvelope(message, options));
}
