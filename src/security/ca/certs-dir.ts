/**
 * Where the certificate profiles live at run time: certs/profiles/ at the top of the package, beside
 * dist/ (this file runs as dist/src/security/ca/certs-dir.js). certs/ holds data that ships with VBS
 * and is only ever read; an installation's keys and certificates are under $VBS_HOME/certs instead.
 */
import { fileURLToPath } from 'node:url';

export const PROFILES_DIR = fileURLToPath(new URL('../../../../certs/profiles/', import.meta.url));
