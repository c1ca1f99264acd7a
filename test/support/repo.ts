/** Paths of the repository as tests see them (tests run compiled, from dist/test/). */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const SERVER_BIN = join(REPO_ROOT, 'dist', 'src', 'server', 'vbs-server.js');
export const CLI_BIN = join(REPO_ROOT, 'dist', 'src', 'cli', 'vbs.js');
export const FAKE_BIN = join(REPO_ROOT, 'test', 'fixtures', 'bin');
export const EC2_WSDL = join(REPO_ROOT, '..', 'shared', 'reference', 'ec2-2010-08-31.wsdl');
