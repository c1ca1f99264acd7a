/**
 * Why: every request to VBS is signed (WS-Security X.509) and checked before it is routed, and the
 * issue "Security" sets a price limit on that check: signed DescribeVolumes at 1, 16 and 64
 * concurrent clients must keep at least a third of the unsigned throughput of the very same server,
 * and reach 1,500 requests/s with p99 under 50 ms at 64 clients on this 2-core machine.
 *
 * Both servers run at once on one home (bench/lib/frontend-pair.ts); they differ only in the user
 * authenticator. Each case runs in two rounds, in the order unsigned, signed and then signed,
 * unsigned, so that a change in the shared machine's load during the run falls on both sides alike.
 * Signed bodies are all signed before their phase starts (the server refuses a replay, so each is
 * used once): the load generator's own signing (~0.3 ms each) must not be what limits the server.
 * Both frontends run the same number of worker processes: the frontend's default (one per CPU), or
 * `--frontend-workers=N` on the command line (1: the single-process frontend).
 */
import { encodeElement } from '../src/soap/encode.js';
import { plainEnvelope } from '../src/soap/faults.js';
import { SoapClient, SoapFault } from '../src/soap/client.js';
import { schema, type AmazonEC2PortTypeOperations } from '../src/generated/frontend.js';
import { signEnvelope, signedAs } from '../src/security/wssec/sign.js';
import { withFrontendPair, type FrontendPair, type FrontendProcess } from './lib/frontend-pair.js';
import type { SignatureMode } from './lib/frontend-server.js';
import { runLoad, summarizeLoad, type LoadPhase, type LoadResult } from './lib/http-load.js';
import { since } from './lib/stats.js';

export interface SignedOptions {
  readonly concurrencies?: readonly number[];
  readonly rounds?: number;
  readonly warmupMs?: number;
  readonly measureMs?: number;
  /** Extra node options for both frontends (e.g. --cpu-prof). */
  readonly serverNodeOptions?: readonly string[];
  /** Worker processes of each frontend; default `--frontend-workers=N` if given, else the frontend's default. */
  readonly frontendWorkers?: number;
  /** Runs after the measurement, while both frontends still run (e.g. to read their logs). */
  readonly beforeStop?: (pair: FrontendPair) => Promise<void>;
}

export interface SignedRow {
  readonly concurrency: number;
  readonly unsigned: LoadResult;
  readonly signed: LoadResult;
  /** Signed requests/s divided by unsigned requests/s. */
  readonly ratio: number;
}

export interface SignedResults {
  readonly method: {
    readonly concurrencies: readonly number[];
    /** Processes serving requests in each frontend (its `workers`). */
    readonly frontendWorkers: number;
    readonly rounds: number;
    readonly warmupMs: number;
    readonly measureMsPerRound: number;
    readonly volumesInAnswer: number;
    readonly requestBytes: { readonly signed: number; readonly unsigned: number };
    readonly responseBytes: { readonly signed: number; readonly unsigned: number };
    /**
     * The SignatureMethod of each frontend's answers: the signed one answers alice's RSA signature
     * with its RSA certificate (rsa-sha256), the unsigned one, asked without a signature, with its
     * EC key (ecdsa-sha256); so the ratio also carries the RSA answer's cost.
     */
    readonly answerSignature: { readonly signed: string; readonly unsigned: string };
    /** Signing time per request in the load generator, before the clock starts. */
    readonly clientSignMsPerRequest: number;
  };
  readonly rows: readonly SignedRow[];
  /** Every request each server answered in this run, warm-ups and checks included. */
  readonly requestsServed: { readonly signed: number; readonly unsigned: number };
  readonly target: {
    readonly minRatio: number;
    readonly ratioMet: boolean;
    readonly concurrency: number;
    readonly minRequestsPerSecond: number;
    readonly maxP99Ms: number;
    readonly requestsPerSecond: number | null;
    readonly p99Ms: number | null;
    readonly throughputMet: boolean;
    readonly p99Met: boolean;
    readonly noErrors: boolean;
  };
}

const TARGET = { minRatio: 1 / 3, concurrency: 64, minRequestsPerSecond: 1500, maxP99Ms: 50 } as const;
const DEFAULTS = { concurrencies: [1, 16, 64], rounds: 2, warmupMs: 1000, measureMs: 3000 } as const;
const ALICE_VOLUMES = 8;
const BOB_VOLUMES = 2;
/** Pre-signed bodies per phase: this many times what the phase is expected to use. */
const BODY_MARGIN = 1.5;
const OPERATION = 'DescribeVolumes';
/** An opening volumeId tag, with or without a namespace prefix. */
const VOLUME_ID_TAG = /<(?:[A-Za-z_][\w.-]*:)?volumeId>/g;

/** `--frontend-workers=N` from the command line, if given. */
function workersArg(): number | undefined {
  const raw = process.argv.find((a) => a.startsWith('--frontend-workers='))?.slice('--frontend-workers='.length);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error('--frontend-workers must be a positive integer');
  return n;
}

/** The request element: all of the caller's volumes. The same for both servers. */
function describeAll(): string {
  const spec = schema.portTypes['AmazonEC2PortType']?.[OPERATION];
  if (!spec) throw new Error(`no ${OPERATION} in the frontend schema`);
  return encodeElement(schema, spec.input, { volumeSet: {} });
}

/** An answer is right only if it is a DescribeVolumesResponse listing exactly alice's volumes. */
function checker(volumes: number): (status: number, text: string) => string | undefined {
  return (status, text) => {
    if (status !== 200) return `HTTP ${status}: ${text.slice(0, 200)}`;
    if (!text.includes(':DescribeVolumesResponse ') && !text.includes('<DescribeVolumesResponse '))
      return `not a DescribeVolumesResponse: ${text.slice(0, 200)}`;
    const listed = text.match(VOLUME_ID_TAG)?.length ?? 0;
    return listed === volumes ? undefined : `${listed} volumes listed, expected ${volumes}`;
  };
}

/** Before any timing: both servers answer correctly, and the signed one really checks signatures. */
async function sanityCheck(
  pair: FrontendPair,
  served: Record<SignatureMode, number>,
): Promise<{
  sizes: { signed: number; unsigned: number };
  methods: { signed: string; unsigned: string };
}> {
  const client = new SoapClient<AmazonEC2PortTypeOperations>(schema, 'AmazonEC2PortType', {
    url: pair.signed.url,
    caPem: pair.caPem,
    envelope: signedAs(pair.alice),
  });
  try {
    const answer = await client.call(OPERATION, { volumeSet: {} });
    served.signed++;
    if ((answer.volumeSet.item ?? []).length !== pair.aliceVolumes)
      throw new Error(`the signed frontend listed ${(answer.volumeSet.item ?? []).length} volumes`);
  } finally {
    client.close();
  }
  const unsignedClient = new SoapClient<AmazonEC2PortTypeOperations>(schema, 'AmazonEC2PortType', {
    url: pair.signed.url,
    caPem: pair.caPem,
  });
  try {
    served.signed++;
    await unsignedClient.call(OPERATION, { volumeSet: {} });
    throw new Error('the signed frontend accepted an unsigned request');
  } catch (e) {
    if (!(e instanceof SoapFault) || e.code !== 'AuthFailure') throw e;
  } finally {
    unsignedClient.close();
  }
  // One answer from each, to record their sizes and signature methods (both are signed by the frontend).
  const sizes = { signed: 0, unsigned: 0 };
  const methods = { signed: '', unsigned: '' };
  for (const server of [pair.signed, pair.unsigned]) {
    let length = 0;
    const phase = await runLoad({
      url: server.url,
      caPem: pair.caPem,
      soapAction: OPERATION,
      concurrency: 1,
      warmupMs: 0,
      measureMs: 200,
      nextBody: oneShot(
        server.mode === 'signed' ? signEnvelope(describeAll(), pair.alice) : plainEnvelope(describeAll()),
      ),
      check: (status, text) => {
        length = Buffer.byteLength(text);
        methods[server.mode] = /<ds:SignatureMethod Algorithm="[^"#]*#([^"]*)"/.exec(text)?.[1] ?? 'none';
        return checker(pair.aliceVolumes)(status, text);
      },
    });
    served[server.mode] += phase.answered;
    if (phase.errors > 0 || phase.completed !== 1)
      throw new Error(`${server.mode} frontend: ${phase.errorSamples.join('; ') || 'no answer'}`);
    sizes[server.mode] = length;
  }
  // Users sign with RSA and are answered with RSA: a run that measured ECDSA answers would flatter VBS.
  if (methods.signed !== 'rsa-sha256' || methods.unsigned !== 'ecdsa-sha256')
    throw new Error(`unexpected answer signatures: ${JSON.stringify(methods)}`);
  return { sizes, methods };
}

function oneShot(body: string): () => string | undefined {
  let used = false;
  return () => {
    if (used) return undefined;
    used = true;
    return body;
  };
}

/** Bodies to hand out one by one; for the signed server, each signed anew, all before the phase. */
function bodies(
  server: FrontendProcess,
  pair: FrontendPair,
  count: number,
  signing: { ms: number; count: number },
): () => string | undefined {
  const request = describeAll();
  if (server.mode === 'unsigned') {
    const body = plainEnvelope(request);
    return () => body;
  }
  const start = performance.now();
  const signed = Array.from({ length: count }, () => signEnvelope(request, pair.alice));
  signing.ms += since(start);
  signing.count += count;
  let next = 0;
  return () => signed[next++];
}

export async function runSignedDescribe(
  log: (line: string) => void,
  options: SignedOptions = {},
): Promise<SignedResults> {
  const concurrencies = options.concurrencies ?? DEFAULTS.concurrencies;
  const rounds = options.rounds ?? DEFAULTS.rounds;
  const warmupMs = options.warmupMs ?? DEFAULTS.warmupMs;
  const measureMs = options.measureMs ?? DEFAULTS.measureMs;
  const check = checker(ALICE_VOLUMES);
  const workers = options.frontendWorkers ?? workersArg();
  const pairOptions = {
    aliceVolumes: ALICE_VOLUMES,
    bobVolumes: BOB_VOLUMES,
    ...(options.serverNodeOptions ? { nodeOptions: options.serverNodeOptions } : {}),
    ...(workers === undefined ? {} : { workers }),
  };
  return withFrontendPair(pairOptions, async (pair) => {
    if (pair.signed.servingPids.length !== pair.unsigned.servingPids.length)
      throw new Error('the two frontends run different numbers of workers');
    log(
      `signed: frontends up (signed pid ${pair.signed.pid}, unsigned pid ${pair.unsigned.pid}, ` +
        `${pair.signed.servingPids.length} serving process(es) each), home ${pair.home}`,
    );
    const served: Record<SignatureMode, number> = { signed: 0, unsigned: 0 };
    const answers = await sanityCheck(pair, served);
    const signing = { ms: 0, count: 0 };
    const rows: SignedRow[] = [];
    for (const concurrency of concurrencies) {
      const phases: Record<SignatureMode, LoadPhase[]> = { signed: [], unsigned: [] };
      // The best rate seen so far at this concurrency sizes the signed phase's supply of bodies.
      let expectedRps = 0;
      for (let round = 0; round < rounds; round++) {
        const order: FrontendProcess[] = round % 2 === 0 ? [pair.unsigned, pair.signed] : [pair.signed, pair.unsigned];
        for (const server of order) {
          // With nothing measured yet, enough for the unsigned rate of 2,000/s per client, capped at 5,000/s.
          const guess = expectedRps > 0 ? expectedRps : Math.min(5000, 2000 * concurrency);
          const count = Math.ceil((guess * (warmupMs + measureMs) * BODY_MARGIN) / 1000) + 2 * concurrency;
          const nextBody = bodies(server, pair, count, signing);
          const phase = await runLoad({
            url: server.url,
            caPem: pair.caPem,
            soapAction: OPERATION,
            concurrency,
            warmupMs,
            measureMs,
            nextBody,
            check,
            serverPid: server.pid,
          });
          phases[server.mode].push(phase);
          served[server.mode] += phase.answered;
          const rps = Math.round((phase.completed * 1000) / phase.windowMs);
          expectedRps = Math.max(expectedRps, rps);
          log(
            `signed: ${concurrency} client(s), round ${round + 1}, ${server.mode}: ${rps} req/s, ${phase.errors} errors` +
              (phase.bodiesRanOut ? ' (pre-signed bodies ran out: window cut short)' : ''),
          );
        }
      }
      const unsigned = summarizeLoad(phases.unsigned);
      const signed = summarizeLoad(phases.signed);
      rows.push({
        concurrency,
        unsigned,
        signed,
        ratio: Math.round((signed.requestsPerSecond / Math.max(1, unsigned.requestsPerSecond)) * 100) / 100,
      });
    }
    await options.beforeStop?.(pair);
    const at = rows.find((r) => r.concurrency === TARGET.concurrency);
    const request = describeAll();
    return {
      method: {
        concurrencies,
        frontendWorkers: pair.signed.servingPids.length,
        rounds,
        warmupMs,
        measureMsPerRound: measureMs,
        volumesInAnswer: ALICE_VOLUMES,
        requestBytes: {
          signed: Buffer.byteLength(signEnvelope(request, pair.alice)),
          unsigned: Buffer.byteLength(plainEnvelope(request)),
        },
        responseBytes: answers.sizes,
        answerSignature: answers.methods,
        clientSignMsPerRequest: signing.count > 0 ? Math.round((signing.ms / signing.count) * 1000) / 1000 : 0,
      },
      rows,
      requestsServed: served,
      target: {
        minRatio: Math.round(TARGET.minRatio * 1000) / 1000,
        ratioMet:
          rows.length > 0 &&
          rows.every((r) => r.signed.requestsPerSecond >= TARGET.minRatio * r.unsigned.requestsPerSecond),
        concurrency: TARGET.concurrency,
        minRequestsPerSecond: TARGET.minRequestsPerSecond,
        maxP99Ms: TARGET.maxP99Ms,
        requestsPerSecond: at?.signed.requestsPerSecond ?? null,
        p99Ms: at?.signed.p99Ms ?? null,
        throughputMet: at !== undefined && at.signed.requestsPerSecond >= TARGET.minRequestsPerSecond,
        p99Met: at !== undefined && at.signed.p99Ms < TARGET.maxP99Ms,
        noErrors: rows.every((r) => r.signed.errors === 0 && r.unsigned.errors === 0),
      },
    };
  });
}
