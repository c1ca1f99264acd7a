/**
 * vbs-admin user trust --cert FILE: the paper's way of enrolling: an administrator adds a user's
 * certificate by hand (PEM or DER, self-signed allowed); its exact fingerprint is then the trust and
 * its subject CN the user ID. A CN already held by another key needs --same-user, so a self-signed
 * certificate cannot quietly take over an enrolled user's name.
 */
import { X509Certificate } from 'node:crypto';
import { openHomeTrustStore } from '../../security/truststore/home.js';
import type { AdminCommand } from './admin-command.js';
import { SAME_USER_OPTION, requiredOption } from './admin-args.js';
import { readInput } from './admin-files.js';

export const userTrust: AdminCommand = {
  name: 'user trust',
  synopsis: '--cert FILE [--same-user]',
  summary: "trust a user's certificate added by hand (self-signed allowed)",
  details: ['The certificate subject CN is the user ID; it must hold an RSA key of at least 2048 bits.'],
  options: {
    cert: { type: 'string', value: 'FILE', help: 'the certificate, PEM or DER' },
    'same-user': SAME_USER_OPTION,
  },
  async run({ args, out, home }) {
    args.exactly();
    const data = readInput(requiredOption(args, 'cert', 'FILE'), 'certificate');
    const store = openHomeTrustStore(home);
    try {
      const record = store.trustManual(data, { sameUser: args.flag('same-user') });
      const x509 = new X509Certificate(data);
      const selfSigned = x509.checkIssued(x509);
      out.result({ ...record, selfSigned, issuer: x509.issuer }, (r) =>
        [
          `Trusted the certificate of ${r.userId} (added by hand, ${r.selfSigned ? 'self-signed' : `issued by ${r.issuer.replace(/\n/g, ', ')}`}).`,
          `Valid until ${r.notAfter}; fingerprint (SHA-256) ${r.fingerprint}`,
          '',
        ].join('\n'),
      );
      return 0;
    } finally {
      store.close();
    }
  },
};
