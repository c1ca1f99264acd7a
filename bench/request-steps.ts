/**
 * Why: the signed-request part says how fast the frontend answers; this part says what the security
 * steps of one request cost, each timed alone in one process, against a baseline timed in the same
 * rounds: checking a request's signature against a naive xml-crypto check, the parts of that check,
 * signing an answer against node-soap's signer and EC P-256 against RSA-2048, and the SQLite trust
 * store's lookup and reload against an in-memory map. Figures are ratios and medians; nothing is a
 * pass or fail. `node dist/bench/run.js --only=steps` runs this part alone (about a minute).
 */
import { MICRO_DEFAULTS, type MicroOptions } from './lib/micro-timing.js';
import { fmtUs, markdownTable } from './lib/table.js';
import { makeIdentities } from './request-steps/identities.js';
import type { StepSection } from './request-steps/section.js';
import { ANSWER_VOLUMES, signSteps } from './request-steps/sign-answer.js';
import { trustSteps } from './request-steps/trust-lookup.js';
import { verifySteps } from './request-steps/verify-request.js';

/** Users in the trust store besides alice: a small deployment, and enough to revoke one per reload. */
const OTHER_USERS = 200;

export interface RequestStepsResults {
  readonly method: MicroOptions & {
    readonly trustStoreCertificates: number;
    readonly requestBytes: Readonly<Record<string, number>>;
    readonly answerVolumes: number;
    readonly answerPayloadBytes: number;
  };
  readonly sections: readonly StepSection[];
  /** Parts not measured in this run, and why. */
  readonly skipped: readonly string[];
}

export async function runRequestSteps(
  log: (line: string) => void,
  options: MicroOptions = MICRO_DEFAULTS,
): Promise<RequestStepsResults> {
  log(`request steps: making a CA, keys and a trust store of ${OTHER_USERS + 1} certificates`);
  const ids = makeIdentities(OTHER_USERS);
  try {
    const verify = await verifySteps(ids, options, log);
    const sign = signSteps(ids, options, log);
    const trust = trustSteps(ids, options, log);
    return {
      method: {
        ...options,
        trustStoreCertificates: OTHER_USERS + 1,
        requestBytes: verify.requestBytes,
        answerVolumes: ANSWER_VOLUMES,
        answerPayloadBytes: sign.answerPayloadBytes,
      },
      sections: [...verify.sections, sign.section, trust],
      skipped: verify.skipped,
    };
  } finally {
    ids.close();
  }
}

export function requestStepsTables(results: RequestStepsResults): string {
  const out: string[] = [];
  for (const section of results.sections) {
    const labels = new Map(section.rows.map((r) => [r.id, r.step.trim().replace(/^of which: /, '')]));
    out.push(
      `### ${section.title}`,
      '',
      markdownTable(
        ['Step', 'CPU µs per call: median (min–max)', 'Wall µs', 'Compared with', 'Ratio (CPU, step / that)'],
        section.rows.map((r) => [
          r.step,
          `${fmtUs(r.timing.cpuUsPerCall)} (${fmtUs(r.timing.cpuMinUs)}–${fmtUs(r.timing.cpuMaxUs)})`,
          fmtUs(r.timing.wallUsPerCall),
          r.baseline === null ? '—' : (labels.get(r.baseline) ?? r.baseline),
          r.ratio === null ? '—' : `${r.ratio}×`,
        ]),
      ),
      '',
      ...section.notes.map((n) => `- ${n}`),
      '',
    );
  }
  if (results.skipped.length > 0) out.push(...results.skipped.map((s) => `- ${s}`), '');
  return out.join('\n');
}
