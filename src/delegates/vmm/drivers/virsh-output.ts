/**
 * Readers for what libvirt's `virsh` prints, kept apart from the driver so the formats are in one place.
 *
 * `virsh list` (tools/virsh-domain-monitor.c, cmdList, printed by vsh-table.c): a header row
 * " Id   Name   State", a line of dashes, then one row per active domain. Each cell is printed as
 * " %s" and padded to its column's widest cell plus two spaces, so every column starts at the same
 * offset in every row; the header gives the offsets. States are words, some of two ("shut off").
 *
 * `virsh dumpxml DOMAIN`: the live domain XML; each <disk> has <source file|dev=…>, <target dev=…>,
 * and <readonly/> and <serial> when set. libvirt escapes attribute and text values, so paths come
 * back exactly as given. Its <metadata> holds one element per namespace that applications set
 * (`virsh metadata DOMAIN URI --key PREFIX --set XML`, virDomainSetMetadata): libvirt puts every
 * element of the given XML that has no namespace into URI (virXMLInjectNamespace) and keeps the
 * first element of each namespace only (virXMLNodeSanitizeNamespaces).
 */
import { DOMParser, type Element } from '@xmldom/xmldom';
import { LIBVIRT_METADATA_NS } from './instance-owner.js';

export interface VirshDomain {
  readonly name: string;
  /** running, paused, idle, in shutdown, shut off, crashed, pmsuspended… */
  readonly state: string;
}

export interface VirshDisk {
  /** disk, cdrom, floppy or lun. */
  readonly device: string;
  /** The source file (or block device); undefined for an empty drive. */
  readonly source: string | undefined;
  /** The target device without /dev/, e.g. vdb. */
  readonly target: string;
  readonly readonly: boolean;
  readonly serial: string | undefined;
}

export function parseVirshList(stdout: string): VirshDomain[] {
  const lines = stdout.split('\n');
  const headerAt = lines.findIndex((l) => /^\s*Id\s+Name\s+State\b/.test(l));
  const header = lines[headerAt];
  if (header === undefined)
    throw new Error(`virsh list printed no table header: ${JSON.stringify(stdout.slice(0, 200))}`);
  const nameAt = header.indexOf('Name');
  const stateAt = header.indexOf('State', nameAt);
  const domains: VirshDomain[] = [];
  for (const line of lines.slice(headerAt + 1)) {
    if (line.trim() === '' || /^-+$/.test(line.trim())) continue;
    const name = line.slice(nameAt, stateAt).trim();
    const state = line.slice(stateAt).trim();
    if (name === '' || state === '') throw new Error(`unexpected line in virsh list output: ${JSON.stringify(line)}`);
    domains.push({ name, state });
  }
  return domains;
}

function childElements(parent: Element, name: string): Element[] {
  const found: Element[] = [];
  for (let n = parent.firstChild; n !== null; n = n.nextSibling) {
    if (n.nodeType === n.ELEMENT_NODE && (n as Element).tagName === name) found.push(n as Element);
  }
  return found;
}

/** Child elements by namespace and local name (any prefix). */
function childElementsNs(parent: Element, ns: string | null, localName: string): Element[] {
  const found: Element[] = [];
  for (let n = parent.firstChild; n !== null; n = n.nextSibling) {
    if (n.nodeType !== n.ELEMENT_NODE) continue;
    const e = n as Element;
    if (e.localName === localName && (e.namespaceURI ?? null) === ns) found.push(e);
  }
  return found;
}

export interface VirshDomainXml {
  readonly disks: VirshDisk[];
  /**
   * The text of <owner> in VBS's <instance> element of the domain's <metadata> (namespace
   * LIBVIRT_METADATA_NS), as given; undefined when there is none.
   */
  readonly owner: string | undefined;
}

export function parseDomain(xml: string): VirshDomainXml {
  let problem: string | undefined;
  const doc = new DOMParser({
    onError: (level, msg) => {
      if (level !== 'warning') problem ??= msg;
    },
  }).parseFromString(xml, 'text/xml');
  const domain = doc.documentElement;
  if (problem !== undefined || !domain || domain.tagName !== 'domain') {
    throw new Error(`virsh dumpxml printed no domain XML${problem ? `: ${problem}` : ''}`);
  }
  const disks: VirshDisk[] = [];
  for (const devices of childElements(domain, 'devices')) {
    for (const disk of childElements(devices, 'disk')) {
      const source = childElements(disk, 'source')[0];
      const target = childElements(disk, 'target')[0]?.getAttribute('dev');
      if (!target) continue;
      const serial = childElements(disk, 'serial')[0]?.textContent ?? undefined;
      disks.push({
        device: disk.getAttribute('device') || 'disk',
        source: source?.getAttribute('file') || source?.getAttribute('dev') || undefined,
        target,
        readonly: childElements(disk, 'readonly').length > 0,
        serial,
      });
    }
  }
  return { disks, owner: vbsOwner(domain) };
}

function vbsOwner(domain: Element): string | undefined {
  const metadata = childElements(domain, 'metadata')[0];
  const instance = metadata && childElementsNs(metadata, LIBVIRT_METADATA_NS, 'instance')[0];
  if (!instance) return undefined;
  // libvirt puts <owner> in the namespace too; a hand-written definition may leave it unqualified.
  const owner =
    childElementsNs(instance, LIBVIRT_METADATA_NS, 'owner')[0] ?? childElementsNs(instance, null, 'owner')[0];
  return owner ? (owner.textContent ?? '') : undefined;
}
