/**
 * Trust for service-to-service calls (a delegate's callback to the frontend, the frontend's calls to
 * a delegate): no store to consult, only the VBS CA. A caller is accepted when the VBS CA issued its
 * certificate, it is valid now, it is a service certificate (serverAuth extended key usage, which
 * ensureServiceTls gives and user certificates never have, so no enrolled user can pass as a
 * service), its key is EC P-256 (what ensureServiceTls issues) or RSA >= 2048 (issued before), and
 * `accept` allows its CN. The CA checks are cached by fingerprint; `accept` and the dates are checked
 * on every call.
 */
import { X509Certificate } from 'node:crypto';
import type { TrustedCertificate } from '../wssec/verify.js';
import { factsOf, fingerprintOf, hasUsableServiceKey, issuedBy } from './certificate-facts.js';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
/** Services are few; the bound only keeps a stream of distinct good certificates from growing memory. */
const MAX_CACHED = 1024;

interface ServiceEntry {
  readonly trusted: TrustedCertificate;
  readonly notBefore: number;
  readonly notAfter: number;
}

export function serviceResolver(
  caPem: string,
  accept: (cn: string) => boolean,
  now: () => number = Date.now,
): (tokenDer: Buffer) => TrustedCertificate | undefined {
  const ca = new X509Certificate(caPem);
  if (!ca.ca) throw new Error('the service trust CA certificate is not a CA');
  const cache = new Map<string, ServiceEntry>();
  return (tokenDer) => {
    const fp = fingerprintOf(tokenDer);
    let entry = cache.get(fp);
    if (!entry) {
      // Refusals are not cached: a stranger's certificate costs a parse, as its first request would.
      entry = serviceEntry(tokenDer, ca);
      if (!entry) return undefined;
      if (cache.size >= MAX_CACHED) cache.clear();
      cache.set(fp, entry);
    }
    const t = now();
    if (!(t >= entry.notBefore && t <= entry.notAfter)) return undefined;
    return accept(entry.trusted.userId) ? entry.trusted : undefined;
  };
}

function serviceEntry(der: Buffer, ca: X509Certificate): ServiceEntry | undefined {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(der);
  } catch {
    return undefined;
  }
  const facts = factsOf(x509);
  const cn = facts.commonName;
  // undefined when the certificate has no extendedKeyUsage, whatever @types/node says
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
  const eku = x509.keyUsage ?? [];
  if (
    cn === undefined ||
    cn === '' ||
    x509.ca ||
    !eku.includes(SERVER_AUTH) ||
    !hasUsableServiceKey(x509) ||
    !issuedBy(x509, ca)
  ) {
    return undefined;
  }
  return { trusted: { x509, userId: cn }, notBefore: facts.notBefore, notAfter: facts.notAfter };
}
