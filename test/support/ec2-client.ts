/** A typed client of the frontend for tests, and small waits on resource states. */
import { SoapClient, SoapFault } from '../../src/soap/client.js';
import { schema, type AmazonEC2PortTypeOperations } from '../../src/generated/frontend.js';
import type { Cluster, TestUser } from './services.js';
import { signedAs } from '../../src/security/wssec/sign.js';
import { waitFor } from './wait.js';

export type Ec2Client = SoapClient<AmazonEC2PortTypeOperations>;

/** A client of the cluster's frontend that signs as one of its users (alice by default). */
export function ec2Client(cluster: Cluster, user: TestUser = 'alice', url: string = cluster.frontendUrl): Ec2Client {
  return new SoapClient<AmazonEC2PortTypeOperations>(schema, 'AmazonEC2PortType', {
    url,
    caPem: cluster.caPem,
    envelope: signedAs(cluster.users[user]),
  });
}

export async function faultOf(p: Promise<unknown>): Promise<SoapFault> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SoapFault) return e;
    throw e;
  }
  throw new Error('expected a SOAP fault, got an answer');
}

export async function volumeStatus(c: Ec2Client, volumeId: string): Promise<string | undefined> {
  const r = await c.call('DescribeVolumes', { volumeSet: { item: [{ volumeId }] } });
  return r.volumeSet.item?.[0]?.status;
}

export async function waitForVolume(
  c: Ec2Client,
  volumeId: string,
  statuses: readonly string[],
  timeoutMs?: number,
): Promise<string> {
  const s = await waitFor(
    `volume ${volumeId}`,
    () => volumeStatus(c, volumeId),
    (v) => v !== undefined && statuses.includes(v),
    timeoutMs,
  );
  return s ?? '';
}

export async function waitForSnapshot(
  c: Ec2Client,
  snapshotId: string,
  statuses: readonly string[],
  timeoutMs?: number,
): Promise<string> {
  const probe = async (): Promise<string | undefined> =>
    (await c.call('DescribeSnapshots', { snapshotSet: { item: [{ snapshotId }] } })).snapshotSet.item?.[0]?.status;
  return (
    (await waitFor(`snapshot ${snapshotId}`, probe, (v) => v !== undefined && statuses.includes(v), timeoutMs)) ?? ''
  );
}
