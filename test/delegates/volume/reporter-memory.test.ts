/**
 * What the Volume Delegate's Reporter remembers of progress sent (to throttle it) is bounded: its
 * keys are resource IDs the frontend chooses, and a job that ends without a report (cancelled,
 * stopped) would otherwise leave its entry behind for good. The throttle itself still holds.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { VolumeDelegateCallbackPortTypeOperations } from '../../../src/generated/volume-delegate.js';
import { MAX_PROGRESS_TRACKED, PROGRESS_FORGET_MS, Reporter } from '../../../src/delegates/volume/reporter.js';
import { Journal, type Job } from '../../../src/delegates/volume/journal.js';
import { silentLogger } from '../../../src/log.js';
import type { SoapClient } from '../../../src/soap/client.js';

type Callback = SoapClient<VolumeDelegateCallbackPortTypeOperations>;

const job = (resourceId: string): Job => ({
  jobId: `job-${resourceId}`,
  resourceId,
  kind: 'volume',
  path: `${resourceId}.img`,
  sizeBytes: 1,
  volumeType: 'sparse',
  sourcePath: null,
  reservedBytes: 0,
  state: 'running',
  attempts: 0,
  message: null,
  reported: false,
});

describe('the Reporter remembers progress within bounds', () => {
  let sent: string[];
  let reporter: Reporter;
  const realNow = Date.now;
  let now: number;
  let dir: string;
  let journal: Journal;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'vbs-reporter-'));
    journal = new Journal(join(dir, 'journal.sqlite'));
  });
  after(() => {
    journal.close();
    rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    sent = [];
    now = realNow();
    Date.now = () => now;
    // Only progress() is used here: it calls ReportJob and nothing of the journal.
    const client = {
      call: (_op: string, input: { resourceId: string }) => {
        sent.push(input.resourceId);
        return Promise.resolve({ discardFile: false });
      },
    } as unknown as Callback;
    reporter = new Reporter(client, 'd-1', journal, silentLogger(), () => Promise.resolve());
  });
  afterEach(() => {
    Date.now = realNow;
  });

  it(`keeps at most ${MAX_PROGRESS_TRACKED} entries, however many resources report`, () => {
    for (let i = 0; i < 3 * MAX_PROGRESS_TRACKED; i++) reporter.progress(job(`vol-${i}`), 1);
    expect(sent).to.have.length(3 * MAX_PROGRESS_TRACKED);
    expect(reporter.trackedProgress).to.equal(MAX_PROGRESS_TRACKED);
  });

  it(`forgets entries not refreshed for ${PROGRESS_FORGET_MS / 60_000} min (their jobs ended unreported)`, () => {
    for (let i = 0; i < 100; i++) reporter.progress(job(`vol-${i}`), 1);
    expect(reporter.trackedProgress).to.equal(100);
    now += PROGRESS_FORGET_MS;
    reporter.progress(job('vol-new'), 1);
    expect(reporter.trackedProgress).to.equal(1);
  });

  it('still sends a running job progress at most once a second unless it is a heartbeat', () => {
    reporter.progress(job('vol-a'), 1);
    reporter.progress(job('vol-a'), 2);
    now += 1000;
    reporter.progress(job('vol-a'), 2);
    reporter.progress(job('vol-a'), 2, true);
    expect(sent).to.deep.equal(['vol-a', 'vol-a', 'vol-a']);
  });
});
