/**
 * vbs-admin user list: every certificate in the trust store, revoked ones too, with the status the
 * services would give it now (active, revoked, expired, not-yet-valid, untrusted).
 */
import { openHomeTrustStore } from '../../security/truststore/home.js';
import type { CertificateRecord } from '../../security/truststore/trust-store.js';
import { renderTable, type Column } from '../table.js';
import type { AdminCommand } from './admin-command.js';

const COLUMNS: readonly Column<CertificateRecord>[] = [
  { header: 'USER', cell: (r) => r.userId },
  { header: 'STATUS', cell: (r) => r.status },
  { header: 'SOURCE', cell: (r) => r.source },
  { header: 'NOT AFTER', cell: (r) => r.notAfter.replace(/\.\d{3}Z$/, 'Z') },
  { header: 'ADDED', cell: (r) => r.addedAt.replace(/\.\d{3}Z$/, 'Z') },
  { header: 'FINGERPRINT (SHA-256)', cell: (r) => r.fingerprint },
];

export const userList: AdminCommand = {
  name: 'user list',
  synopsis: '[--json]',
  summary: 'list the certificates in the trust store and their status',
  options: {},
  async run({ args, out, home }) {
    args.exactly();
    const store = openHomeTrustStore(home);
    try {
      out.result(store.list(), (rows) =>
        rows.length === 0 ? 'The trust store holds no certificates.\n' : renderTable(COLUMNS, rows),
      );
      return 0;
    } finally {
      store.close();
    }
  },
};
