/**
 * Builds the stock gSOAP 2.8 client of test/interop/gsoap/vbs_gsoap_client.c the way its users
 * would: `wsdl2h -c` over Amazon's EC2 WSDL, the wsse plugin imported into the header it writes,
 * `soapcpp2 -c -C` (client stubs only), and gcc with the plugin sources Debian ships
 * (/usr/share/gsoap/plugin) and libgsoapssl. Nothing of VBS is compiled in.
 *
 * Cost: about 10 s of CPU on this machine, nearly all of it gcc on the 4.3 MB soapC.c that
 * soapcpp2 makes of Amazon's WSDL. The binary is kept in $TMPDIR under a name made of the SHA-256
 * of the WSDL, the client's source and gSOAP's version, so a test run builds it once and later runs
 * reuse it; it is written to a temporary directory and renamed, so two runs never see half of it.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../support/repo.js';

const run = promisify(execFile);

export const GSOAP_SHARE = '/usr/share/gsoap';
const CLIENT_SOURCE = join(REPO_ROOT, 'test', 'interop', 'gsoap', 'vbs_gsoap_client.c');
/** The gSOAP tools and the C compiler; scripts/test-deps.sh installs gsoap and libgsoap-dev. */
const TOOLS = ['/usr/bin/wsdl2h', '/usr/bin/soapcpp2', '/usr/bin/gcc', '/usr/include/stdsoap2.h'];

export function missingGsoapTools(): string[] {
  return [...TOOLS, join(GSOAP_SHARE, 'plugin', 'wsseapi.c')].filter((p) => !existsSync(p));
}

export interface BuiltClient {
  readonly path: string;
  /** Wall time of this build in ms; 0 when a binary built earlier was reused. */
  readonly buildMs: number;
}

/** The client's binary, built from `wsdlPath` unless an identical build is already there. */
export async function gsoapClient(wsdlPath: string): Promise<BuiltClient> {
  const { stdout: version } = await run('/usr/bin/soapcpp2', ['-V']).catch(() => ({ stdout: 'unknown' }));
  const key = createHash('sha256')
    .update(readFileSync(wsdlPath))
    .update(readFileSync(CLIENT_SOURCE))
    .update(version)
    .digest('hex')
    .slice(0, 16);
  const dir = join(tmpdir(), `vbs-gsoap-client-${key}`);
  const binary = join(dir, 'vbs_gsoap_client');
  if (existsSync(binary)) return { path: binary, buildMs: 0 };
  const started = Date.now();
  const work = mkdtempSync(join(tmpdir(), 'vbs-gsoap-build-'));
  try {
    const inWork = { cwd: work, maxBuffer: 16 * 1024 * 1024 };
    await run('/usr/bin/wsdl2h', ['-c', '-t', join(GSOAP_SHARE, 'WS', 'typemap.dat'), '-o', 'ec2.h', wsdlPath], inWork);
    // The WSDL names no WS-Security policy: the wsse plugin's header is imported by hand, as its docs say.
    writeFileSync(join(work, 'ec2.h'), `#import "wsse.h"\n${readFileSync(join(work, 'ec2.h'), 'utf8')}`);
    await run(
      '/usr/bin/soapcpp2',
      ['-c', '-C', '-x', '-L', `-I${join(GSOAP_SHARE, 'import')}`, `-I${GSOAP_SHARE}`, 'ec2.h'],
      inWork,
    );
    const plugin = join(GSOAP_SHARE, 'plugin');
    await run(
      '/usr/bin/gcc',
      [
        '-O0',
        '-w',
        '-DWITH_OPENSSL',
        '-DWITH_DOM',
        '-DWITH_GZIP',
        '-I.',
        `-I${plugin}`,
        `-I${GSOAP_SHARE}`,
        `-I${join(GSOAP_SHARE, 'custom')}`,
        '-o',
        'vbs_gsoap_client',
        CLIENT_SOURCE,
        'soapC.c',
        'soapClient.c',
        join(plugin, 'wsseapi.c'),
        join(plugin, 'smdevp.c'),
        join(plugin, 'mecevp.c'),
        join(plugin, 'threads.c'),
        join(GSOAP_SHARE, 'custom', 'struct_timeval.c'),
        '-lgsoapssl',
        '-lssl',
        '-lcrypto',
        '-lz',
        '-lpthread',
      ],
      inWork,
    );
    rmSync(dir, { recursive: true, force: true });
    renameSync(work, dir);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return { path: binary, buildMs: Date.now() - started };
}
