/**
 * The signed wsu:Timestamp: what makes a captured request useless after a few minutes, and what
 * bounds how long the replay cache must remember it. EC2's rule is a 5-minute life. node-soap's
 * WSSecurityCert always writes Expires = Created + 10 minutes, so a longer Expires is not refused:
 * the request's life ends at the earlier of Expires and Created + maxAge, which is the same rule.
 */
import type { Element } from '@xmldom/xmldom';
import { WSU_NS } from './names.js';
import { authFailure, isElement, structuralChildren, textOnly } from './strict-xml.js';

export interface TimestampLimits {
  readonly now: Date;
  readonly clockSkewSeconds: number;
  readonly maxAgeSeconds: number;
}

export interface TimestampWindow {
  readonly created: number;
  /** Epoch ms after which the request is refused anyway: the replay cache may forget it then. */
  readonly acceptedUntil: number;
}

// xsd:dateTime with a required time zone; a local time means nothing between two hosts.
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

function instant(el: Element, what: string): number {
  const text = textOnly(el, what).trim();
  const m = DATE_TIME.exec(text);
  const ms = m ? Date.parse(text.replace(/(\.\d{3})\d+/, '$1')) : NaN;
  if (!m || Number.isNaN(ms)) {
    throw authFailure(
      `The Timestamp's ${what} must be an xsd:dateTime with a time zone, such as 2010-08-31T12:00:00Z.`,
    );
  }
  return ms;
}

export function checkTimestamp(timestamp: Element, limits: TimestampLimits): TimestampWindow {
  const [createdEl, expiresEl, ...rest] = structuralChildren(timestamp, 'Timestamp');
  if (
    !createdEl ||
    !isElement(createdEl, WSU_NS, 'Created') ||
    !expiresEl ||
    !isElement(expiresEl, WSU_NS, 'Expires') ||
    rest.length > 0
  ) {
    throw authFailure('The Timestamp must hold wsu:Created and then wsu:Expires.');
  }
  const created = instant(createdEl, 'Created');
  const expires = instant(expiresEl, 'Expires');
  if (expires <= created) throw authFailure('The Timestamp expires before it was created.');
  const now = limits.now.getTime();
  const skew = limits.clockSkewSeconds * 1000;
  if (created > now + skew) {
    throw authFailure('The request Timestamp is in the future; check the client clock.');
  }
  const acceptedUntil = Math.min(expires, created + limits.maxAgeSeconds * 1000) + skew;
  if (now >= acceptedUntil) {
    throw authFailure(
      `The request Timestamp has expired; requests are accepted for ${limits.maxAgeSeconds} seconds after Created.`,
    );
  }
  return { created, acceptedUntil };
}
