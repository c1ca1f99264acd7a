/** Paths of the repository as tests see them (tests run compiled, from dist/test/). */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { ExternalFile } from './external-file.js';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const SERVER_BIN = join(REPO_ROOT, 'dist', 'src', 'server', 'vbs-server.js');
export const CLI_BIN = join(REPO_ROOT, 'dist', 'src', 'cli', 'vbs.js');
export const FAKE_BIN = join(REPO_ROOT, 'test', 'fixtures', 'bin');

/**
 * Amazon's own EC2 WSDL, outside the repository: $VBS_EC2_WSDL when set, else
 * ../shared/reference/ec2-2010-08-31.wsdl beside the checkout. Tests get its path through
 * requireExternalFile (external-file.ts), which skips them, or fails them under CI=true, without it.
 */
export const EC2_WSDL: ExternalFile = {
  what: "Amazon's EC2 2010-08-31 WSDL",
  envVar: 'VBS_EC2_WSDL',
  defaultPath: join(REPO_ROOT, '..', 'shared', 'reference', 'ec2-2010-08-31.wsdl'),
};
