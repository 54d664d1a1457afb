// Cluster mode of the broker process, against a real etcd and three real brokers: a replicated topic
// created over the wire is placed by the controller, every broker answers the same metadata (leaders
// spread, replicas in distinct zones, endpoints at the leader's owner), owners take the roles the
// records give them, `tickbus cluster status` reads the cluster from etcd, and when a leader is killed
// the others elect a new one at epoch + 1 and say so in metadata and in cluster status.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PartitionInfoWire } from '../../../schemas/frames.js';
import { runCli } from '../../helpers/cli.js';
import { eventually, startCluster, type TestCluster } from '../../helpers/cluster.js';
import { metadata, WireClient } from '../../helpers/wire-client.js';

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster({ brokers: 3, leaseTtlMs: 2_000 });
}, 60_000);
afterAll(async () => {
  await (cluster as TestCluster | undefined)?.stop();
});

interface Status {
  controller: number | null;
  /** replicas/leaders: how many partition records name the broker as a replica / as the leader now. */
  brokers: { id: number; zone: string | null; endpoint: string | null; alive: boolean; owners: string[]; replicas: number; leaders: number; draining: boolean }[];
}

async function clusterStatus(): Promise<Status> {
  const r = await runCli(['cluster', 'status', '--cluster', cluster.etcdUrl, '--cluster-name', cluster.clusterName]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Status;
}

/** The owner endpoint a partition's leader registered (what metadata must point clients at). */
function leaderOwnerUrl(p: PartitionInfoWire): string {
  return cluster.broker(p.leaderId!).owners[p.ownerId]!.url;
}

async function partitionsFrom(url: string, topic: string): Promise<PartitionInfoWire[]> {
  const md = await metadata(url, [topic]);
  return [...md.topics[0]!.partitions].sort((a, b) => a.partition - b.partition);
}

describe('cluster mode', () => {
  it('places a replicated topic, and every broker answers the same metadata pointing at the leaders', async () => {
    const c = await WireClient.open(cluster.bootstrapUrls[1]!);
    const created = await c.request({ type: 'CreateTopic', requestId: 0, name: 'orders', partitions: 3, config: null, replicationFactor: 3, minInsync: 2 });
    c.close();
    expect(created.type).toBe('MetadataResult');
    if (created.type !== 'MetadataResult') return;
    expect(created.topics[0]).toMatchObject({ name: 'orders', replicationFactor: 3, minInsync: 2 });

    const parts = await partitionsFrom(cluster.bootstrapUrls[0]!, 'orders');
    expect(parts).toHaveLength(3);
    // Preferred leaders spread over the three brokers; every replica set spans the three zones.
    expect(new Set(parts.map((p) => p.leaderId)).size).toBe(3);
    for (const p of parts) {
      expect([...p.replicas!].sort()).toEqual([1, 2, 3]);
      expect(p.leaderId).toBe(p.replicas![0]);
      expect([...p.isr!].sort()).toEqual([1, 2, 3]);
      expect(p.replicaZones).toEqual(p.replicas!.map((id) => `z${id}`));
      expect(p.leaderEpoch).toBe(1);
      expect(p.endpoint).toBe(leaderOwnerUrl(p));
    }
    // Metadata is the cluster's, not the broker's: the other two answer the same leaders and endpoints.
    for (const url of cluster.bootstrapUrls.slice(1)) {
      const other = await partitionsFrom(url, 'orders');
      expect(other.map((p) => [p.leaderId, p.leaderEpoch, p.endpoint, p.replicas])).toEqual(parts.map((p) => [p.leaderId, p.leaderEpoch, p.endpoint, p.replicas]));
    }

    // Each broker's owner takes the role the records give it (leader of one partition, follower of two).
    await eventually(async () => {
      const roles = await Promise.all(
        cluster.brokers.map(async (b) => {
          const text = await (await fetch(`http://127.0.0.1:${b.port}/metrics`)).text();
          return [...text.matchAll(/^tickbus_partition_role\{topic="orders",partition="(\d)",role="(\w+)"\} 1$/gm)].map((m) => `${m[1]}:${m[2]}`).sort();
        }),
      );
      return roles.every((r, i) => r.length === 3 && r.filter((x) => x.endsWith(':leader')).length === 1 && r.includes(`${parts.findIndex((p) => p.leaderId === i + 1)}:leader`));
    }, 'every broker to lead its partition and follow the other two');
  });

  it('rejects a replication factor above the live brokers with INVALID_CONFIG', async () => {
    const c = await WireClient.open(cluster.bootstrapUrls[0]!);
    const r = await c.request({ type: 'CreateTopic', requestId: 0, name: 'too-wide', partitions: 1, config: null, replicationFactor: 4, minInsync: 1 });
    c.close();
    expect(r).toMatchObject({ type: 'ErrorReply', code: 206 });
  });

  it('cluster status lists brokers and the controller, and still answers with a leader killed, which fails over', async () => {
    const before = await clusterStatus();
    // orders (3 partitions, replication factor 3, one leader per broker) is the only topic: every broker
    // holds a replica of each partition and leads one; nobody is draining.
    expect(before.brokers).toEqual(
      [1, 2, 3].map((id) => ({ id, zone: `z${id}`, endpoint: cluster.broker(id).url, alive: true, owners: [cluster.broker(id).owners[0]!.url], replicas: 3, leaders: 1, draining: false })),
    );
    expect([1, 2, 3]).toContain(before.controller);

    const p0 = (await partitionsFrom(cluster.bootstrapUrls[0]!, 'orders'))[0]!;
    const victim = p0.leaderId!;
    await cluster.broker(victim).kill9();
    const survivor = cluster.bootstrapUrls[victim % 3]!; // a broker other than the victim

    await eventually(async () => (await partitionsFrom(survivor, 'orders'))[0]!.leaderEpoch >= 2, 'a new leader of orders/0', 20_000);
    const after = (await partitionsFrom(survivor, 'orders'))[0]!;
    expect(after.leaderId).not.toBe(victim);
    expect(after.replicas).toContain(after.leaderId);
    expect(after.isr).not.toContain(victim);
    expect(after.endpoint).toBe(leaderOwnerUrl(after));

    const down = await clusterStatus();
    // The dead broker keeps its replicas (no --replace-after-ms) but leads nothing; the leaderships are
    // where metadata says they are.
    const leadersNow = (await partitionsFrom(survivor, 'orders')).map((p) => p.leaderId);
    expect(down.brokers.map((b) => ({ id: b.id, replicas: b.replicas, leaders: b.leaders, draining: b.draining }))).toEqual(
      [1, 2, 3].map((id) => ({ id, replicas: 3, leaders: leadersNow.filter((l) => l === id).length, draining: false })),
    );
    expect(down.brokers.find((b) => b.id === victim)).toMatchObject({ alive: false, leaders: 0 });
    expect(down.brokers.filter((b) => b.alive).map((b) => b.id)).toEqual([1, 2, 3].filter((id) => id !== victim));
    expect(down.controller).not.toBe(victim);
    expect(down.controller).not.toBeNull();

    const described = await runCli(['topics', 'describe', 'orders', '--broker', survivor]);
    expect(described.code).toBe(0);
    const t = JSON.parse(described.stdout) as { partitions: { partition: number; leader: number; leaderEpoch: number; isr: number[]; replicas: number[]; highWatermark: number }[] };
    expect(t.partitions[0]).toMatchObject({ partition: 0, leader: after.leaderId, leaderEpoch: after.leaderEpoch });
    expect(Object.keys(t.partitions[0]!)).toEqual(expect.arrayContaining(['leader', 'replicas', 'isr', 'leaderEpoch', 'highWatermark']));
  }, 60_000);
});
