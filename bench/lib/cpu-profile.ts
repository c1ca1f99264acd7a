/**
 * Why: when the frontend misses its throughput target, the lead needs to know where each request's
 * CPU time goes (parse, verify, handler and SQLite, encode, response signing, TLS, logging, GC), in ms
 * per request, to decide what to fix. This reads a V8 CPU profile (node --cpu-prof) and puts every
 * sample into one such bucket by its call stack: inside SoapEndpoint.handle by the outermost product
 * step on the stack (so the XML parse inside response signing counts as signing, not as the request
 * parse), outside it by what Node was doing (HTTP parsing, TLS, log writes, GC, idle).
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface Breakdown {
  /** Milliseconds of samples per bucket, "step: detail". */
  readonly buckets: ReadonlyMap<string, number>;
  readonly idleMs: number;
  /** Module loading and start-up: not part of any request. */
  readonly startupMs: number;
  /** Everything else: the work of serving requests. */
  readonly busyMs: number;
}

const is = (f: CallFrame, name: string, file?: string): boolean =>
  f.functionName === name && (file === undefined || f.url.endsWith(file));
const inFile = (f: CallFrame, part: string): boolean => f.url.includes(part);

function detailOfSigning(rest: readonly CallFrame[]): string {
  if (rest.some((f) => is(f, 'parseEnvelope'))) return 're-parse of its own envelope (xmldom)';
  if (rest.some((f) => f.url === 'node:internal/crypto/sig')) return 'RSA-2048 sign';
  if (rest.some((f) => is(f, 'exclusiveC14n') || is(f, 'digest') || f.url === 'node:internal/crypto/hash'))
    return 'c14n + SHA-256 digests';
  if (rest.some((f) => is(f, 'newId') || f.url === 'node:internal/crypto/random')) return 'random wsu:Ids';
  return 'string building, other';
}

function detailOfVerify(rest: readonly CallFrame[]): string {
  if (rest.some((f) => f.url === 'node:internal/crypto/sig')) return 'RSA-2048 verify';
  if (rest.some((f) => is(f, 'exclusiveC14n') || f.url === 'node:internal/crypto/hash'))
    return 'c14n + SHA-256 digests';
  if (rest.some((f) => inFile(f, '/truststore/'))) return 'trust store lookup';
  return 'structure checks, other';
}

/** The bucket of one sample inside SoapEndpoint.handle; `rest` is the stack below handle, outermost first. */
function insideHandle(rest: readonly CallFrame[]): string {
  for (const [i, f] of rest.entries()) {
    const below = rest.slice(i + 1);
    if (is(f, 'signEnvelope')) return `response signing: ${detailOfSigning(below)}`;
    if (is(f, 'readBody')) return 'read request body';
    if (is(f, 'parseEnvelope')) return 'parse request (xmldom)';
    if (inFile(f, '/security/wssec/') || inFile(f, '/security/authenticators'))
      return `verify signature: ${detailOfVerify(below)}`;
    if (is(f, 'decodeElement')) return 'decode request';
    if (is(f, 'encodeElement')) return 'encode response';
    if (inFile(f, '/src/frontend/')) {
      const store = [f, ...below].findIndex((g) => inFile(g, '/src/frontend/store/'));
      if (store < 0) return 'handler: JS';
      return [f, ...below].slice(store).some((g) => is(g, 'prepare'))
        ? 'handler: SQLite prepare (each request)'
        : 'handler: SQLite query + row mapping';
    }
    if (inFile(f, 'winston') || inFile(f, 'logform')) return 'logging (winston)';
    if (f.url.startsWith('node:_http') || f.url.startsWith('node:net') || f.url.startsWith('node:internal/streams'))
      return 'HTTP write + TLS encrypt';
    if (f.url === 'node:internal/crypto/random') return 'request ID (randomUUID)';
  }
  return 'handle: own code';
}

function outsideHandle(stack: readonly CallFrame[]): string {
  const leaf = stack[stack.length - 1];
  if (leaf?.functionName === '(garbage collector)') return 'GC';
  if (leaf?.functionName === '(program)') return 'native, not attributed (V8, libuv, OpenSSL outside JS)';
  if (
    stack.some(
      (f) =>
        inFile(f, 'winston') ||
        inFile(f, 'logform') ||
        inFile(f, 'readable-stream') ||
        inFile(f, 'safe-stable-stringify'),
    )
  )
    return 'logging (winston)';
  if (stack.some((f) => f.url === 'node:_tls_wrap' || f.url === 'node:_tls_common')) return 'TLS (handshakes, reads)';
  if (stack.some((f) => is(f, 'onStreamRead') || f.url === 'node:internal/stream_base_commons'))
    return 'socket read + TLS decrypt';
  if (stack.some((f) => f.url === 'node:_http_common' || f.url === 'node:_http_server')) return 'HTTP parse + dispatch';
  if (stack.some((f) => inFile(f, '/src/frontend/usecases/sweep'))) return 'sweeper';
  if (stack.some((f) => inFile(f, '/soap/https-host'))) return 'HTTP dispatch';
  return 'other (timers, microtasks, Node internals)';
}

export function readProfile(file: string): Breakdown {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const buckets = new Map<string, number>();
  let idleMs = 0;
  let startupMs = 0;
  for (const [id, us] of selfUs) {
    const stack: CallFrame[] = [];
    for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
      const node = byId.get(n);
      if (node) stack.unshift(node.callFrame);
    }
    const ms = us / 1000;
    if (stack[stack.length - 1]?.functionName === '(idle)') {
      idleMs += ms;
      continue;
    }
    if (stack.some((f) => f.url.startsWith('node:internal/modules/') || is(f, 'startFrontend'))) {
      startupMs += ms;
      continue;
    }
    const at = stack.findIndex((f) => is(f, 'handle', '/src/soap/server.js'));
    const bucket = at >= 0 ? insideHandle(stack.slice(at + 1)) : outsideHandle(stack);
    buckets.set(bucket, (buckets.get(bucket) ?? 0) + ms);
  }
  const busyMs = [...buckets.values()].reduce((a, b) => a + b, 0);
  return { buckets, idleMs, startupMs, busyMs };
}
