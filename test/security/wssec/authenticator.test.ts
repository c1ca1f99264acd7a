/** The Authenticator a SoapEndpoint runs before routing: a Principal for a signed request, AuthFailure otherwise. */
import { expect } from 'chai';
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { parseEnvelope } from '../../../src/soap/envelope.js';
import { wsSecurityAuthenticator } from '../../../src/security/wssec/authenticator.js';
import { signEnvelope } from '../../../src/security/wssec/sign.js';
import { CREATE_VOLUME, fixtures, options } from './helpers.js';

const request = new IncomingMessage(new Socket());

describe('WS-Security: authenticator', () => {
  it('turns a verified sender into a Principal, by default not an admin', async () => {
    const authenticate = wsSecurityAuthenticator(options());
    const principal = await authenticate(parseEnvelope(signEnvelope(CREATE_VOLUME, fixtures().alice)), request);
    expect(principal).to.deep.equal({ userId: 'alice', admin: false });
  });

  it('lets the caller decide admins from the verified sender only', async () => {
    const authenticate = wsSecurityAuthenticator(options(), (s) => ({ userId: s.userId, admin: s.userId === 'alice' }));
    const principal = await authenticate(parseEnvelope(signEnvelope(CREATE_VOLUME, fixtures().alice)), request);
    expect(principal.admin).to.equal(true);
  });

  it('rejects with AuthFailure when the request does not verify', async () => {
    const authenticate = wsSecurityAuthenticator(options());
    const tampered = signEnvelope(CREATE_VOLUME, fixtures().alice).replace('<t:size>1<', '<t:size>9<');
    const error: unknown = await authenticate(parseEnvelope(tampered), request).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.have.property('code', 'AuthFailure');
  });
});
