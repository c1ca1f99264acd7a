/**
 * Readers for what Xen's `xl` prints, kept apart from the driver so the formats are in one place.
 *
 * `xl list` (tools/xl/xl_info.c, list_domains): a header, then one row per domain,
 *   printf("%-40s %5d %5lu %5d     %c%c%c%c%c%c  %8.1f", name, domid, MiB, vcpus, r b p s <reason> d, cpu s)
 * where the six state letters are running, blocked, paused, shutdown, the shutdown reason (c: crash)
 * and dying, each "-" when unset. Domain-0 is always the first row.
 *
 * `xl list -l [DOMAIN]` (list_domains_details): with the default output_format ("json" in xl.conf) a
 * JSON array of {"domid": N, "config": libxl_domain_config}. The config is libxl's stored one, kept up
 * to date by block-attach/block-detach and trimmed to the devices present in xenstore, so its "disks"
 * are what the domain holds now. libxl's JSON leaves out fields at their default: "disks" is absent
 * when empty and a disk's "readwrite" is absent when 0 (read-only).
 */
export interface XlDomain {
  readonly name: string;
  readonly domid: number;
  /** running, blocked, paused, shutdown, crashed or dying. */
  readonly state: string;
}

export interface XlDisk {
  /** The disk's target (pdev_path): for VBS, the volume file. */
  readonly target: string;
  /** The guest device without /dev/, e.g. xvdb. */
  readonly vdev: string;
  readonly readwrite: boolean;
}

const LIST_ROW = /^(.*?)\s+(\d+)\s+\d+\s+\d+\s+([-rbpscdS?]{6})\s+\S+/;

function stateWord(flags: string): string {
  if (flags[5] === 'd') return 'dying';
  if (flags[3] === 's') return flags[4] === 'c' ? 'crashed' : 'shutdown';
  if (flags[2] === 'p') return 'paused';
  if (flags[1] === 'b') return 'blocked';
  return 'running';
}

export function parseXlList(stdout: string): XlDomain[] {
  const domains: XlDomain[] = [];
  for (const line of stdout.split('\n')) {
    if (line.startsWith('Name ') || line.trim() === '') continue;
    const m = LIST_ROW.exec(line);
    if (!m || m[1] === undefined || m[2] === undefined || m[3] === undefined) {
      throw new Error(`unexpected line in xl list output: ${JSON.stringify(line)}`);
    }
    domains.push({ name: m[1], domid: Number(m[2]), state: stateWord(m[3]) });
  }
  return domains;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The disks of every domain in `xl list -l` output, by domain name. */
export function parseXlListLong(stdout: string): Map<string, XlDisk[]> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout.trim() === '' ? '[]' : stdout);
  } catch {
    throw new Error('xl list -l did not print JSON (is output_format="sxp" set in xl.conf?)');
  }
  if (!Array.isArray(parsed)) throw new Error('xl list -l did not print a JSON array');
  const byName = new Map<string, XlDisk[]>();
  for (const entry of parsed) {
    const config = isRecord(entry) ? entry['config'] : undefined;
    const cInfo = isRecord(config) ? config['c_info'] : undefined;
    const name = isRecord(cInfo) ? cInfo['name'] : undefined;
    if (!isRecord(config) || typeof name !== 'string') continue;
    const disks: XlDisk[] = [];
    const list = config['disks'];
    for (const d of Array.isArray(list) ? list : []) {
      if (!isRecord(d)) continue;
      const target = d['pdev_path'];
      const vdev = d['vdev'];
      if (typeof target !== 'string' || typeof vdev !== 'string') continue;
      disks.push({ target, vdev, readwrite: d['readwrite'] === 1 || d['readwrite'] === true });
    }
    byName.set(name, disks);
  }
  return byName;
}
