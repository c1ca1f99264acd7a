/**
 * A real frontend process on PostgreSQL (`database: postgres://…`), with its workers and a real
 * Volume Delegate: the life cycle through signed SOAP calls, what it made still there after the
 * frontend is killed and started again, and a clear refusal to start when the database cannot be
 * reached (no password in what it prints).
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ec2Client, waitForSnapshot, waitForVolume, type Ec2Client } from '../support/ec2-client.js';
import { ifMade } from '../support/if-made.js';
import { waitFor } from '../support/wait.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { SERVER_BIN } from '../support/repo.js';
import { freePort, startCluster, type Cluster } from '../support/services.js';

describe('frontend on PostgreSQL', function () {
  this.timeout(90_000);
  let pg: PostgresServer;
  let cluster: Cluster;
  let client: Ec2Client;

  before(async () => {
    pg = await startPostgres();
    pg.createDatabase('vbs');
    cluster = await startCluster({ frontend: { database: pg.url('vbs'), workers: 2 } });
    client = ec2Client(cluster);
  });
  after(async () => {
    client.close();
    await ifMade(cluster)?.stop();
    ifMade(pg)?.stop();
  });

  it('runs the life cycle, keeping its records in PostgreSQL', async () => {
    const { volumeId } = await client.call('CreateVolume', { size: '1', availabilityZone: 'vbs-local-1a' });
    expect(await waitForVolume(client, volumeId, ['available', 'error'])).to.equal('available');
    const { snapshotId } = await client.call('CreateSnapshot', { volumeId });
    expect(await waitForSnapshot(client, snapshotId, ['completed', 'error'])).to.equal('completed');
    const restored = await client.call('CreateVolume', { snapshotId, availabilityZone: 'vbs-local-1a' });
    expect(await waitForVolume(client, restored.volumeId, ['available', 'error'])).to.equal('available');
    expect(pg.psql('vbs', `SELECT status FROM volumes WHERE id = '${volumeId}'`).trim()).to.equal('available');
    await client.call('DeleteVolume', { volumeId: restored.volumeId });
    // A deleted volume is no longer listed; its tombstone row says it is gone.
    await waitFor(
      'the volume deleted',
      () => pg.psql('vbs', `SELECT status FROM volumes WHERE id = '${restored.volumeId}'`).trim(),
      (status) => status === 'deleted',
    );
  });

  it('finds what it acknowledged after it was killed and started again', async () => {
    const { volumeId } = await client.call('CreateVolume', { size: '1', availabilityZone: 'vbs-local-1a' });
    await cluster.kill(cluster.frontend, 'SIGKILL');
    await cluster.restart(cluster.frontend);
    client.close();
    client = ec2Client(cluster);
    expect(await waitForVolume(client, volumeId, ['available', 'error'])).to.equal('available');
  });

  it('refuses to start when the database cannot be reached, saying so without the password', async () => {
    const home = mkdtempSync(join(tmpdir(), 'vbs-pgdown-'));
    try {
      const config = join(home, 'frontend.json');
      const url = `postgres://vbs:s3cret-word@127.0.0.1:${await freePort()}/vbs`;
      writeFileSync(config, JSON.stringify({ home, port: await freePort(), database: url, workers: 1 }), {
        mode: 0o600,
      });
      const r = spawnSync(process.execPath, [SERVER_BIN, 'frontend', '--config', config], {
        encoding: 'utf8',
        timeout: 30_000,
        env: { ...process.env, VBS_HOME: home },
      });
      expect(r.status).to.not.equal(0);
      const said = r.stdout + r.stderr;
      expect(said).to.match(/metadata.*cannot be reached/i);
      expect(said).not.to.include('s3cret-word');
      expect(said).not.to.match(/^\s+at /m);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
