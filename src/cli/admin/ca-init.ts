/**
 * vbs-admin ca init: creates the installation's CA in $VBS_HOME/certs, as the services would on
 * their first start, and the trust store beside it, so that users can be enrolled before anything
 * runs. An existing CA is kept (replacing it would invalidate every certificate it issued).
 */
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ensureLocalCa } from '../../security/ca/local-tls.js';
import { openHomeTrustStore, trustStorePath } from '../../security/truststore/home.js';
import type { AdminCommand } from './admin-command.js';
import { certDirOf } from './admin-files.js';

export const caInit: AdminCommand = {
  name: 'ca init',
  synopsis: '',
  summary: 'create the VBS CA in $VBS_HOME/certs if there is none, and print its fingerprint',
  details: ['Services and clients trust this CA (ca.pem); its key (ca-key.pem, 0600) signs user certificates.'],
  options: {},
  async run({ args, out, home }) {
    args.exactly();
    const certDir = certDirOf(home);
    const existed = existsSync(join(certDir, 'ca-key.pem'));
    const ca = ensureLocalCa(certDir);
    openHomeTrustStore(home).close();
    const x509 = new X509Certificate(ca.certPem);
    const result = {
      created: !existed,
      certificate: join(certDir, 'ca.pem'),
      subject: x509.subject,
      fingerprintSha256: x509.fingerprint256,
      notAfter: new Date(x509.validTo).toISOString(),
      trustStore: trustStorePath(home),
    };
    out.result(result, (r) =>
      [
        r.created ? `Created the VBS CA in ${certDir}.` : `A VBS CA already exists in ${certDir}; it was kept.`,
        `Certificate: ${r.certificate} (${r.subject}, valid until ${r.notAfter})`,
        `SHA-256 fingerprint: ${r.fingerprintSha256}`,
        `Trust store: ${r.trustStore}`,
        '',
      ].join('\n'),
    );
    return 0;
  },
};
