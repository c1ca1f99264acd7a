/**
 * vbs-admin user enroll --csr FILE: signs a user's own certificate request, so the private key never
 * leaves the user. The CSR must prove possession of the key (its self-signature) and carry one CN,
 * the user ID; nothing else from it reaches the certificate. The certificate goes to --out or stdout.
 */
import { resolve } from 'node:path';
import { openHomeTrustStore } from '../../security/truststore/home.js';
import type { AdminCommand } from './admin-command.js';
import { DAYS_OPTION, SAME_USER_OPTION, requiredOption, validDays } from './admin-args.js';
import { checkAbsent, loadHomeCa, readInput, writeNewFile } from './admin-files.js';

export const userEnroll: AdminCommand = {
  name: 'user enroll',
  synopsis: '--csr FILE [--out FILE] [--days N] [--same-user]',
  summary: "sign a user's certificate request (PEM) and trust the certificate",
  details: [
    'Make the request with e.g. openssl req -new -newkey rsa:2048 -nodes -keyout me.key -subj /CN=NAME.',
    'The CN is the user ID. Without --out the certificate (PEM) is printed on stdout.',
  ],
  options: {
    csr: { type: 'string', value: 'FILE', help: 'the certificate signing request, PEM' },
    out: { type: 'string', value: 'FILE', help: 'write the certificate here (default: stdout)' },
    days: DAYS_OPTION,
    'same-user': SAME_USER_OPTION,
  },
  async run({ args, out, home }) {
    args.exactly();
    const csrPath = requiredOption(args, 'csr', 'FILE');
    const days = validDays(args);
    const outPath = args.string('out') === undefined ? undefined : resolve(args.string('out') ?? '');
    if (outPath !== undefined) checkAbsent([outPath]);
    const csrPem = readInput(csrPath, 'CSR').toString('utf8');
    const ca = loadHomeCa(home);
    const store = openHomeTrustStore(home);
    try {
      const enrolled = store.enrollCsr(csrPem, ca, {
        sameUser: args.flag('same-user'),
        ...(days === undefined ? {} : { validDays: days }),
      });
      if (outPath !== undefined) {
        try {
          writeNewFile(outPath, enrolled.certPem, 0o644);
        } catch (err) {
          store.revokeCertificate(enrolled.record.fingerprint);
          throw err;
        }
      }
      const result = { ...enrolled.record, certificate: outPath ?? null, certPem: enrolled.certPem };
      const summary = `Enrolled ${result.userId}: certificate valid until ${result.notAfter}, fingerprint (SHA-256) ${result.fingerprint}`;
      if (out.json || outPath !== undefined) {
        out.result(result, (r) => `${summary}\nCertificate written to ${r.certificate ?? ''}\n`);
      } else {
        out.stderr(`${summary}\n`);
        out.stdout(enrolled.certPem);
      }
      return 0;
    } finally {
      store.close();
    }
  },
};
