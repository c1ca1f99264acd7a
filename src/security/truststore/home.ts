/**
 * Where a VBS installation keeps its trust store: $VBS_HOME/trust.sqlite, trusting the CA in
 * $VBS_HOME/certs/ca.pem. Services and vbs-admin open it the same way, so that what the admin
 * changes is what the running services read.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TrustStore, type TrustStoreOptions } from './trust-store.js';
import { TrustStoreError } from './user-names.js';

export function trustStorePath(home: string): string {
  return join(home, 'trust.sqlite');
}

export function caCertPath(home: string): string {
  return join(home, 'certs', 'ca.pem');
}

/** Opens (creating if needed) the home's trust store; the home's CA must exist already. */
export function openHomeTrustStore(home: string, options: TrustStoreOptions = {}): TrustStore {
  let caPem: string;
  try {
    caPem = readFileSync(caCertPath(home), 'utf8');
  } catch (err) {
    if (err instanceof Error && 'code' in err && err.code === 'ENOENT') {
      throw new TrustStoreError(
        `no VBS CA in ${join(home, 'certs')}: run 'vbs-admin ca init' (or start the services) first`,
      );
    }
    throw err;
  }
  return new TrustStore(trustStorePath(home), caPem, options);
}
