/**
 * The frontend when its metadata database cannot write, or is locked, through real processes:
 *  - disk full while a Volume Delegate reports a finished job: the report is not acknowledged (the
 *    delegate keeps it and repeats it), clients get Server.Unavailable (503) for writes and keep
 *    reading; once there is space again the repeated report lands and the volume is available. No
 *    answer or report was acknowledged that the database does not hold.
 *  - another process holds the write lock: a write waits without holding up the worker's other
 *    requests, and is answered Unavailable (503) when the lock outlasts the wait; then all is well.
 */
import { expect } from 'chai';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { ec2Client, faultOf, type Ec2Client } from '../support/ec2-client.js';
import { ifMade } from '../support/if-made.js';
import { startCluster, type Cluster } from '../support/services.js';
import { mountTinyFs, type TinyFs } from '../support/tiny-fs.js';
import { waitFor } from '../support/wait.js';

const ZONE = 'vbs-local-1a';

function statusIn(db: string, volumeId: string): string | undefined {
  const conn = new Database(db, { readonly: true, fileMustExist: true });
  try {
    return (conn.prepare('SELECT status FROM volumes WHERE id = ?').get(volumeId) as { status: string } | undefined)
      ?.status;
  } finally {
    conn.close();
  }
}

describe('metadata store faults, end to end', function () {
  this.timeout(120_000);
  let fs: TinyFs;
  let cluster: Cluster;
  let client: Ec2Client;
  let db: string;

  before(async () => {
    fs = mountTinyFs(16);
    db = join(fs.dir, 'vbs.sqlite');
    cluster = await startCluster({ frontend: { database: db, workers: 1 } });
    client = ec2Client(cluster);
  });
  after(async () => {
    ifMade(client)?.close();
    await ifMade(cluster)?.stop();
    ifMade(fs)?.unmount();
  });

  it('does not acknowledge a report it could not commit; the delegate repeats it once there is space', async () => {
    // A zero-filled volume takes the delegate a few seconds: the disk fills before it reports.
    const created = await client.call('CreateVolume', { size: '1', availabilityZone: ZONE, volumeType: 'zero' });
    const volumeId = created.volumeId;
    expect(created.status).to.equal('creating');
    fs.fill();
    try {
      const delegate = cluster.delegates[0] ?? expect.fail('no delegate');
      await waitFor(
        'the delegate to be refused its report',
        () =>
          cluster
            .logLines(delegate)
            .some((l) => l['message'] === 'job report not delivered; will repeat' && l['resourceId'] === volumeId),
        (seen) => seen,
        60_000,
      );
      expect(statusIn(db, volumeId), 'the database still says').to.equal('creating');
      // Reads go on; a write is refused as retryable, and leaves nothing behind.
      const seen = await client.call('DescribeVolumes', { volumeSet: { item: [{ volumeId }] } });
      expect(seen.volumeSet.item?.[0]?.status).to.equal('creating');
      const refused = await faultOf(client.call('CreateVolume', { size: '1', availabilityZone: ZONE }));
      expect(refused.code).to.equal('Unavailable');
      expect(refused.faultcode).to.match(/Server\.Unavailable$/);
    } finally {
      fs.unfill();
    }
    await waitFor(
      'the repeated report to make the volume available',
      async () =>
        (await client.call('DescribeVolumes', { volumeSet: { item: [{ volumeId }] } })).volumeSet.item?.[0]?.status ===
        'available',
      (ok) => ok,
      30_000,
    );
    const all = await client.call('DescribeVolumes', { volumeSet: {} });
    expect(
      (all.volumeSet.item ?? []).map((v) => v.volumeId),
      'no volume from the refused CreateVolume',
    ).to.deep.equal([volumeId]);
  });

  it('answers a write Unavailable while another process holds the lock too long, keeps answering reads, then recovers', async () => {
    const locker = new Database(db);
    try {
      locker.exec('BEGIN IMMEDIATE');
      const started = Date.now();
      const write = faultOf(client.call('CreateVolume', { size: '1', availabilityZone: ZONE }));
      // The same worker answers a read meanwhile: its event loop is not held by the waiting write.
      const readStarted = Date.now();
      await client.call('DescribeVolumes', { volumeSet: {} });
      expect(Date.now() - readStarted, 'a read while a write waits for the lock').to.be.lessThan(1500);
      const fault = await write;
      expect(fault.code).to.equal('Unavailable');
      expect(Date.now() - started).to.be.within(4000, 15_000);
    } finally {
      if (locker.inTransaction) locker.exec('ROLLBACK');
      locker.close();
    }
    const after = await client.call('CreateVolume', { size: '1', availabilityZone: ZONE });
    expect(after.status).to.equal('creating');
  });
});
