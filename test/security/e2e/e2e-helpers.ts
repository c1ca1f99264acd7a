/**
 * What the end-to-end security tests share: hand-made requests posted to the running services (the
 * attacks no honest client sends), the answer as a client would read it, the check that a refusal is
 * a fault signed by the frontend, and a picture of everything an attack could have changed (alice's
 * volumes and snapshots as she sees them, and the files under HOME/volumes) to compare before/after.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { expect } from 'chai';
import { schema, type AmazonEC2PortTypeOperations } from '../../../src/generated/frontend.js';
import { encodeElement } from '../../../src/soap/encode.js';
import { signEnvelope, type Signer, type SignOptions } from '../../../src/security/wssec/sign.js';
import { ec2Client } from '../../support/ec2-client.js';
import { rawPost, type RawAnswer } from '../../support/raw-soap.js';
import type { Cluster } from '../../support/services.js';
import { frontendCertPem, frontendRsaCertPem, signedBy, xmlsec1Verifies } from './signed-answer.js';

type Ops = AmazonEC2PortTypeOperations;

export const ZONE = 'vbs-local-1a';
export const UNKNOWN_VOLUME = 'vol-0123456789abcdef0';
export const UNKNOWN_SNAPSHOT = 'snap-0123456789abcdef0';
export const UNKNOWN_INSTANCE = 'i-0123456789abcdef0';

/** The request element of an EC2 operation, written by the product's own encoder. */
export function ec2Body<K extends keyof Ops>(operation: K, input: Ops[K]['input']): string {
  const spec = schema.portTypes['AmazonEC2PortType']?.[operation] ?? expect.fail(`no operation ${operation}`);
  return encodeElement(schema, spec.input, input);
}

/** Posts `text` as it is to `url` (the frontend's /vbs by default), with SOAPAction `action` if given. */
export function post(
  cluster: Cluster,
  text: string | Buffer,
  action?: string,
  url = cluster.frontendUrl,
  headers: Record<string, string> = {},
): Promise<RawAnswer> {
  return rawPost(url, cluster.caPem, text, {
    ...(action === undefined ? {} : { soapaction: `"${action}"` }),
    ...headers,
  });
}

/** An honestly signed request from `signer` for `bodyXml`. */
export function signedPost(
  cluster: Cluster,
  signer: Signer,
  bodyXml: string,
  action?: string,
  url?: string,
  options?: SignOptions,
): Promise<RawAnswer> {
  return post(cluster, signEnvelope(bodyXml, signer, options), action, url);
}

export interface Answer {
  readonly status: number;
  /** The payload's local name, or Fault. */
  readonly element: string;
  readonly faultcode: string | undefined;
  readonly code: string | undefined;
  readonly message: string | undefined;
}

export function answerOf(raw: RawAnswer): Answer {
  const element = /<soap:Body[^>]*>\s*<(?:[\w-]+:)?([\w-]+)/.exec(raw.body)?.[1] ?? '?';
  const unescape = (s: string | undefined): string | undefined =>
    s
      ?.replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&apos;/g, "'")
      .replace(/&amp;/g, '&');
  return {
    status: raw.status,
    element,
    faultcode: /<faultcode>([^<]*)<\/faultcode>/.exec(raw.body)?.[1],
    code: /<vbs:Code>([^<]*)<\/vbs:Code>/.exec(raw.body)?.[1],
    message: unescape(/<vbs:Message>([^<]*)<\/vbs:Message>/.exec(raw.body)?.[1]),
  };
}

/** The answer is a Client fault with this code, signed by the frontend (VBS's verifier and xmlsec1); returns its message. */
export async function expectSignedFault(cluster: Cluster, raw: RawAnswer, code: string, status = 500): Promise<string> {
  const a = answerOf(raw);
  expect(a, raw.body).to.deep.include({ element: 'Fault', status, faultcode: `soap:Client.${code}`, code });
  await expectFrontendSigned(cluster, raw);
  return a.message ?? '';
}

const RSA_SHA256_METHOD = '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256">';
const ECDSA_SHA256_METHOD = '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256">';

/**
 * The answer is signed by the frontend: with rsa-sha256 by frontend.rsa.pem or with ecdsa-sha256 by
 * frontend.pem; `kind` says which one it must be (RSA: the answer to a request signed with RSA).
 */
export async function expectFrontendSigned(cluster: Cluster, raw: RawAnswer, kind?: 'rsa' | 'ec'): Promise<void> {
  const rsa = raw.body.includes(RSA_SHA256_METHOD);
  expect(
    rsa || raw.body.includes(ECDSA_SHA256_METHOD),
    'the answer is signed with rsa-sha256 or ecdsa-sha256',
  ).to.equal(true);
  if (kind !== undefined) expect(rsa ? 'rsa' : 'ec', 'the kind of key that signed the answer').to.equal(kind);
  const cert = rsa ? frontendRsaCertPem(cluster.home) : frontendCertPem(cluster.home);
  expect(signedBy(raw.body, cert), 'the answer is signed by the frontend (VBS verifier)').to.equal('signed:signer');
  expect(await xmlsec1Verifies(raw.body, cert), 'the answer is signed by the frontend (xmlsec1)').to.equal(true);
}

/** Every file under HOME/volumes with its size and modification time. */
export function volumeFiles(home: string): string[] {
  const root = join(home, 'volumes');
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const s = statSync(p);
        out.push(`${relative(root, p)} ${s.size} ${s.mtimeMs}`);
      }
    }
  };
  walk(root);
  return out.sort();
}

export interface Picture {
  readonly volumes: readonly string[];
  readonly snapshots: readonly string[];
  readonly files: readonly string[];
}

/** What alice sees and what is on disk: an attack that changed anything changes this. */
export async function picture(cluster: Cluster): Promise<Picture> {
  const alice = ec2Client(cluster, 'alice');
  try {
    const volumes = (await alice.call('DescribeVolumes', { volumeSet: {} })).volumeSet.item ?? [];
    const snapshots = (await alice.call('DescribeSnapshots', { snapshotSet: {} })).snapshotSet.item ?? [];
    return {
      volumes: volumes
        .map((v) => `${v.volumeId} ${v.status} ${v.size} ${v.snapshotId} ${(v.attachmentSet.item ?? []).length}`)
        .sort(),
      snapshots: snapshots.map((s) => `${s.snapshotId} ${s.volumeId} ${s.status} ${s.progress} ${s.ownerId}`).sort(),
      files: volumeFiles(cluster.home),
    };
  } finally {
    alice.close();
  }
}
