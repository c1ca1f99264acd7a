/**
 * vbs-admin user add NAME: makes a key and a CA-signed client certificate for a new user, records the
 * certificate in the trust store, and writes NAME.key (0600), NAME.pem and NAME.p12 for the user.
 * The key is made here, so the files must reach the user safely; `user enroll` avoids that. If the
 * files cannot be written, the certificate just recorded is revoked: no trusted certificate whose
 * key was lost.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { openHomeTrustStore } from '../../security/truststore/home.js';
import type { AdminCommand } from './admin-command.js';
import { DAYS_OPTION, SAME_USER_OPTION, validDays } from './admin-args.js';
import { checkAbsent, loadHomeCa, writeNewFile } from './admin-files.js';
import { pkcs12Of } from './pkcs12.js';
import { userNameArg } from './user-name-arg.js';

export const userAdd: AdminCommand = {
  name: 'user add',
  synopsis: 'NAME [--out DIR] [--p12-password PASSWORD] [--days N] [--same-user]',
  summary: 'issue a key and a certificate for a user and trust it',
  details: [
    'Writes NAME.key (private key, 0600), NAME.pem (certificate) and NAME.p12 (both, with the CA',
    'certificate) to DIR, default $VBS_HOME/users/NAME. The certificate subject CN is the user ID.',
  ],
  options: {
    out: { type: 'string', value: 'DIR', help: 'where to write the files (default $VBS_HOME/users/NAME)' },
    'p12-password': {
      type: 'string',
      value: 'PASSWORD',
      help: 'password of NAME.p12 (default: empty; other local users may see command lines)',
    },
    days: DAYS_OPTION,
    'same-user': SAME_USER_OPTION,
  },
  async run({ args, out, home }) {
    const name = userNameArg(args);
    const days = validDays(args);
    const password = args.string('p12-password') ?? '';
    const dir = resolve(args.string('out') ?? join(home, 'users', name));
    const files = { key: join(dir, `${name}.key`), cert: join(dir, `${name}.pem`), p12: join(dir, `${name}.p12`) };
    checkAbsent(Object.values(files));
    const ca = loadHomeCa(home);
    mkdirSync(dir, { recursive: true, mode: 0o700 });

    const store = openHomeTrustStore(home);
    try {
      const issued = store.issueUser(name, ca, {
        sameUser: args.flag('same-user'),
        ...(days === undefined ? {} : { validDays: days }),
      });
      try {
        writeNewFile(files.key, issued.keyPem, 0o600);
        writeNewFile(files.cert, issued.certPem, 0o644);
        writeNewFile(files.p12, pkcs12Of(issued.keyPem, issued.certPem, ca.certPem, password, name), 0o600);
      } catch (err) {
        store.revokeCertificate(issued.record.fingerprint);
        throw err;
      }
      const result = { ...issued.record, files, p12Password: password === '' ? 'empty' : 'set' };
      out.result(result, (r) =>
        [
          `Issued and trusted a certificate for ${r.userId} (valid until ${r.notAfter}).`,
          `  ${r.files.key}  private key (keep it secret)`,
          `  ${r.files.cert}  certificate`,
          `  ${r.files.p12}  PKCS#12 bundle of both with the CA certificate`,
          r.p12Password === 'empty'
            ? `${name}.p12 has an EMPTY password (set one with --p12-password); keep it as private as the key.`
            : `${name}.p12 is protected by the password given.`,
          `Fingerprint (SHA-256): ${r.fingerprint}`,
          '',
        ].join('\n'),
      );
      return 0;
    } finally {
      store.close();
    }
  },
};
