import { expect } from 'chai';
import { ERROR_CODES, VbsError } from '../../src/core/errors.js';
import { FAULTS, faultEnvelope, faultFor } from '../../src/soap/faults.js';
import { parseXml } from '../../src/soap/envelope.js';

describe('fault table', () => {
  it('maps every error code to a Client or Server fault', () => {
    for (const code of ERROR_CODES) {
      const f = faultFor(new VbsError(code, 'm'));
      expect(f.faultcode).to.equal(`${FAULTS[code].side}.${code}`);
    }
    expect(faultFor(new VbsError('InvalidVolume.NotFound', 'x')).faultcode).to.equal('Client.InvalidVolume.NotFound');
    expect(faultFor(new VbsError('InsufficientVolumeCapacity', 'x')).faultcode).to.equal(
      'Server.InsufficientVolumeCapacity',
    );
  });

  it('never passes on the message of an error that is not ours', () => {
    const secret = new Error('SQLITE_CORRUPT at /var/lib/vbs/vbs.sqlite');
    const f = faultFor(secret);
    expect(f.code).to.equal('InternalError');
    expect(f.message).to.not.include('SQLITE');
    const xml = faultEnvelope(f, 'req-1');
    expect(xml).to.not.include('SQLITE').and.not.include('at ');
    expect(faultFor(new TypeError('x is undefined')).message).to.not.include('undefined');
  });

  it('writes a well-formed SOAP 1.1 fault with the code and the request ID', () => {
    const xml = faultEnvelope(faultFor(new VbsError('IncorrectState', 'a <b> & "c"')), 'abc-123');
    const doc = parseXml(xml);
    expect(doc.getElementsByTagName('faultcode')[0]?.textContent).to.equal('soap:Client.IncorrectState');
    expect(doc.getElementsByTagName('faultstring')[0]?.textContent).to.equal('a <b> & "c"');
    expect(doc.getElementsByTagName('Code')[0]?.textContent).to.equal('IncorrectState');
    expect(doc.getElementsByTagName('RequestID')[0]?.textContent).to.equal('abc-123');
  });
});
