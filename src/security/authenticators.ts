/**
 * Who may call which endpoint, in one place. Every endpoint accepts only WS-Security X.509-signed
 * requests, verified before anything is routed (src/security/wssec/verify.ts):
 *  - the frontend's API (/vbs, /ec2): users whose certificate is in the trust store (issued by the VBS
 *    CA, or added by hand), not revoked; admins are the configured user IDs;
 *  - the frontend's callback and registry: Volume and VMM Delegates, by their service certificates;
 *  - the delegates: only the frontend's service certificate.
 */
import type { Principal } from '../core/principal.js';
import type { Authenticator } from '../soap/server.js';
import { wsSecurityAuthenticator } from './wssec/authenticator.js';
import { MemoryReplayCache, type ReplayCache, type ReplayLimits } from './wssec/replay-cache.js';
import type { TrustedCertificate, VerifyOptions } from './wssec/verify.js';
import { serviceResolver } from './truststore/service-trust.js';

export interface VerificationSettings {
  readonly clockSkewSeconds: number;
  /** EC2-era clients sign with rsa-sha1; off unless the operator turns it on. */
  readonly allowSha1: boolean;
}

export const DEFAULT_VERIFICATION: VerificationSettings = { clockSkewSeconds: 60, allowSha1: false };

function options(
  resolve: (der: Buffer) => TrustedCertificate | undefined,
  settings: VerificationSettings,
  replayCache: ReplayCache,
): VerifyOptions {
  return {
    resolveCertificate: resolve,
    now: () => new Date(),
    clockSkewSeconds: settings.clockSkewSeconds,
    replayCache,
    allowSha1: settings.allowSha1,
  };
}

/** One replay cache per process: a message seen by any endpoint of it is refused by all. */
export function newReplayCache(limits: ReplayLimits = {}): ReplayCache {
  return new MemoryReplayCache(limits);
}

export function userAuthenticator(
  resolveUser: (der: Buffer) => TrustedCertificate | undefined,
  admins: readonly string[],
  settings: VerificationSettings,
  replayCache: ReplayCache,
): Authenticator {
  return wsSecurityAuthenticator(options(resolveUser, settings, replayCache), (sender): Principal => ({
    userId: sender.userId,
    admin: admins.includes(sender.userId),
  }));
}

export function serviceAuthenticator(
  caPem: string,
  accept: (identity: string) => boolean,
  settings: VerificationSettings,
  replayCache: ReplayCache,
): Authenticator {
  return wsSecurityAuthenticator(
    options(serviceResolver(caPem, accept), settings, replayCache),
    (sender): Principal => ({
      userId: sender.userId,
      admin: false,
      service: sender.userId,
    }),
  );
}
