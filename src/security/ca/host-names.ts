/** The DNS names and IP addresses a service certificate's subjectAltName may carry. */
import { isIP } from 'node:net';

const DNS_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

export function checkDnsName(name: string): void {
  if (name.length > 253 || !name.split('.').every((label) => DNS_LABEL.test(label))) {
    throw new Error(`not a DNS name: ${JSON.stringify(name)}`);
  }
}

export function checkIpAddress(ip: string): void {
  if (isIP(ip) === 0) throw new Error(`not an IP address: ${JSON.stringify(ip)}`);
}
