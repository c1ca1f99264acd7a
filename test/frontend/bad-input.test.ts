/**
 * Bad input, sent to the real frontend over HTTPS: each request gets the right EC2 fault, with a
 * request ID and nothing internal in it, and changes nothing (same records, same files).
 */
import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { startCluster, type Cluster } from '../support/services.js';
import { ec2Client, faultOf, waitForVolume, type Ec2Client } from '../support/ec2-client.js';
import { waitFor } from '../support/wait.js';
import { EC2_NS, envelope, faultCode, rawPost } from '../support/raw-soap.js';
import { signEnvelope } from '../../src/security/wssec/sign.js';

const ZONE = 'vbs-local-1a';
/** An operation's element; the test signs it as alice before sending. */
const op = (name: string, inner: string): string => `<${name} xmlns="${EC2_NS}">${inner}</${name}>`;
const createVolume = (size: string, zone = ZONE, extra = ''): string =>
  op(
    'CreateVolume',
    `${size === '' ? '' : `<size>${size}</size>`}<availabilityZone>${zone}</availabilityZone>${extra}`,
  );

describe('bad input to the frontend', function () {
  this.timeout(60_000);
  let cluster: Cluster;
  let client: Ec2Client;
  let volumeId: string;

  async function state(): Promise<string> {
    const v = await client.call('DescribeVolumes', { volumeSet: {} });
    const s = await client.call('DescribeSnapshots', { snapshotSet: {} });
    const files = ['volumes', 'snapshots']
      .flatMap((d) => readdirSync(join(cluster.home, 'volumes', d)).map((f) => `${d}/${f}`))
      .sort();
    return JSON.stringify({
      v: v.volumeSet.item?.map((i) => [i.volumeId, i.status]),
      s: s.snapshotSet.item?.map((i) => [i.snapshotId, i.status]),
      files,
    });
  }

  before(async () => {
    cluster = await startCluster();
    client = ec2Client(cluster);
    volumeId = (await client.call('CreateVolume', { size: '1', availabilityZone: ZONE })).volumeId;
    await waitForVolume(client, volumeId, ['available']);
  });
  after(async () => {
    client.close();
    await cluster.stop();
  });

  const cases: readonly [string, string, string, Record<string, string>?][] = [
    ['size 0', createVolume('0'), 'InvalidParameterValue'],
    ['a negative size', createVolume('-1'), 'InvalidParameterValue'],
    ['a size over the maximum', createVolume('16385'), 'InvalidParameterValue'],
    ['a huge size', createVolume('99999999999999999999'), 'InvalidParameterValue'],
    ['a non-numeric size', createVolume('ten'), 'InvalidParameterValue'],
    ['a fractional size', createVolume('1.5'), 'InvalidParameterValue'],
    ['no size and no snapshot', createVolume(''), 'MissingParameter'],
    ['no zone', op('CreateVolume', '<size>1</size>'), 'MissingParameter'],
    ['an unknown zone', createVolume('1', 'us-east-1a'), 'InvalidZone.NotFound'],
    ['an unknown volume type', createVolume('1', ZONE, '<volumeType>gold</volumeType>'), 'InvalidParameterValue'],
    ['an unknown element', createVolume('1', ZONE, '<color>red</color>'), 'UnknownParameter'],
    [
      'a volume from an unknown snapshot',
      op('CreateVolume', `<snapshotId>snap-0123456789abcdef0</snapshotId><availabilityZone>${ZONE}</availabilityZone>`),
      'InvalidSnapshot.NotFound',
    ],
    [
      'a volume from a malformed snapshot ID',
      op('CreateVolume', `<snapshotId>../etc</snapshotId><availabilityZone>${ZONE}</availabilityZone>`),
      'InvalidSnapshotID.Malformed',
    ],
    [
      'deleting an unknown volume',
      op('DeleteVolume', '<volumeId>vol-0123456789abcdef0</volumeId>'),
      'InvalidVolume.NotFound',
    ],
    [
      'deleting a malformed volume ID',
      op('DeleteVolume', '<volumeId>vol-../../x</volumeId>'),
      'InvalidVolumeID.Malformed',
    ],
    [
      'describing an unknown volume',
      op('DescribeVolumes', '<volumeSet><item><volumeId>vol-0123abcd</volumeId></item></volumeSet>'),
      'InvalidVolume.NotFound',
    ],
    [
      'describing with an unknown filter',
      op(
        'DescribeVolumes',
        '<volumeSet/><filterSet><item><name>colour</name><valueSet><item><value>x</value></item></valueSet></item></filterSet>',
      ),
      'InvalidParameterValue',
    ],
    [
      'a snapshot of an unknown volume',
      op('CreateSnapshot', '<volumeId>vol-0123abcd</volumeId>'),
      'InvalidVolume.NotFound',
    ],
    [
      'a description over 255 characters',
      op('CreateSnapshot', `<volumeId>VOLUME</volumeId><description>${'d'.repeat(256)}</description>`),
      'InvalidParameterValue',
    ],
    [
      'deleting an unknown snapshot',
      op('DeleteSnapshot', '<snapshotId>snap-0123abcd</snapshotId>'),
      'InvalidSnapshot.NotFound',
    ],
    [
      'describing an unknown snapshot',
      op('DescribeSnapshots', '<snapshotSet><item><snapshotId>snap-0123abcd</snapshotId></item></snapshotSet>'),
      'InvalidSnapshot.NotFound',
    ],
    ['detaching a volume that is not attached', op('DetachVolume', '<volumeId>VOLUME</volumeId>'), 'IncorrectState'],
    [
      'attaching to an instance no hypervisor knows',
      op('AttachVolume', '<volumeId>VOLUME</volumeId><instanceId>i-12345678</instanceId><device>/dev/vdb</device>'),
      'InvalidInstanceID.NotFound',
    ],
    ['an unknown operation', op('RunInstances', '<imageId>ami-1</imageId>'), 'InvalidAction'],
    [
      'an operation in another namespace',
      '<CreateVolume xmlns="urn:evil"><size>1</size></CreateVolume>',
      'InvalidAction',
    ],
    [
      'a SOAPAction naming another operation',
      op('DeleteVolume', '<volumeId>VOLUME</volumeId>'),
      'InvalidAction',
      { soapaction: '"CreateVolume"' },
    ],
  ];

  /** Bytes no SOAP client would send: refused before anyone is authenticated. */
  const rawCases: readonly [string, string, string][] = [
    [
      'malformed XML',
      '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><CreateVolume>',
      'InvalidRequest',
    ],
    ['not SOAP at all', '{"Action":"CreateVolume"}', 'InvalidRequest'],
    [
      'a DOCTYPE with entities',
      `<!DOCTYPE x [<!ENTITY big "${'a'.repeat(100)}">]>${envelope(createVolume('1'))}`,
      'InvalidRequest',
    ],
    [
      'two Bodies',
      `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><DeleteVolume xmlns="${EC2_NS}"><volumeId>VOLUME</volumeId></DeleteVolume></soap:Body><soap:Body/></soap:Envelope>`,
      'InvalidRequest',
    ],
  ];

  const signed = (payload: string): string => signEnvelope(payload.replace(/VOLUME/g, volumeId), cluster.users.alice);

  const expectFault = async (body: string, code: string, headers?: Record<string, string>): Promise<void> => {
    const before = await state();
    const answer = await rawPost(cluster.frontendUrl, cluster.caPem, body, headers);
    expect(answer.status).to.equal(500);
    expect(faultCode(answer)).to.equal(code);
    expect(answer.body).to.match(/<vbs:RequestID>[0-9a-f-]{36}<\/vbs:RequestID>/);
    expect(answer.body).to.not.match(/\bat .*\.js|\/work\/|node_modules|Error:/);
    expect(await state()).to.equal(before);
  };

  for (const [name, payload, code, headers] of cases) {
    it(`answers ${name} with ${code}, and changes nothing`, () => expectFault(signed(payload), code, headers));
  }

  for (const [name, body, code] of rawCases) {
    it(`answers ${name} with ${code}, and changes nothing`, () => expectFault(body.replace(/VOLUME/g, volumeId), code));
  }

  it('refuses an oversized body with RequestEntityTooLarge (HTTP 413) before reading it', async () => {
    const before = await state();
    const answer = await rawPost(
      cluster.frontendUrl,
      cluster.caPem,
      signed(createVolume('1', ZONE, `<!--${'x'.repeat(2 * 1024 * 1024)}-->`)),
    );
    expect(answer.status).to.equal(413);
    expect(faultCode(answer)).to.equal('RequestEntityTooLarge');
    expect(await state()).to.equal(before);
  });

  it('refuses a gzip-encoded body', async () => {
    const before = await state();
    const answer = await rawPost(cluster.frontendUrl, cluster.caPem, gzipSync(signed(createVolume('1'))), {
      'content-encoding': 'gzip',
    });
    expect(faultCode(answer)).to.equal('InvalidRequest');
    expect(await state()).to.equal(before);
  });

  it('deletes a volume that is still being created: its job stops and leaves no file behind', async () => {
    const slow = await client.call('CreateVolume', { size: '2', availabilityZone: ZONE, volumeType: 'zero' });
    const dir = join(cluster.home, 'volumes', 'volumes');
    const ofSlow = (): string[] => readdirSync(dir).filter((f) => f.startsWith(`${slow.volumeId}.`));
    await waitFor('the zero-fill to start', ofSlow, (files) => files.length > 0);
    await client.call('DeleteVolume', { volumeId: slow.volumeId });
    const gone = await faultOf(client.call('DescribeVolumes', { volumeSet: { item: [{ volumeId: slow.volumeId }] } }));
    expect(gone.code).to.equal('InvalidVolume.NotFound');
    expect(ofSlow()).to.deep.equal([]);
    const delegate = cluster.delegates[0] ?? expect.fail('no delegate');
    expect(
      cluster.logLines(delegate).some((l) => l['message'] === 'job succeeded' && l['resourceId'] === slow.volumeId),
      'the job ran to its end',
    ).to.equal(false);
  });

  it('logs one JSON line per request with its ID, operation, caller, duration and outcome', () => {
    const lines = cluster.logLines(cluster.frontend).filter((l) => l['message'] === 'request');
    const fault = lines.find((l) => l['outcome'] === 'InvalidZone.NotFound');
    expect(fault).to.include({ operation: 'CreateVolume', caller: 'alice' });
    expect(fault?.['requestId']).to.match(/^[0-9a-f-]{36}$/);
    expect(fault?.['durationMs']).to.be.a('number');
    expect(lines.filter((l) => l['operation'] === 'DescribeVolumes' && l['outcome'] === 'ok').length).to.be.greaterThan(
      10,
    );
  });
});
