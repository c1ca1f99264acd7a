import { expect } from 'chai';
import { schema } from '../../src/generated/frontend.js';
import type { CreateVolumeType, DescribeVolumesType } from '../../src/generated/frontend.js';
import { decodeElement } from '../../src/soap/decode.js';
import { encodeElement } from '../../src/soap/encode.js';
import { parseEnvelope } from '../../src/soap/envelope.js';

const NS = 'http://ec2.amazonaws.com/doc/2010-08-31/';
const env = (body: string): string =>
  `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>${body}</s:Body></s:Envelope>`;

// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- decodeElement's own cast, as there
function decode<T extends object>(body: string, element: string): T {
  return decodeElement<T>(schema, parseEnvelope(env(body)).payload, element);
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe('SOAP codec', () => {
  it('decodes what the schema allows, in its shape', () => {
    const r = decode<DescribeVolumesType>(
      `<DescribeVolumes xmlns="${NS}"><volumeSet><item><volumeId>vol-1</volumeId></item><item><volumeId>vol-2</volumeId></item></volumeSet>` +
        `<filterSet><item><name>status</name><valueSet><item><value>available</value></item></valueSet></item></filterSet></DescribeVolumes>`,
      'DescribeVolumes',
    );
    expect(r.volumeSet.item?.map((i) => i.volumeId)).to.deep.equal(['vol-1', 'vol-2']);
    expect(r.filterSet?.item?.[0]?.valueSet.item?.[0]?.value).to.equal('available');
  });

  it('refuses a missing required element, an unknown one, one out of order, and one in another namespace', () => {
    expect(codeOf(() => decode(`<CreateVolume xmlns="${NS}"><size>1</size></CreateVolume>`, 'CreateVolume'))).to.equal(
      'MissingParameter',
    );
    expect(
      codeOf(() =>
        decode(
          `<CreateVolume xmlns="${NS}"><size>1</size><availabilityZone>z</availabilityZone><color>red</color></CreateVolume>`,
          'CreateVolume',
        ),
      ),
    ).to.equal('UnknownParameter');
    expect(
      codeOf(() =>
        decode(
          `<CreateVolume xmlns="${NS}"><availabilityZone>z</availabilityZone><size>1</size></CreateVolume>`,
          'CreateVolume',
        ),
      ),
    ).to.equal('UnknownParameter');
    expect(
      codeOf(() =>
        decode(
          `<CreateVolume xmlns="${NS}"><size xmlns="urn:evil">1</size><availabilityZone>z</availabilityZone></CreateVolume>`,
          'CreateVolume',
        ),
      ),
    ).to.equal('UnknownParameter');
    expect(
      codeOf(() =>
        decode(
          `<CreateVolume xmlns="${NS}"><size>1</size><size>2</size><availabilityZone>z</availabilityZone></CreateVolume>`,
          'CreateVolume',
        ),
      ),
    ).to.equal('UnknownParameter');
  });

  it('refuses values that are not of their simple type', () => {
    expect(
      codeOf(() =>
        decode(`<DetachVolume xmlns="${NS}"><volumeId>v</volumeId><force>maybe</force></DetachVolume>`, 'DetachVolume'),
      ),
    ).to.equal('InvalidParameterValue');
    expect(
      codeOf(() =>
        decode(
          `<CreateVolume xmlns="${NS}"><size><x/></size><availabilityZone>z</availabilityZone></CreateVolume>`,
          'CreateVolume',
        ),
      ),
    ).to.equal('InvalidParameterValue');
  });

  it('refuses envelopes that are not one SOAP 1.1 Envelope with one Body holding one element', () => {
    expect(codeOf(() => parseEnvelope('<x/>'))).to.equal('InvalidRequest');
    expect(
      codeOf(() => parseEnvelope('<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><a/>')),
    ).to.equal('InvalidRequest');
    expect(codeOf(() => parseEnvelope(env('<a/><b/>')))).to.equal('InvalidRequest');
    expect(
      codeOf(() =>
        parseEnvelope(
          '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><a/></s:Body><s:Body><b/></s:Body></s:Envelope>',
        ),
      ),
    ).to.equal('InvalidRequest');
    expect(
      codeOf(() =>
        parseEnvelope(
          '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><e:Body xmlns:e="urn:evil"><a/></e:Body><s:Body><b/></s:Body></s:Envelope>',
        ),
      ),
    ).to.equal('InvalidRequest');
    expect(codeOf(() => parseEnvelope(`<!DOCTYPE x [<!ENTITY a "b">]>${env('<a/>')}`))).to.equal('InvalidRequest');
  });

  it('encodes in schema order, escapes text, and round-trips through the decoder', () => {
    const input: CreateVolumeType = { availabilityZone: 'z<&>', size: '5', volumeType: 'thick' };
    const xml = encodeElement(schema, 'CreateVolume', input);
    expect(xml.indexOf('<t:size>')).to.be.lessThan(xml.indexOf('<t:availabilityZone>'));
    expect(xml).to.include('z&lt;&amp;&gt;');
    expect(decode<CreateVolumeType>(xml, 'CreateVolume')).to.deep.equal({
      size: '5',
      availabilityZone: 'z<&>',
      volumeType: 'thick',
    });
  });

  it('refuses to encode a response that lacks a required element', () => {
    expect(() => encodeElement(schema, 'DeleteVolumeResponse', { requestId: 'r' })).to.throw(/return/);
  });
});
