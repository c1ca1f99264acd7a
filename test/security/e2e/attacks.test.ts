/**
 * Every attack in guides/security.md, sent over HTTPS to the REAL running frontend (startCluster):
 * each must be answered with a SOAP fault that is itself signed by the frontend (checked by VBS's
 * verifier and by xmlsec1 against HOME/certs/frontend.rsa.pem or frontend.pem, by the kind of key the
 * request was signed with), and must change nothing: alice's volumes
 * and snapshots as she sees them and the files under HOME/volumes are compared before and after.
 * The library-level twins of these tests are in test/security/wssec/refused.test.ts; these prove that
 * the running service is wired so that nothing reaches a handler before it is verified.
 *
 * Payloads are chosen so that a wrongly accepted attack would show: an attacker's message deletes
 * alice's volume; a message alice signed and the attacker altered creates a volume.
 */
import { X509Certificate } from 'node:crypto';
import { deflateSync, gzipSync } from 'node:zlib';
import { request } from 'node:https';
import { join } from 'node:path';
import { expect } from 'chai';
import { createCa, type CaMaterial } from '../../../src/security/ca/certificate-authority.js';
import { signEnvelope } from '../../../src/security/wssec/sign.js';
import { TrustStore } from '../../../src/security/truststore/trust-store.js';
import { ec2Client, faultOf, waitForSnapshot, waitForVolume, type Ec2Client } from '../../support/ec2-client.js';
import { envelope, type RawAnswer } from '../../support/raw-soap.js';
import { startCluster, type Cluster } from '../../support/services.js';
import { craft } from '../wssec/craft.js';
import { tokenOf } from '../wssec/helpers.js';
import {
  answerOf,
  ec2Body,
  expectFrontendSigned,
  expectSignedFault,
  picture,
  post,
  signedPost,
  UNKNOWN_INSTANCE,
  UNKNOWN_SNAPSHOT,
  UNKNOWN_VOLUME,
  ZONE,
  type Picture,
} from './e2e-helpers.js';
import { ifMade } from '../../support/if-made.js';

const minutes = (n: number): number => n * 60_000;
const signedBody = (text: string): string =>
  /<soap:Body[^>]*>.*<\/soap:Body>/s.exec(text)?.[0] ?? expect.fail('no Body');
const x509Data = (pem: string): string =>
  `<ds:X509Data><ds:X509Certificate>${tokenOf(pem)}</ds:X509Certificate></ds:X509Data>`;
const STR = '<wsse:SecurityTokenReference><wsse:Reference URI="#X509-1"/></wsse:SecurityTokenReference>';

/** Posts `body` in chunks without a Content-Length, as a streaming client would. */
function postChunked(url: string, caPem: string, body: Buffer, chunk: number): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', ca: caPem, headers: { 'content-type': 'text/xml; charset=utf-8' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    for (let at = 0; at < body.length; at += chunk) req.write(body.subarray(at, at + chunk));
    req.end();
  });
}

describe('security e2e: attacks on the running frontend', function () {
  this.timeout(60_000);
  let cluster: Cluster;
  let alice: Ec2Client;
  let bob: Ec2Client;
  let aliceVolume = '';
  let aliceSnapshot = '';
  let baseline: Picture;
  /** Self-signed, no CA: an unknown user; and one that copies the enrolled name "alice". */
  let mallory: CaMaterial;
  let impostor: CaMaterial;

  /** What the attacker sends: delete alice's volume. */
  const deleteHers = (): string => ec2Body('DeleteVolume', { volumeId: aliceVolume });
  /** What alice signs and the attacker alters: a harmless-looking CreateVolume. */
  const createOne = (): string => ec2Body('CreateVolume', { size: '1', availabilityZone: ZONE });
  const unchanged = async (): Promise<void> => {
    expect(await picture(cluster)).to.deep.equal(baseline);
  };

  before(async function () {
    this.timeout(60_000);
    cluster = await startCluster();
    alice = ec2Client(cluster, 'alice');
    bob = ec2Client(cluster, 'bob');
    aliceVolume = (await alice.call('CreateVolume', { size: '1', availabilityZone: ZONE })).volumeId;
    await waitForVolume(alice, aliceVolume, ['available']);
    aliceSnapshot = (await alice.call('CreateSnapshot', { volumeId: aliceVolume })).snapshotId;
    await waitForSnapshot(alice, aliceSnapshot, ['completed']);
    mallory = createCa('mallory');
    impostor = createCa('alice');
    baseline = await picture(cluster);
    expect(baseline.volumes).to.have.length(1);
    expect(baseline.snapshots).to.have.length(1);
    expect(baseline.files.length, 'the volume and snapshot files exist').to.be.at.least(2);
  });

  after(async () => {
    ifMade(alice)?.close();
    ifMade(bob)?.close();
    await ifMade(cluster)?.stop();
  });

  it('accepts the honest request the attacks start from, and signs the answer (control)', async () => {
    const raw = await signedPost(
      cluster,
      cluster.users.alice,
      ec2Body('DescribeVolumes', { volumeSet: { item: [{ volumeId: aliceVolume }] } }),
    );
    expect(answerOf(raw)).to.deep.include({ status: 200, element: 'DescribeVolumesResponse' });
    await expectFrontendSigned(cluster, raw, 'rsa');
  });

  it('refuses an unsigned request, on /vbs and on /ec2', async () => {
    for (const url of [cluster.frontendUrl, cluster.ec2Url]) {
      const message = await expectSignedFault(
        cluster,
        await post(cluster, envelope(deleteHers()), 'DeleteVolume', url),
        'AuthFailure',
      );
      expect(message).to.match(/^The request is not signed/);
    }
    await unchanged();
  });

  it('refuses a tampered Body', async () => {
    const signed = signEnvelope(ec2Body('DeleteVolume', { volumeId: UNKNOWN_VOLUME }), cluster.users.alice);
    const tampered = signed.replace(UNKNOWN_VOLUME, aliceVolume);
    expect(tampered).to.not.equal(signed);
    expect(await expectSignedFault(cluster, await post(cluster, tampered, 'DeleteVolume'), 'AuthFailure')).to.equal(
      'The signed Body was changed after it was signed.',
    );
    await unchanged();
  });

  it("refuses wrapping: the signed Body moved into a header, an attacker's Body in its place", async () => {
    const signed = signEnvelope(ec2Body('DescribeVolumes', { volumeSet: {} }), cluster.users.alice);
    const body = signedBody(signed);
    const wrapped = signed
      .replace(body, `<soap:Body>${deleteHers()}</soap:Body>`)
      .replace('</soap:Header>', `<w:Wrapper xmlns:w="urn:wrap">${body}</w:Wrapper></soap:Header>`);
    expect(await expectSignedFault(cluster, await post(cluster, wrapped, 'DeleteVolume'), 'AuthFailure')).to.equal(
      'The signature must cover exactly the SOAP Body and the WS-Security Timestamp, each once.',
    );
    // The attacker's Body wearing the signed Body's Id.
    const id = /wsu:Id="(Body-[^"]+)"/.exec(body)?.[1] ?? expect.fail('no Id');
    const sameId = wrapped.replace('<soap:Body>', `<soap:Body wsu:Id="${id}">`);
    expect(await expectSignedFault(cluster, await post(cluster, sameId, 'DeleteVolume'), 'AuthFailure')).to.equal(
      'The request uses the same Id on more than one element.',
    );
    await unchanged();
  });

  it('refuses wrapping: a second Body, before or after the signed one (InvalidRequest)', async () => {
    const signed = signEnvelope(ec2Body('DescribeVolumes', { volumeSet: {} }), cluster.users.alice);
    const body = signedBody(signed);
    for (const twoBodies of [
      signed.replace(body, `<soap:Body>${deleteHers()}</soap:Body>${body}`),
      signed.replace(body, `${body}<soap:Body>${deleteHers()}</soap:Body>`),
    ]) {
      expect(
        await expectSignedFault(cluster, await post(cluster, twoBodies, 'DeleteVolume'), 'InvalidRequest'),
      ).to.match(/exactly one Body/);
    }
    await unchanged();
  });

  it('refuses wrapping: a Body in another namespace beside or around the signed one (InvalidRequest)', async () => {
    const signed = signEnvelope(ec2Body('DescribeVolumes', { volumeSet: {} }), cluster.users.alice);
    const body = signedBody(signed);
    const evil = `<e:Body xmlns:e="urn:evil">${deleteHers()}</e:Body>`;
    expect(
      await expectSignedFault(
        cluster,
        await post(cluster, signed.replace(body, evil + body), 'DeleteVolume'),
        'InvalidRequest',
      ),
    ).to.match(/unexpected element Body/);
    const hidden = signed.replace(
      body,
      `<e:Body xmlns:e="urn:evil">${body}</e:Body><soap:Body>${deleteHers()}</soap:Body>`,
    );
    await expectSignedFault(cluster, await post(cluster, hidden, 'DeleteVolume'), 'InvalidRequest');
    await unchanged();
  });

  it('refuses a SOAPAction that names another operation than the signed Body (InvalidAction), and runs neither', async () => {
    const raw = await signedPost(cluster, cluster.users.alice, createOne(), 'DeleteVolume');
    expect(await expectSignedFault(cluster, raw, 'InvalidAction')).to.equal(
      'The SOAPAction header does not match the operation CreateVolume in the Body.',
    );
    // The namespaced form of a SOAPAction is judged the same way.
    const ns = await signedPost(
      cluster,
      cluster.users.alice,
      createOne(),
      'http://ec2.amazonaws.com/doc/2010-08-31/DeleteVolume',
    );
    await expectSignedFault(cluster, ns, 'InvalidAction');
    await unchanged();
  });

  it('refuses an expired Timestamp, also one older than 5 minutes whose Expires is still ahead', async () => {
    const old = await signedPost(cluster, cluster.users.alice, createOne(), 'CreateVolume', undefined, {
      now: new Date(Date.now() - minutes(6)),
    });
    expect(await expectSignedFault(cluster, old, 'AuthFailure')).to.match(/^The request Timestamp has expired/);
    const now = Date.now();
    const long = craft({
      signer: cluster.users.alice,
      body: createOne(),
      timestamp: { created: new Date(now - minutes(6)), expires: new Date(now + minutes(4)) },
    });
    expect(await expectSignedFault(cluster, await post(cluster, long, 'CreateVolume'), 'AuthFailure')).to.match(
      /^The request Timestamp has expired/,
    );
    await unchanged();
  });

  it('refuses a Timestamp from the future, beyond the allowed clock skew', async () => {
    const raw = await signedPost(cluster, cluster.users.alice, createOne(), 'CreateVolume', undefined, {
      now: new Date(Date.now() + minutes(2)),
    });
    expect(await expectSignedFault(cluster, raw, 'AuthFailure')).to.equal(
      'The request Timestamp is in the future; check the client clock.',
    );
    await unchanged();
  });

  it('refuses a missing Timestamp, and one that is present but not signed', async () => {
    const missing = craft({ signer: cluster.users.alice, body: createOne(), timestamp: null });
    expect(await expectSignedFault(cluster, await post(cluster, missing, 'CreateVolume'), 'AuthFailure')).to.equal(
      'A signed wsu:Timestamp is required in the WS-Security header.',
    );
    const unsigned = craft({ signer: cluster.users.alice, body: createOne(), references: ['Body-1'] });
    expect(await expectSignedFault(cluster, await post(cluster, unsigned, 'CreateVolume'), 'AuthFailure')).to.equal(
      'The signature must cover exactly the SOAP Body and the WS-Security Timestamp, each once.',
    );
    await unchanged();
  });

  it('refuses an unknown certificate: a self-signed user no CA issued', async () => {
    expect(
      await expectSignedFault(cluster, await signedPost(cluster, mallory, deleteHers(), 'DeleteVolume'), 'AuthFailure'),
    ).to.equal('The signing certificate is not enrolled with this service.');
    await unchanged();
  });

  it('refuses an unknown certificate embedded in KeyInfo, beside a trusted token or instead of it', async () => {
    const { alice: aliceCreds } = cluster.users;
    // Signed by mallory; alice's enrolled certificate as the token; mallory's own in KeyInfo.
    const beside = craft({
      signer: mallory,
      tokenCertPem: aliceCreds.certPem,
      keyInfo: x509Data(mallory.certPem) + STR,
      body: deleteHers(),
    });
    expect(await expectSignedFault(cluster, await post(cluster, beside, 'DeleteVolume'), 'AuthFailure')).to.match(
      /^KeyInfo must hold exactly one SecurityTokenReference/,
    );
    // The same without the extra certificate: alice's key does not verify mallory's signature.
    const plain = craft({ signer: mallory, tokenCertPem: aliceCreds.certPem, body: deleteHers() });
    expect(await expectSignedFault(cluster, await post(cluster, plain, 'DeleteVolume'), 'AuthFailure')).to.equal(
      'The signature does not verify with the signing certificate.',
    );
    // mallory's certificate only in KeyInfo, as xml-crypto before CVE-2024-32962 would have used it.
    const only = craft({
      signer: mallory,
      tokenCertPem: aliceCreds.certPem,
      keyInfo: x509Data(mallory.certPem),
      body: deleteHers(),
    });
    expect(await expectSignedFault(cluster, await post(cluster, only, 'DeleteVolume'), 'AuthFailure')).to.match(
      /^KeyInfo must hold exactly one SecurityTokenReference/,
    );
    await unchanged();
  });

  it('refuses a self-signed certificate that reuses the enrolled subject name "alice"', async () => {
    expect(new X509Certificate(impostor.certPem).subject).to.equal(
      new X509Certificate(cluster.users.alice.certPem).subject,
    );
    expect(
      await expectSignedFault(
        cluster,
        await signedPost(cluster, impostor, deleteHers(), 'DeleteVolume'),
        'AuthFailure',
      ),
    ).to.equal('The signing certificate is not enrolled with this service.');
    await unchanged();
  });

  it('refuses a comment inside DigestValue', async () => {
    const signed = signEnvelope(createOne(), cluster.users.alice);
    const commented = signed.replace(/<ds:DigestValue>(.{10})/, '<ds:DigestValue>$1<!---->');
    expect(commented).to.not.equal(signed);
    expect(await expectSignedFault(cluster, await post(cluster, commented, 'CreateVolume'), 'AuthFailure')).to.equal(
      'The DigestValue must contain only text.',
    );
    await unchanged();
  });

  it('refuses two References to one Id', async () => {
    for (const references of [
      ['Body-1', 'Body-1'],
      ['TS-1', 'Body-1', 'Body-1'],
    ]) {
      const twice = craft({ signer: cluster.users.alice, body: createOne(), references });
      expect(await expectSignedFault(cluster, await post(cluster, twice, 'CreateVolume'), 'AuthFailure')).to.equal(
        'The signature must cover exactly the SOAP Body and the WS-Security Timestamp, each once.',
      );
    }
    await unchanged();
  });

  it('refuses a DOCTYPE: internal entities, entity expansion, an external entity (InvalidRequest)', async () => {
    const signed = signEnvelope(createOne(), cluster.users.alice);
    const withDoctype = (doctype: string, edit: (s: string) => string = (s) => s): string =>
      edit(signed).replace('<soap:Envelope', `${doctype}<soap:Envelope`);
    const attempts = [
      withDoctype('<!DOCTYPE soap:Envelope [<!ENTITY one "1">]>', (s) =>
        s.replace('<t:size>1</t:size>', '<t:size>&one;</t:size>'),
      ),
      withDoctype(
        '<!DOCTYPE lolz [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>',
        (s) => s.replace(`<t:availabilityZone>${ZONE}`, `<t:availabilityZone>&c;${ZONE}`),
      ),
      withDoctype('<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', (s) =>
        s.replace(`<t:availabilityZone>${ZONE}`, '<t:availabilityZone>&xxe;'),
      ),
      withDoctype('<!doctype soap:Envelope>'),
    ];
    for (const text of attempts) {
      const raw = await post(cluster, text, 'CreateVolume');
      expect(await expectSignedFault(cluster, raw, 'InvalidRequest')).to.match(/DOCTYPE is not allowed/);
      expect(raw.body).to.not.include('root:');
    }
    await unchanged();
  });

  it('refuses an oversized body, with or without Content-Length (413), before parsing it', async () => {
    const big = Buffer.from(
      signEnvelope(createOne(), cluster.users.alice).replace(
        '</soap:Envelope>',
        `</soap:Envelope><!--${'x'.repeat(1536 * 1024)}-->`,
      ),
    );
    await expectSignedFault(cluster, await post(cluster, big, 'CreateVolume'), 'RequestEntityTooLarge', 413);
    await expectSignedFault(
      cluster,
      await postChunked(cluster.frontendUrl, cluster.caPem, big, 64 * 1024),
      'RequestEntityTooLarge',
      413,
    );
    await unchanged();
  });

  it('refuses gzip- and deflate-encoded bodies (InvalidRequest)', async () => {
    for (const [encoding, pack] of [
      ['gzip', gzipSync],
      ['deflate', deflateSync],
    ] as const) {
      const packed = pack(Buffer.from(signEnvelope(createOne(), cluster.users.alice)));
      const raw = await post(cluster, packed, 'CreateVolume', cluster.frontendUrl, { 'content-encoding': encoding });
      expect(await expectSignedFault(cluster, raw, 'InvalidRequest')).to.equal(
        'Content-Encoding other than identity is not accepted.',
      );
    }
    await unchanged();
  });

  describe("another user's IDs: bob on alice's volume and snapshot", () => {
    /** Bob's answer for `id`, with the ID taken out, beside his answer for an ID that does not exist. */
    const asBob = async (body: (id: string) => string, id: string, unknown: string): Promise<void> => {
      const answers = [];
      for (const which of [id, unknown]) {
        const raw = await signedPost(cluster, cluster.users.bob, body(which));
        const a = answerOf(raw);
        expect(a.element, raw.body).to.equal('Fault');
        await expectFrontendSigned(cluster, raw);
        answers.push({ ...a, message: (a.message ?? '').split(which).join('<ID>') });
      }
      expect(answers[0]).to.deep.equal(answers[1]);
      expect(answers[0]?.message).to.include('<ID>');
    };

    it('DescribeVolumes with her ID answers InvalidVolume.NotFound, exactly as for an unknown ID', async () => {
      await asBob(
        (id) => ec2Body('DescribeVolumes', { volumeSet: { item: [{ volumeId: id }] } }),
        aliceVolume,
        UNKNOWN_VOLUME,
      );
      expect(
        (await faultOf(bob.call('DescribeVolumes', { volumeSet: { item: [{ volumeId: aliceVolume }] } }))).code,
      ).to.equal('InvalidVolume.NotFound');
      await unchanged();
    });

    it('DeleteVolume, CreateSnapshot, AttachVolume and DetachVolume of her volume: InvalidVolume.NotFound, as for an unknown ID', async () => {
      const bodies: ((id: string) => string)[] = [
        (id) => ec2Body('DeleteVolume', { volumeId: id }),
        (id) => ec2Body('CreateSnapshot', { volumeId: id }),
        (id) => ec2Body('AttachVolume', { volumeId: id, instanceId: UNKNOWN_INSTANCE, device: '/dev/sdf' }),
        (id) => ec2Body('DetachVolume', { volumeId: id }),
      ];
      for (const body of bodies) {
        await asBob(body, aliceVolume, UNKNOWN_VOLUME);
        const raw = await signedPost(cluster, cluster.users.bob, body(aliceVolume));
        expect(answerOf(raw).code).to.equal('InvalidVolume.NotFound');
      }
      await unchanged();
    });

    it('CreateVolume from her snapshot, DescribeSnapshots and DeleteSnapshot of it: InvalidSnapshot.NotFound, as for an unknown ID', async () => {
      const bodies: ((id: string) => string)[] = [
        (id) => ec2Body('CreateVolume', { size: '2', snapshotId: id, availabilityZone: ZONE }),
        (id) => ec2Body('DescribeSnapshots', { snapshotSet: { item: [{ snapshotId: id }] } }),
        (id) => ec2Body('DeleteSnapshot', { snapshotId: id }),
      ];
      for (const body of bodies) {
        await asBob(body, aliceSnapshot, UNKNOWN_SNAPSHOT);
        expect(answerOf(await signedPost(cluster, cluster.users.bob, body(aliceSnapshot))).code).to.equal(
          'InvalidSnapshot.NotFound',
        );
      }
      await unchanged();
    });

    it("bob's DescribeVolumes and DescribeSnapshots without IDs (or filtered on hers) do not list hers", async () => {
      const volumes = (await bob.call('DescribeVolumes', { volumeSet: {} })).volumeSet.item ?? [];
      expect(volumes.map((v) => v.volumeId)).to.not.include(aliceVolume);
      const snapshots = (await bob.call('DescribeSnapshots', { snapshotSet: {} })).snapshotSet.item ?? [];
      expect(snapshots.map((s) => s.snapshotId)).to.not.include(aliceSnapshot);
      const filtered = await bob.call('DescribeVolumes', {
        volumeSet: {},
        filterSet: { item: [{ name: 'volume-id', valueSet: { item: [{ value: aliceVolume }] } }] },
      });
      expect(filtered.volumeSet.item ?? []).to.deep.equal([]);
      // She still sees them (control).
      expect(
        (await alice.call('DescribeVolumes', { volumeSet: {} })).volumeSet.item?.map((v) => v.volumeId),
      ).to.include(aliceVolume);
      await unchanged();
    });
  });

  // Mocha runs nested suites after the plain tests, in order: these two change what later tests would see.
  describe('replay and revocation (last: the first request of a replay is accepted, and bob is revoked)', () => {
    it('refuses a replay: the same signed message twice, the second refused on /vbs and on /ec2', async () => {
      const message = signEnvelope(createOne(), cluster.users.alice);
      const first = answerOf(await post(cluster, message, 'CreateVolume'));
      expect(first).to.deep.include({ status: 200, element: 'CreateVolumeResponse' });
      for (const url of [cluster.frontendUrl, cluster.ec2Url]) {
        expect(
          await expectSignedFault(cluster, await post(cluster, message, 'CreateVolume', url), 'AuthFailure'),
        ).to.equal('This request was already received; sign each request anew.');
      }
      // Exactly one volume was made: the first request's.
      const after = (await alice.call('DescribeVolumes', { volumeSet: {} })).volumeSet.item ?? [];
      expect(after).to.have.length(baseline.volumes.length + 1);
      const made = after.map((v) => v.volumeId).find((id) => id !== aliceVolume) ?? expect.fail('no new volume');
      await waitForVolume(alice, made, ['available']);
      baseline = await picture(cluster);
    });

    it('refuses a revoked certificate at once, while the frontend runs (no restart)', async () => {
      const before = await signedPost(cluster, cluster.users.bob, ec2Body('DescribeVolumes', { volumeSet: {} }));
      expect(answerOf(before).element).to.equal('DescribeVolumesResponse');
      const trust = new TrustStore(join(cluster.home, 'trust.sqlite'), cluster.caPem);
      try {
        expect(trust.revokeUser('bob')).to.equal(1);
      } finally {
        trust.close();
      }
      expect(
        await expectSignedFault(
          cluster,
          await signedPost(cluster, cluster.users.bob, deleteHers(), 'DeleteVolume'),
          'AuthFailure',
        ),
      ).to.equal('The signing certificate is not enrolled with this service.');
      expect((await faultOf(bob.call('DescribeVolumes', { volumeSet: {} }))).code).to.equal('AuthFailure');
      expect(cluster.frontend.child.exitCode).to.equal(null);
      // Alice is not affected.
      expect(
        answerOf(await signedPost(cluster, cluster.users.alice, ec2Body('DescribeVolumes', { volumeSet: {} }))).element,
      ).to.equal('DescribeVolumesResponse');
      await unchanged();
    });
  });
});
