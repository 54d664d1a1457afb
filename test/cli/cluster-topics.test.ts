// `tickbus topics create|describe` against a real two-broker cluster, through the SDK's Admin: the
// replication options reach the controller, and both commands print the placement with the cluster
// fields named for people (leader, replicas, isr, replicaZones), the same from either broker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster({ brokers: 2, leaseTtlMs: 2_000 });
}, 60_000);
afterAll(async () => {
  await (cluster as TestCluster | undefined)?.stop();
});

interface Described {
  name: string;
  replicationFactor: number;
  minInsync: number;
  partitions: { partition: number; leader: number; replicas: number[]; isr: number[]; replicaZones: string[]; leaderEpoch: number; endpoint: string }[];
}

describe('tickbus topics in cluster mode', () => {
  it('creates a replicated topic and describes its placement from either broker', async () => {
    const created = await runCli(['topics', 'create', 'placed', '--partitions', '2', '--replication-factor', '2', '--min-insync', '2', '--broker', cluster.bootstrapUrls[0]!]);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const c = JSON.parse(created.stdout) as Described;
    expect(c).toMatchObject({ name: 'placed', replicationFactor: 2, minInsync: 2 });
    expect(c.partitions.map((p) => p.partition)).toEqual([0, 1]);
    for (const p of c.partitions) {
      expect([...p.replicas].sort()).toEqual([1, 2]);
      expect(p.leader).toBe(p.replicas[0]);
      expect(p.replicaZones).toEqual(p.replicas.map((id) => `z${id}`));
    }

    for (const url of cluster.bootstrapUrls) {
      const described = await runCli(['topics', 'describe', 'placed', '--broker', url]);
      expect(described.code).toBe(0);
      const d = JSON.parse(described.stdout) as Described;
      expect(d).toMatchObject({ name: 'placed', replicationFactor: 2, minInsync: 2 });
      expect(d.partitions.map((p) => [p.partition, p.leader, p.replicas, p.leaderEpoch])).toEqual(c.partitions.map((p) => [p.partition, p.leader, p.replicas, p.leaderEpoch]));
      for (const p of d.partitions) expect(p.endpoint).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/$/);
    }

    // A replication factor above the live brokers is the controller's typed error, not a usage error.
    const tooMany = await runCli(['topics', 'create', 'big', '--partitions', '1', '--replication-factor', '3', '--broker', cluster.bootstrapUrls[1]!]);
    expect(tooMany.code).toBe(1);
    expect(tooMany.stderr).toMatch(/INVALID_CONFIG/);
  }, 60_000);
});
