/**
 * Why: a CPU profile of a loaded frontend on a shared machine counts wall time, so steps that block in
 * the kernel (socket writes) also collect the time the process waited for a CPU. This times the steps
 * of one DescribeVolumes request in isolation, in one process, so that the cost of each step, and what
 * each proposed fix would save, can be read without that noise:
 *   - response signing (signEnvelope), and inside it the parse of its own envelope and the RSA sign;
 *   - the parse of a signed and of an unsigned request, and the signature check itself;
 *   - the same parses with xmldom's end-tag RegExp compiled once (xmldom 0.9 compiles a new Unicode
 *     RegExp for every end tag; upstream: github.com/xmldom/xmldom/issues/950);
 *   - RSA-2048 against ECDSA P-256 and Ed25519 signing; SQLite prepare-per-call against a cached
 *     statement; one request log line.
 *
 *   node dist/bench/request-steps.js
 * Not part of `npm run bench`.
 */
import { X509Certificate, generateKeyPairSync, sign, createPrivateKey } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { schema } from '../src/generated/frontend.js';
import { createLogger } from '../src/log.js';
import { createCa, generateKeyPair, issueCertificate } from '../src/security/ca/certificate-authority.js';
import { DEFAULT_VERIFICATION, newReplayCache, userAuthenticator } from '../src/security/authenticators.js';
import { signEnvelope, type Signer } from '../src/security/wssec/sign.js';
import { encodeElement } from '../src/soap/encode.js';
import { parseEnvelope, type ParsedEnvelope } from '../src/soap/envelope.js';
import { plainEnvelope } from '../src/soap/faults.js';
import type { IncomingMessage } from 'node:http';
import { markdownTable } from './lib/table.js';

type RegFactory = (...parts: (RegExp | string)[]) => RegExp;
const grammar = createRequire(import.meta.url)('@xmldom/xmldom/lib/grammar.js') as { reg: RegFactory };

const rows: string[][] = [];

/** Mean ms per call over `n` calls, after a warm-up. */
function time(step: string, fn: (i: number) => unknown, n = 3000): number {
  for (let i = 0; i < 300; i++) fn(i);
  const start = performance.now();
  for (let i = 0; i < n; i++) fn(i);
  const ms = (performance.now() - start) / n;
  rows.push([step, ms.toFixed(3)]);
  return ms;
}

/** The same for an async step; call i gets its own input (warm-up calls first, untimed). */
async function timeAsync(step: string, fn: (i: number) => Promise<unknown>, n: number, warmup: number): Promise<void> {
  for (let i = 0; i < warmup; i++) await fn(i);
  const start = performance.now();
  for (let i = warmup; i < warmup + n; i++) await fn(i);
  rows.push([step, ((performance.now() - start) / n).toFixed(3)]);
}

/** Runs fn with xmldom's reg() memoized: each distinct RegExp compiled once, as a fix upstream would. */
function withCachedRegExps(fn: () => void): void {
  const original = grammar.reg;
  const cache = new Map<string, RegExp>();
  grammar.reg = (...parts) => {
    const key = parts.map((p) => (typeof p === 'string' ? p : p.source)).join('\u0000');
    let re = cache.get(key);
    if (!re) {
      re = original(...parts);
      cache.set(key, re);
    }
    re.lastIndex = 0;
    return re;
  };
  try {
    fn();
  } finally {
    grammar.reg = original;
  }
}

function credentials(): { service: Signer; user: Signer; userCert: X509Certificate } {
  const ca = createCa('request-steps CA');
  const issue = (commonName: string, usage: 'server' | 'client'): Signer => {
    const pair = generateKeyPair();
    const cert = issueCertificate(ca, {
      commonName,
      publicKeyPem: pair.publicKeyPem,
      usage,
      ...(usage === 'server' ? { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] } : {}),
    });
    return { certPem: cert.certPem, keyPem: pair.privateKeyPem };
  };
  const user = issue('alice', 'client');
  return { service: issue('frontend', 'server'), user, userCert: new X509Certificate(user.certPem) };
}

async function main(): Promise<void> {
  const { service, user, userCert } = credentials();
  const item = (i: number): Record<string, unknown> => ({
    volumeId: `vol-0123456789abcdef${i}`,
    size: String(1 + i),
    snapshotId: '',
    availabilityZone: 'vbs-local-1a',
    status: 'available',
    createTime: new Date().toISOString(),
    attachmentSet: {},
    volumeType: 'sparse',
  });
  const answer = {
    requestId: 'ba5e0000-0000-4000-8000-000000000000',
    volumeSet: { item: Array.from({ length: 8 }, (_, i) => item(i)) },
  };
  const responseBody = encodeElement(schema, 'DescribeVolumesResponse', answer);
  const requestBody = encodeElement(schema, 'DescribeVolumes', { volumeSet: {} });
  const signedResponse = signEnvelope(responseBody, service);
  const signedRequest = signEnvelope(requestBody, user);
  const unsignedRequest = plainEnvelope(requestBody);

  time('encode the response (8 volumes)', () => encodeElement(schema, 'DescribeVolumesResponse', answer));
  time('sign the response: signEnvelope, all of it', () => signEnvelope(responseBody, service));
  // signEnvelope parses the envelope it wrote before the Signature goes in.
  const unsignedResponse = signedResponse.replace(/<ds:Signature[\s\S]*<\/ds:Signature>/, '');
  time('  of which: its parse of the envelope it wrote', () => parseEnvelope(unsignedResponse));
  time('parse a signed request (3.7 KB)', () => parseEnvelope(signedRequest));
  time('parse an unsigned request (0.3 KB)', () => parseEnvelope(unsignedRequest));
  withCachedRegExps(() => {
    time('sign the response, xmldom end-tag RegExp cached', () => signEnvelope(responseBody, service));
    time('parse a signed request, xmldom end-tag RegExp cached', () => parseEnvelope(signedRequest));
  });

  // The signature check alone, on requests parsed beforehand, each signed anew (replays are refused).
  const n = 3000;
  // Made first: the verifier refuses requests signed before its replay cache began.
  const check = userAuthenticator(
    (der) => (der.equals(userCert.raw) ? { x509: userCert, userId: 'alice' } : undefined),
    ['admin'],
    DEFAULT_VERIFICATION,
    newReplayCache(),
  );
  const parsed: ParsedEnvelope[] = Array.from({ length: n + 300 }, () =>
    parseEnvelope(signEnvelope(requestBody, user)),
  );
  const noRequest = {} as IncomingMessage;
  const message = (i: number): ParsedEnvelope => {
    const m = parsed[i];
    if (!m) throw new Error(`no parsed request ${i}`);
    return m;
  };
  await timeAsync('verify a signed request (trust store lookup stubbed)', (i) => check(message(i), noRequest), n, 300);
  time('sign a request (the client side, as pre-signed here)', () => signEnvelope(requestBody, user), 1000);

  const data = Buffer.alloc(1000, 'a');
  const rsa = createPrivateKey(service.keyPem);
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const ed = generateKeyPairSync('ed25519').privateKey;
  time('RSA-2048 sign, SHA-256', () => sign('sha256', data, rsa));
  time('ECDSA P-256 sign, SHA-256', () => sign('sha256', data, ec));
  time('Ed25519 sign', () => sign(null, data, ed));

  const dir = mkdtempSync(join(tmpdir(), 'vbs-request-steps-'));
  try {
    const db = new Database(join(dir, 'steps.sqlite'));
    db.exec(
      'CREATE TABLE volumes (id TEXT PRIMARY KEY, owner_id TEXT, status TEXT, create_time TEXT, size_gib INTEGER, zone TEXT, path TEXT)',
    );
    const insert = db.prepare('INSERT INTO volumes VALUES (?, ?, ?, ?, ?, ?, ?)');
    for (let i = 0; i < 10; i++)
      insert.run(
        `vol-${i}`,
        i < 8 ? 'alice' : 'bob',
        'available',
        new Date().toISOString(),
        i,
        'z',
        `volumes/vol-${i}.img`,
      );
    const sql = `SELECT * FROM volumes WHERE status NOT IN ('deleted') AND owner_id = @owner ORDER BY create_time, id`;
    time('SQLite: prepare + all, as the store does each call', () => db.prepare(sql).all({ owner: 'alice' }));
    const statement = db.prepare(sql);
    time('SQLite: all on a statement prepared once', () => statement.all({ owner: 'alice' }));
    db.close();
    const logger = createLogger('frontend', { file: join(dir, 'frontend.log') });
    time('one request log line (winston, the synchronous part)', () =>
      logger.info('request', {
        requestId: 'ba5e0000-0000-4000-8000-000000000000',
        operation: 'DescribeVolumes',
        caller: 'alice',
        durationMs: 1.234,
        outcome: 'ok',
      }),
    );
    await new Promise<void>((resolve) => {
      logger.on('finish', () => resolve());
      logger.end();
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(`${markdownTable(['Step (one process, in isolation)', 'ms per call'], rows)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`request-steps failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
