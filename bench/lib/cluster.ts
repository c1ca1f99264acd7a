/**
 * Why: the benchmarks must time VBS as a user sees it, through the real frontend and Volume Delegate
 * processes over HTTPS, from the request until DescribeVolumes/DescribeSnapshots says the resource is
 * ready. This module starts such a cluster (test/support/services.ts), always stops it, and offers the
 * few timed calls the benchmarks need, plus the delegate's own job duration from its log to tell the
 * file work apart from the protocol around it.
 */
import { join } from 'node:path';
import { startCluster, type Cluster } from '../../test/support/services.js';
import { SoapClient } from '../../src/soap/client.js';
import { schema, type AmazonEC2PortTypeOperations } from '../../src/generated/frontend.js';
import { since } from './stats.js';
import { signedAs } from '../../src/security/wssec/sign.js';

export type VolumeType = 'sparse' | 'thick' | 'zero';

/**
 * How long to sleep between two Describe calls: at least floorMs ("every few ms"), and at least
 * `fraction` of the time elapsed so far. The second part bounds the timing error to a few percent
 * while keeping the observer small: every Describe is a request that the client signs and the
 * frontend verifies (~7 ms here), so polling a 0.5 s snapshot every few ms keeps about one of the
 * 2 CPUs busy, which can slow the very copy being timed.
 */
export interface PollPolicy {
  readonly floorMs: number;
  readonly fraction: number;
}
export const DEFAULT_POLL: PollPolicy = { floorMs: 2, fraction: 0.02 };
/** No benchmarked operation may take longer; beyond it the run is broken, not slow. */
const READY_TIMEOUT_MS = 300_000;
const ZONE = 'vbs-local-1a';

export interface Timed {
  readonly id: string;
  /** From sending the Create request to the Describe answer that shows the resource ready. */
  readonly totalMs: number;
  /** From sending the Create request to its answer. */
  readonly requestMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class BenchCluster {
  readonly client: SoapClient<AmazonEC2PortTypeOperations>;

  constructor(
    readonly cluster: Cluster,
    readonly storageRoot: string,
  ) {
    // Every request is signed (WS-Security X.509) as an ordinary user, as a real client's would be.
    this.client = new SoapClient<AmazonEC2PortTypeOperations>(schema, 'AmazonEC2PortType', {
      url: cluster.frontendUrl,
      caPem: cluster.caPem,
      timeoutMs: 120_000,
      envelope: signedAs(cluster.users.alice),
    });
  }

  volumeFile(volumeId: string): string {
    return join(this.storageRoot, 'volumes', `${volumeId}.img`);
  }

  async createVolume(sizeGiB: number, volumeType: VolumeType, poll: PollPolicy = DEFAULT_POLL): Promise<Timed> {
    const start = performance.now();
    const created = await this.client.call('CreateVolume', {
      size: String(sizeGiB),
      availabilityZone: ZONE,
      volumeType,
    });
    const requestMs = since(start);
    for (;;) {
      const described = await this.client.call('DescribeVolumes', {
        volumeSet: { item: [{ volumeId: created.volumeId }] },
      });
      const status = described.volumeSet.item?.[0]?.status;
      if (status === 'available') return { id: created.volumeId, totalMs: since(start), requestMs };
      if (status !== 'creating')
        throw new Error(
          `volume ${created.volumeId} (${sizeGiB} GiB ${volumeType}) became ${String(status)}: ${this.delegateLogTail()}`,
        );
      if (since(start) > READY_TIMEOUT_MS)
        throw new Error(`volume ${created.volumeId} not available after ${READY_TIMEOUT_MS} ms`);
      await sleep(Math.max(poll.floorMs, since(start) * poll.fraction));
    }
  }

  async createSnapshot(volumeId: string, poll: PollPolicy = DEFAULT_POLL): Promise<Timed> {
    const start = performance.now();
    const created = await this.client.call('CreateSnapshot', { volumeId });
    const requestMs = since(start);
    for (;;) {
      const described = await this.client.call('DescribeSnapshots', {
        snapshotSet: { item: [{ snapshotId: created.snapshotId }] },
      });
      const status = described.snapshotSet.item?.[0]?.status;
      if (status === 'completed') return { id: created.snapshotId, totalMs: since(start), requestMs };
      if (status !== 'pending')
        throw new Error(
          `snapshot ${created.snapshotId} of ${volumeId} became ${String(status)}: ${this.delegateLogTail()}`,
        );
      if (since(start) > READY_TIMEOUT_MS)
        throw new Error(`snapshot ${created.snapshotId} not completed after ${READY_TIMEOUT_MS} ms`);
      await sleep(Math.max(poll.floorMs, since(start) * poll.fraction));
    }
  }

  async deleteVolume(volumeId: string): Promise<void> {
    await this.client.call('DeleteVolume', { volumeId });
  }

  async deleteSnapshot(snapshotId: string): Promise<void> {
    await this.client.call('DeleteSnapshot', { snapshotId });
  }

  /** How long the delegate's job took by its own log ("job succeeded", durationMs), or null. */
  delegateJobMs(resourceId: string): number | null {
    const delegate = this.cluster.delegates[0];
    if (!delegate) return null;
    const line = this.cluster
      .logLines(delegate)
      .find((l) => l['message'] === 'job succeeded' && l['resourceId'] === resourceId);
    const ms = line?.['durationMs'];
    return typeof ms === 'number' ? ms : null;
  }

  private delegateLogTail(): string {
    const delegate = this.cluster.delegates[0];
    if (!delegate) return '';
    return this.cluster
      .logLines(delegate)
      .slice(-3)
      .map((l) => JSON.stringify(l))
      .join(' | ');
  }
}

export interface ClusterSetup {
  /** The delegate's storage root; by default HOME/volumes of the cluster's temporary home. */
  readonly storageRoot?: string;
  readonly sparseOvercommit?: number;
}

/** Starts a one-delegate cluster, warms its connections up, runs fn, and always stops it. */
export async function withCluster<T>(setup: ClusterSetup, fn: (c: BenchCluster) => Promise<T>): Promise<T> {
  const overrides: Record<string, unknown> = {};
  if (setup.storageRoot !== undefined) overrides['storageRoot'] = setup.storageRoot;
  if (setup.sparseOvercommit !== undefined) overrides['sparseOvercommit'] = setup.sparseOvercommit;
  const cluster = await startCluster({ delegate: () => overrides });
  const bench = new BenchCluster(cluster, setup.storageRoot ?? join(cluster.home, 'volumes'));
  try {
    // TLS handshakes and first-query costs belong to no measurement.
    const warm = await bench.createVolume(1, 'sparse');
    await bench.deleteVolume(warm.id);
    return await fn(bench);
  } finally {
    bench.client.close();
    await cluster.stop();
  }
}
