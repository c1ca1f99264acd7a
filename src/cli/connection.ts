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
import { FailoverCaller } from './failover.js';

export type Ops = AmazonEC2PortTypeOperations;

/** What a command may do with the frontend: call an operation of the EC2 port type. */
export interface Frontend {
  /** The endpoint the last call went to. */
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
const DEFAULT_REQUEST_TIMEOUT_SECONDS = 30;

/** How long one call waits for its answer: $VBS_REQUEST_TIMEOUT seconds, else 30. */
export function resolveRequestTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const given = nonEmpty(env['VBS_REQUEST_TIMEOUT']);
  if (given === undefined) return DEFAULT_REQUEST_TIMEOUT_SECONDS * 1000;
  const seconds = Number(given);
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new UsageError(`$VBS_REQUEST_TIMEOUT must be a positive number of seconds, not '${given}'`);
  return seconds * 1000;
}

/** The CA file could not be read, or the endpoint is unusable: a one-line message, exit 1. */
export class ConnectionSetupError extends Error {
  override readonly name = 'ConnectionSetupError';
}

/**
 * The frontends to use, in order: --endpoint, else $VBS_ENDPOINT, else the local default; several
 * separated by commas (several frontends with no load balancer in front, or as a fallback to one).
 */
export function resolveEndpoints(options: ConnectionOptions, env: NodeJS.ProcessEnv = process.env): string[] {
  const given = options.endpoint ?? nonEmpty(env['VBS_ENDPOINT']) ?? DEFAULT_ENDPOINT;
  const urls = given.split(',').map((e) => e.trim());
  if (urls.some((e) => e === '')) throw new UsageError(`--endpoint has an empty entry: '${given}'`);
  return [...new Set(urls.map(checkedUrl))];
}

function checkedUrl(endpoint: string): string {
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
  const urls = resolveEndpoints(options);
  const timeoutMs = resolveRequestTimeoutMs();
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
  const endpoints = urls.map((url) => ({
    url,
    client: new SoapClient<Ops>(schema, 'AmazonEC2PortType', {
      url,
      caPem,
      timeoutMs,
      envelope: signedAs(signer),
    }),
  }));
  const caller = new FailoverCaller(endpoints);
  return {
    get endpoint() {
      return caller.url;
    },
    call: (operation, input) => caller.call(operation, (client) => client.call(operation, input)),
    close: () => {
      for (const e of endpoints) e.client.close();
    },
  };
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v;
}
