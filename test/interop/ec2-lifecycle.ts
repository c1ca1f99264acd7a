/**
 * The EBS life cycle as any EC2 SOAP client meets it, written once and run by each node-soap interop
 * test against its own client: zones; a 1 GiB volume to "available"; Describe by ID and by filterSet;
 * the attachment faults; a snapshot to "completed"/100%; a larger volume from it; deletion of it all;
 * and a clean InvalidVolume.NotFound fault. Steps are ordered `it`s sharing the IDs they made.
 *
 * node-soap types every operation and answer as `any`; here answers are `unknown` and every field is
 * read through a checking accessor, so a wrong shape fails as an assertion naming the field.
 */
import type { Agent } from 'node:https';
import { expect } from 'chai';
import type { Client } from 'soap';

export const ZONE = 'vbs-local-1a';
export const UNKNOWN_VOLUME = 'vol-0123456789abcdef0';
export const UNKNOWN_INSTANCE = 'i-0123456789abcdef0';

export type Operation =
  | 'CreateVolume'
  | 'DeleteVolume'
  | 'DescribeVolumes'
  | 'AttachVolume'
  | 'DetachVolume'
  | 'CreateSnapshot'
  | 'DeleteSnapshot'
  | 'DescribeSnapshots'
  | 'DescribeAvailabilityZones';

export type Obj = Readonly<Record<string, unknown>>;

/** What a client saw of a SOAP fault: the parsed Fault, the raw body, and the HTTP request-ID header. */
export interface SeenFault {
  readonly faultcode: string;
  readonly faultstring: string;
  readonly code: string;
  readonly message: string;
  readonly requestId: string;
  readonly detailKeys: readonly string[];
  readonly faultKeys: readonly string[];
  readonly rawBody: string;
  readonly headerRequestId: string | undefined;
}

export interface Ec2Api {
  call(operation: Operation, args: Obj): Promise<Obj>;
  /** Runs a call that must fail with a SOAP fault and returns it; a success fails the test. */
  fault(operation: Operation, args: Obj): Promise<SeenFault>;
  /** Where the last request was sent. */
  lastEndpoint(): string | undefined;
}

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function obj(v: unknown, what: string): Obj {
  if (!isObj(v)) expect.fail(`${what}: expected an element with children, got ${JSON.stringify(v)}`);
  return v;
}

export function text(o: Obj, key: string): string {
  const v = o[key];
  if (typeof v !== 'string') expect.fail(`${key}: expected text, got ${JSON.stringify(v)} in ${JSON.stringify(o)}`);
  return v;
}

/** An optional string element: node-soap gives '' or leaves out an empty one. */
export function optionalText(o: Obj, key: string): string {
  const v = o[key];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') expect.fail(`${key}: expected text, got ${JSON.stringify(v)}`);
  return v;
}

export function date(o: Obj, key: string): Date {
  const v = o[key];
  if (!(v instanceof Date) || Number.isNaN(v.getTime()))
    expect.fail(`${key}: expected an xs:dateTime, got ${JSON.stringify(v)}`);
  return v;
}

/** The `item`s of a set element (`volumeSet`, …), whether node-soap made an array, one object or nothing. */
export function items(o: Obj, set: string): Obj[] {
  const container = o[set];
  if (container === undefined || container === null || container === '') return [];
  const item = obj(container, set)['item'];
  if (item === undefined || item === null) return [];
  return (Array.isArray(item) ? item : [item]).map((x, i) => obj(x, `${set}.item[${i}]`));
}

function filterSet(filters: Readonly<Record<string, string>>): Obj {
  return { item: Object.entries(filters).map(([name, value]) => ({ name, valueSet: { item: [{ value }] } })) };
}

/** An Ec2Api over a node-soap client, with the HTTPS agent that trusts the cluster's CA. */
export function nodeSoapApi(client: Client, agent: Agent): Ec2Api {
  const method = (operation: Operation): ((args: Obj, options: Obj) => Promise<unknown>) => {
    const fn: unknown = (client as unknown as Record<string, unknown>)[`${operation}Async`];
    if (typeof fn !== 'function') expect.fail(`the client has no operation ${operation}`);
    return (args, options) => (fn as (a: Obj, o: Obj) => Promise<unknown>).call(client, args, options);
  };
  return {
    async call(operation, args) {
      const answer = await method(operation)(args, { httpsAgent: agent });
      if (!Array.isArray(answer)) expect.fail(`${operation}: node-soap answered ${typeof answer}`);
      return obj(answer[0], `${operation} result`);
    },
    async fault(operation, args) {
      let error: unknown;
      try {
        await method(operation)(args, { httpsAgent: agent });
      } catch (e) {
        error = e;
      }
      if (error === undefined) expect.fail(`${operation}: expected a SOAP fault, the call succeeded`);
      return seenFault(error);
    },
    lastEndpoint: () => client.lastEndpoint,
  };
}

function seenFault(error: unknown): SeenFault {
  const e = obj(error, 'error');
  const root = obj(e['root'], 'error.root (no SOAP fault parsed)');
  const fault = obj(obj(obj(root['Envelope'], 'Envelope')['Body'], 'Body')['Fault'], 'Fault');
  const detail = obj(fault['detail'], 'Fault.detail');
  const errorItem = obj(detail['Error'], 'detail.Error');
  const response = isObj(e['response']) ? e['response'] : {};
  const headers = isObj(response['headers']) ? response['headers'] : {};
  const header = headers['x-vbs-request-id'];
  const data = response['data'];
  return {
    faultcode: text(fault, 'faultcode'),
    faultstring: text(fault, 'faultstring'),
    code: text(errorItem, 'Code'),
    message: text(errorItem, 'Message'),
    requestId: text(errorItem, 'RequestID'),
    detailKeys: Object.keys(detail),
    faultKeys: Object.keys(fault),
    rawBody: typeof data === 'string' ? data : '',
    headerRequestId: typeof header === 'string' ? header : undefined,
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** What must never reach a client inside a fault: stack frames, source paths, internal names. */
const LEAKS = [
  /\n\s+at /,
  /\.(?:js|ts|mjs|py):\d+/,
  /node_modules/,
  /\/work\/|\/tmp\//,
  /SQLITE|sqlite/,
  /\b(?:TypeError|ReferenceError|RangeError)\b/,
  /stack/i,
];

export function expectCleanFault(f: SeenFault, code: string): void {
  expect(f.faultcode).to.equal(`soap:Client.${code}`);
  expect(f.code).to.equal(code);
  expect(f.message).to.equal(f.faultstring);
  expect(f.requestId).to.match(UUID);
  expect(f.headerRequestId, 'x-vbs-request-id header').to.equal(f.requestId);
  expect(f.faultKeys).to.have.members(['faultcode', 'faultstring', 'detail']);
  // One element in detail (vbs:Error), as strict toolkits read it (src/soap/faults.ts).
  expect(f.detailKeys).to.deep.equal(['Error']);
  expect(f.rawBody, 'raw fault body').to.include(`<vbs:RequestID>${f.requestId}</vbs:RequestID>`);
  for (const leak of LEAKS) {
    expect(f.faultstring, 'faultstring').not.to.match(leak);
    expect(f.rawBody, 'raw fault body').not.to.match(leak);
  }
}

export async function until<T>(
  what: string,
  fetch: () => Promise<T>,
  done: (v: T) => boolean,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fetch();
    if (done(v)) return v;
    if (Date.now() > deadline)
      expect.fail(`${what}: not reached within ${timeoutMs} ms; last answer ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Defines the life-cycle steps as ordered `it`s inside the caller's `describe`. */
export function defineLifecycle(api: () => Ec2Api, description: string): void {
  let volumeId = '';
  let snapshotId = '';
  let restoredId = '';
  const need = (id: string, what: string): string => id || expect.fail(`an earlier step failed: no ${what}`);
  const describeVolume = async (id: string): Promise<Obj> => {
    const found = items(await api().call('DescribeVolumes', { volumeSet: { item: [{ volumeId: id }] } }), 'volumeSet');
    expect(found.map((v) => text(v, 'volumeId'))).to.deep.equal([id]);
    return found[0] ?? expect.fail('no item');
  };
  const describeSnapshot = async (id: string): Promise<Obj> => {
    const found = items(
      await api().call('DescribeSnapshots', { snapshotSet: { item: [{ snapshotId: id }] } }),
      'snapshotSet',
    );
    expect(found.map((s) => text(s, 'snapshotId'))).to.deep.equal([id]);
    return found[0] ?? expect.fail('no item');
  };
  const volumeIds = async (filters: Readonly<Record<string, string>>): Promise<string[]> =>
    items(await api().call('DescribeVolumes', { volumeSet: {}, filterSet: filterSet(filters) }), 'volumeSet').map((v) =>
      text(v, 'volumeId'),
    );

  it('lists the availability zone', async () => {
    const answer = await api().call('DescribeAvailabilityZones', { availabilityZoneSet: {} });
    expect(text(answer, 'requestId')).to.match(UUID);
    const zones = items(answer, 'availabilityZoneInfo');
    expect(zones.map((z) => text(z, 'zoneName'))).to.include(ZONE);
    const zone = zones.find((z) => z['zoneName'] === ZONE) ?? expect.fail('no zone');
    expect(text(zone, 'zoneState')).to.equal('available');
    expect(text(zone, 'regionName')).to.not.equal('');
  });

  it('creates a 1 GiB volume that becomes available', async () => {
    const before = Date.now();
    const created = await api().call('CreateVolume', { size: '1', availabilityZone: ZONE });
    volumeId = text(created, 'volumeId');
    expect(volumeId).to.match(/^vol-[0-9a-f]{17}$/);
    expect(text(created, 'size')).to.equal('1');
    expect(text(created, 'availabilityZone')).to.equal(ZONE);
    expect(optionalText(created, 'snapshotId')).to.equal('');
    expect(text(created, 'status')).to.be.oneOf(['creating', 'available']);
    expect(Math.abs(date(created, 'createTime').getTime() - before)).to.be.below(60_000);
    const v = await until(
      'volume available',
      () => describeVolume(volumeId),
      (x) => x['status'] !== 'creating',
    );
    expect(text(v, 'status')).to.equal('available');
  });

  it('describes the volume by ID and by filterSet (status, volume-id, size)', async () => {
    const id = need(volumeId, 'volume');
    const v = await describeVolume(id);
    expect(text(v, 'size')).to.equal('1');
    expect(text(v, 'availabilityZone')).to.equal(ZONE);
    expect(text(v, 'status')).to.equal('available');
    expect(items(v, 'attachmentSet')).to.deep.equal([]);
    expect(await volumeIds({ status: 'available', 'volume-id': id, size: '1' })).to.deep.equal([id]);
    expect(await volumeIds({ 'volume-id': id, size: '2' })).to.deep.equal([]);
    expect(await volumeIds({ 'volume-id': id, status: 'creating' })).to.deep.equal([]);
  });

  it('refuses AttachVolume to an unknown instance and DetachVolume of an unattached volume', async () => {
    const id = need(volumeId, 'volume');
    const attach = await api().fault('AttachVolume', {
      volumeId: id,
      instanceId: UNKNOWN_INSTANCE,
      device: '/dev/sdf',
    });
    expectCleanFault(attach, 'InvalidInstanceID.NotFound');
    expect(attach.faultstring).to.include(UNKNOWN_INSTANCE);
    expectCleanFault(await api().fault('DetachVolume', { volumeId: id }), 'IncorrectState');
    expect(text(await describeVolume(id), 'status')).to.equal('available');
  });

  it('snapshots the volume to completed at 100%', async () => {
    const id = need(volumeId, 'volume');
    const created = await api().call('CreateSnapshot', { volumeId: id, description });
    snapshotId = text(created, 'snapshotId');
    expect(snapshotId).to.match(/^snap-[0-9a-f]{17}$/);
    expect(text(created, 'volumeId')).to.equal(id);
    expect(text(created, 'status')).to.be.oneOf(['pending', 'completed']);
    expect(text(created, 'progress')).to.match(/^\d{1,3}%$/);
    expect(text(created, 'volumeSize')).to.equal('1');
    const s = await until(
      'snapshot done',
      () => describeSnapshot(snapshotId),
      (x) => x['status'] !== 'pending',
    );
    expect(text(s, 'status')).to.equal('completed');
    expect(text(s, 'progress')).to.equal('100%');
  });

  it('describes the snapshot by ID and by filterSet', async () => {
    const sid = need(snapshotId, 'snapshot');
    const s = await describeSnapshot(sid);
    expect(text(s, 'volumeId')).to.equal(volumeId);
    expect(text(s, 'volumeSize')).to.equal('1');
    expect(text(s, 'description')).to.equal(description);
    expect(text(s, 'ownerId')).to.not.equal('');
    date(s, 'startTime');
    const byFilter = async (filters: Readonly<Record<string, string>>): Promise<string[]> =>
      items(
        await api().call('DescribeSnapshots', { snapshotSet: {}, filterSet: filterSet(filters) }),
        'snapshotSet',
      ).map((x) => text(x, 'snapshotId'));
    expect(await byFilter({ 'snapshot-id': sid, 'volume-id': volumeId, status: 'completed' })).to.deep.equal([sid]);
    expect(await byFilter({ 'volume-id': volumeId, progress: '100%' })).to.deep.equal([sid]);
    expect(await byFilter({ 'snapshot-id': sid, status: 'pending' })).to.deep.equal([]);
  });

  it('creates a larger volume from the snapshot', async () => {
    const sid = need(snapshotId, 'snapshot');
    const created = await api().call('CreateVolume', { size: '2', snapshotId: sid, availabilityZone: ZONE });
    restoredId = text(created, 'volumeId');
    expect(restoredId)
      .to.match(/^vol-[0-9a-f]{17}$/)
      .and.not.equal(volumeId);
    expect(text(created, 'size')).to.equal('2');
    expect(text(created, 'snapshotId')).to.equal(sid);
    const v = await until(
      'restored volume available',
      () => describeVolume(restoredId),
      (x) => x['status'] !== 'creating',
    );
    expect(text(v, 'status')).to.equal('available');
    expect(text(v, 'size')).to.equal('2');
    expect(text(v, 'snapshotId')).to.equal(sid);
    expect(await volumeIds({ 'snapshot-id': sid })).to.deep.equal([restoredId]);
  });

  it('deletes the snapshot once the volume made from it is available', async () => {
    const sid = need(snapshotId, 'snapshot');
    expect(text(await describeVolume(need(restoredId, 'restored volume')), 'status')).to.equal('available');
    const answer = await api().call('DeleteSnapshot', { snapshotId: sid });
    expect(answer['return']).to.equal(true);
    expectCleanFault(
      await api().fault('DescribeSnapshots', { snapshotSet: { item: [{ snapshotId: sid }] } }),
      'InvalidSnapshot.NotFound',
    );
    // The volume made from the snapshot does not depend on it.
    expect(text(await describeVolume(restoredId), 'status')).to.equal('available');
  });

  it('deletes both volumes, which are then gone', async () => {
    const ids = [need(restoredId, 'restored volume'), need(volumeId, 'volume')];
    for (const id of ids) expect((await api().call('DeleteVolume', { volumeId: id }))['return']).to.equal(true);
    for (const id of ids) {
      const f = await api().fault('DescribeVolumes', { volumeSet: { item: [{ volumeId: id }] } });
      expectCleanFault(f, 'InvalidVolume.NotFound');
      expect(f.faultstring).to.include(id);
    }
    const listed = items(await api().call('DescribeVolumes', { volumeSet: {} }), 'volumeSet').map((v) =>
      text(v, 'volumeId'),
    );
    for (const id of ids) expect(listed).to.not.include(id);
  });

  it('answers an unknown volume ID with a clean Client.InvalidVolume.NotFound fault', async () => {
    const f = await api().fault('DescribeVolumes', { volumeSet: { item: [{ volumeId: UNKNOWN_VOLUME }] } });
    expectCleanFault(f, 'InvalidVolume.NotFound');
    expect(f.faultstring).to.equal(`The volume '${UNKNOWN_VOLUME}' does not exist.`);
  });
}
