/**
 * The one place where the CLI turns its options into a connection to the frontend: which endpoint,
 * which CA to trust, and the user's certificate and key, with which every request is signed
 * (WS-Security X.509). Commands see only the Frontend interface.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultHome } from '../config/config.js';
import { schema, type AmazonEC2PortTypeOperations } from '../generated/frontend.js';
import { SoapClient } from '../soap/client.js';
import { signedAs } from '../security/wssec/sign.js';
import { UsageError } from './args.js';

export type Ops = AmazonEC2PortTypeOperations;

/** What a command may do with the frontend: call an operation of the EC2 port type. */
export interface Frontend {
  readonly endpoint: string;
  call<K extends keyof Ops>(operation: K, input: Ops[K]['input']): Promise<Ops[K]['output']>;
  close(): void;
}

export interface ConnectionOptions {
  readonly endpoint?: string;
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

export const DEFAULT_ENDPOINT = 'https://127.0.0.1:8443/vbs';
const REQUEST_TIMEOUT_MS = 30_000;

/** The CA file could not be read, or the endpoint is unusable: a one-line message, exit 1. */
export class ConnectionSetupError extends Error {
  override readonly name = 'ConnectionSetupError';
}

export function resolveEndpoint(options: ConnectionOptions, env: NodeJS.ProcessEnv = process.env): string {
  const endpoint = options.endpoint ?? nonEmpty(env['VBS_ENDPOINT']) ?? DEFAULT_ENDPOINT;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new UsageError(`--endpoint is not a URL: '${endpoint}'`);
  }
  if (url.protocol !== 'https:') throw new UsageError(`--endpoint must be an https:// URL, not '${endpoint}'`);
  return url.href;
}

export function resolveCaFile(options: ConnectionOptions, env: NodeJS.ProcessEnv = process.env): string {
  return options.ca ?? nonEmpty(env['VBS_CA']) ?? join(defaultHome(), 'certs', 'ca.pem');
}

/**
 * The user's certificate and key: --cert/--key, else $VBS_CERT/$VBS_KEY, else the admin credentials
 * that `npm start` makes on a fresh machine ($VBS_HOME/users/admin/admin.pem and admin.key).
 */
export function resolveIdentity(
  options: ConnectionOptions,
  env: NodeJS.ProcessEnv = process.env,
): { certFile: string; keyFile: string } {
  const admin = join(defaultHome(), 'users', 'admin');
  const certFile = options.cert ?? nonEmpty(env['VBS_CERT']) ?? join(admin, 'admin.pem');
  const keyFile = options.key ?? nonEmpty(env['VBS_KEY']) ?? join(admin, 'admin.key');
  return { certFile, keyFile };
}

function readOrExplain(file: string, what: string, hint: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const reason = e instanceof Error && 'code' in e ? String(e.code) : String(e);
    throw new ConnectionSetupError(`cannot read ${what} ${file} (${reason}); ${hint}`);
  }
}

export function connect(options: ConnectionOptions): Frontend {
  const endpoint = resolveEndpoint(options);
  const caFile = resolveCaFile(options);
  const caPem = readOrExplain(caFile, 'CA certificate', 'give --ca FILE or set $VBS_CA or $VBS_HOME');
  const { certFile, keyFile } = resolveIdentity(options);
  const signer = {
    certPem: readOrExplain(
      certFile,
      'your certificate',
      'give --cert FILE or set $VBS_CERT (an admin enrolls users with vbs-admin user add)',
    ),
    keyPem: readOrExplain(keyFile, 'your private key', 'give --key FILE or set $VBS_KEY'),
  };
  const client = new SoapClient<Ops>(schema, 'AmazonEC2PortType', {
    url: endpoint,
    caPem,
    timeoutMs: REQUEST_TIMEOUT_MS,
    envelope: signedAs(signer),
  });
  return {
    endpoint,
    call: (operation, input) => client.call(operation, input),
    close: () => client.close(),
  };
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v;
}
