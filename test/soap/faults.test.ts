import { expect } from 'chai';
import { ERROR_CODES, VbsError, type ErrorCode } from '../../src/core/errors.js';
import { FAULTS, faultEnvelope, faultFor, type Fault } from '../../src/soap/faults.js';
import { elementChildren, parseXml } from '../../src/soap/envelope.js';

/** Where the one element of a fault's detail lives (written out, as the table below is). */
const DETAIL_NS = 'urn:vbs:fault:2026-11';

/**
 * What every error code must become, written out here rather than read from src/soap/faults.ts, so
 * that a wrong edit of that table fails this test. Client faults are the caller's to fix, Server
 * faults are ours. SOAP 1.1 answers a fault with HTTP 500; the exceptions are 413 for a body too
 * large to read (there is no envelope to answer inside of) and 503 while a service is unavailable.
 * Typed by ErrorCode, so a new code does not compile until its row is written here.
 */
const EXPECTED: Readonly<Record<ErrorCode, { readonly side: 'Client' | 'Server'; readonly httpStatus: number }>> = {
  'InvalidVolume.NotFound': { side: 'Client', httpStatus: 500 },
  'InvalidVolumeID.Malformed': { side: 'Client', httpStatus: 500 },
  'InvalidSnapshot.NotFound': { side: 'Client', httpStatus: 500 },
  'InvalidSnapshotID.Malformed': { side: 'Client', httpStatus: 500 },
  'InvalidInstanceID.NotFound': { side: 'Client', httpStatus: 500 },
  'InvalidInstanceID.Malformed': { side: 'Client', httpStatus: 500 },
  'InvalidAttachment.NotFound': { side: 'Client', httpStatus: 500 },
  'InvalidZone.NotFound': { side: 'Client', httpStatus: 500 },
  IncorrectState: { side: 'Client', httpStatus: 500 },
  VolumeInUse: { side: 'Client', httpStatus: 500 },
  VolumeLimitExceeded: { side: 'Client', httpStatus: 500 },
  SnapshotLimitExceeded: { side: 'Client', httpStatus: 500 },
  InvalidParameterValue: { side: 'Client', httpStatus: 500 },
  InvalidParameterCombination: { side: 'Client', httpStatus: 500 },
  MissingParameter: { side: 'Client', httpStatus: 500 },
  UnknownParameter: { side: 'Client', httpStatus: 500 },
  InvalidAction: { side: 'Client', httpStatus: 500 },
  InvalidRequest: { side: 'Client', httpStatus: 500 },
  AuthFailure: { side: 'Client', httpStatus: 500 },
  RequestEntityTooLarge: { side: 'Client', httpStatus: 413 },
  RequestLimitExceeded: { side: 'Client', httpStatus: 503 },
  InsufficientVolumeCapacity: { side: 'Server', httpStatus: 500 },
  Unavailable: { side: 'Server', httpStatus: 503 },
  InternalError: { side: 'Server', httpStatus: 500 },
};

/** What a client is told instead of the message of an error that is not a VbsError. */
const INTERNAL_MESSAGE = 'An internal error has occurred. Quote the request ID when you report it.';

const INTERNAL_FAULT: Fault = {
  code: 'InternalError',
  faultcode: 'Server.InternalError',
  message: INTERNAL_MESSAGE,
  httpStatus: 500,
};

describe('fault table', () => {
  it('has a row for exactly the error codes, here and in src/soap/faults.ts', () => {
    const codes = [...ERROR_CODES].sort();
    expect(Object.keys(EXPECTED).sort()).to.deep.equal(codes);
    expect(Object.keys(FAULTS).sort()).to.deep.equal(codes);
  });

  for (const code of ERROR_CODES) {
    const { side, httpStatus } = EXPECTED[code];
    it(`maps ${code} to ${side}.${code}, HTTP ${httpStatus}`, () => {
      expect(FAULTS[code]).to.deep.equal({ side, httpStatus });
      // The caller's own message is shown for every code but InternalError, whose message may be ours.
      const message = code === 'InternalError' ? INTERNAL_MESSAGE : `message for ${code}`;
      expect(faultFor(new VbsError(code, `message for ${code}`))).to.deep.equal({
        code,
        faultcode: `${side}.${code}`,
        message,
        httpStatus,
      });
    });
  }

  it('writes the faultcode as the side, a dot and the code (spelled out, as a client matches it)', () => {
    expect(faultFor(new VbsError('InvalidVolume.NotFound', 'x')).faultcode).to.equal('Client.InvalidVolume.NotFound');
    expect(faultFor(new VbsError('InsufficientVolumeCapacity', 'x')).faultcode).to.equal(
      'Server.InsufficientVolumeCapacity',
    );
  });

  it('makes anything that is not a VbsError an InternalError, without its message', () => {
    const secret = new Error('SQLITE_CORRUPT at /var/lib/vbs/vbs.sqlite');
    expect(faultFor(secret)).to.deep.equal(INTERNAL_FAULT);
    const xml = faultEnvelope(faultFor(secret), 'req-1');
    expect(xml).to.not.include('SQLITE').and.not.include('/var/lib');
    expect(faultFor(new TypeError('x is undefined'))).to.deep.equal(INTERNAL_FAULT);
    // Look-alikes are not VbsErrors: an Error with an EC2 code, a plain object, a string, nothing.
    const disguised = Object.assign(new Error('secret detail'), { name: 'VbsError', code: 'AuthFailure' });
    expect(faultFor(disguised)).to.deep.equal(INTERNAL_FAULT);
    expect(faultFor({ code: 'AuthFailure', message: 'secret detail' })).to.deep.equal(INTERNAL_FAULT);
    expect(faultFor('secret detail')).to.deep.equal(INTERNAL_FAULT);
    expect(faultFor(undefined)).to.deep.equal(INTERNAL_FAULT);
  });

  it('writes a well-formed SOAP 1.1 fault with the code and the request ID', () => {
    const xml = faultEnvelope(faultFor(new VbsError('IncorrectState', 'a <b> & "c"')), 'abc-123');
    const doc = parseXml(xml);
    expect(doc.getElementsByTagName('faultcode')[0]?.textContent).to.equal('soap:Client.IncorrectState');
    expect(doc.getElementsByTagName('faultstring')[0]?.textContent).to.equal('a <b> & "c"');
    const detail = doc.getElementsByTagName('detail')[0];
    const error = detail ? elementChildren(detail)[0] : undefined;
    const field = (name: string): string | null | undefined =>
      error?.getElementsByTagNameNS(DETAIL_NS, name)[0]?.textContent;
    expect(field('Code')).to.equal('IncorrectState');
    expect(field('Message')).to.equal('a <b> & "c"');
    expect(field('RequestID')).to.equal('abc-123');
  });

  it('writes its text as exclusive c14n does (quotes as they are), so that the wire form is the canonical one', () => {
    const xml = faultEnvelope(faultFor(new VbsError('IncorrectState', `it's "a" <b> & c\r`)), `r'1`);
    expect(xml).to.include(`<faultstring>it's "a" &lt;b&gt; &amp; c&#xD;</faultstring>`);
    expect(xml).to.include(`<vbs:Message>it's "a" &lt;b&gt; &amp; c&#xD;</vbs:Message>`);
    expect(xml).to.include(`<vbs:RequestID>r'1</vbs:RequestID>`);
    expect(parseXml(xml).getElementsByTagName('faultstring')[0]?.textContent).to.equal(`it's "a" <b> & c\r`);
  });

  it('puts exactly one namespace-qualified element in detail, as strict toolkits (gSOAP) read it', () => {
    const doc = parseXml(faultEnvelope(faultFor(new VbsError('AuthFailure', 'no')), 'req-9'));
    const fault = doc.getElementsByTagNameNS('http://schemas.xmlsoap.org/soap/envelope/', 'Fault')[0];
    const parts = fault ? elementChildren(fault).map((e) => `${e.namespaceURI ?? ''}|${e.localName ?? ''}`) : [];
    // SOAP 1.1: faultcode, faultstring and detail are unqualified.
    expect(parts).to.deep.equal(['|faultcode', '|faultstring', '|detail']);
    const detail = fault ? elementChildren(fault)[2] : undefined;
    const inDetail = detail ? elementChildren(detail) : [];
    expect(inDetail.map((e) => `${e.namespaceURI ?? ''}|${e.localName ?? ''}`)).to.deep.equal([`${DETAIL_NS}|Error`]);
    const error = inDetail[0];
    expect(
      error ? elementChildren(error).map((e) => `${e.namespaceURI ?? ''}|${e.localName ?? ''}`) : [],
    ).to.deep.equal([`${DETAIL_NS}|Code`, `${DETAIL_NS}|Message`, `${DETAIL_NS}|RequestID`]);
    // The EC2 code stays in faultcode, for clients that read only that.
    expect(doc.getElementsByTagName('faultcode')[0]?.textContent).to.equal('soap:Client.AuthFailure');
  });
});
