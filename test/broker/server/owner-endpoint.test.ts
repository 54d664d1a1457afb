// A partition leader's owner thread restarts on another port (ephemeral owner ports, and the old port
// taken meanwhile): the broker writes the new endpoint into its broker record, so the other broker's
// metadata points clients at it and its follower replicates from it — an acks 'all' write with
// min.insync 2 is acknowledged only once that follower has the record.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { connect } from '../../../client/index.js';
import type { BrokerProcess } from '../../helpers/broker.js';
import { eventually, startCluster, type TestCluster } from '../../helpers/cluster.js';
import { metadata } from '../../helpers/wire-client.js';

let cluster: TestCluster;
const blockers: net.Server[] = [];

beforeAll(async () => {
  cluster = await startCluster({ brokers: 2, owners: 1, leaseTtlMs: 2_000, args: ['--owner-base-port', '0', '--test-hooks'] });
}, 60_000);
afterAll(async () => {
  for (const s of blockers) await new Promise<void>((r) => s.close(() => r()));
  await (cluster as TestCluster | undefined)?.stop();
});

interface OwnerHealth {
  id: number;
  up: boolean;
  port: number;
  restarts: number;
}

async function owner0(b: BrokerProcess): Promise<OwnerHealth | null> {
  const r = await fetch(`http://127.0.0.1:${b.port}/healthz`).catch(() => null);
  if (!r) return null;
  return ((await r.json()) as { owners: OwnerHealth[] }).owners[0] ?? null;
}

/**
 * Listens on `port` so the restarting owner cannot take it back; false if it is taken already. It resets
 * every connection, as a port with nothing on it refuses them.
 */
function block(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer((c) => c.resetAndDestroy());
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => {
      blockers.push(s);
      resolve(true);
    });
  });
}

/** Faults owner 0 of `b` and holds its port while it restarts, until it comes back elsewhere (bounded tries). */
async function moveOwner0(b: BrokerProcess): Promise<{ from: number; to: number }> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const before = (await owner0(b))!;
    const res = await fetch(`http://127.0.0.1:${b.port}/test/owners/0/fault`, { method: 'POST' });
    expect(res.status).toBe(200);
    // The supervisor restarts it 50 ms after it stops: catch the window.
    const deadline = Date.now() + 5_000;
    while ((await owner0(b))?.up !== false && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
    const blocked = await block(before.port);
    let now: OwnerHealth | null = null;
    await eventually(async () => {
      now = await owner0(b);
      return now?.up === true && now.restarts > before.restarts;
    }, 'owner 0 to come back');
    const back = now as OwnerHealth | null;
    if (blocked && back && back.port !== before.port) return { from: before.port, to: back.port };
  }
  throw new Error('owner 0 kept coming back on its old port');
}

describe('owner endpoints in cluster mode', () => {
  it("a leader's owner restarted on another port is found there by clients and by the follower", async () => {
    onTestFailed(() => {
      for (const b of cluster.brokers) console.error(`--- broker ${cluster.brokers.indexOf(b) + 1} stderr:\n${b.stderr()}`);
    });
    const bus = await connect({ brokers: cluster.bootstrapUrls });
    try {
      const t = await bus.admin.createTopic('moved', { partitions: 1, replicationFactor: 2, minInsync: 2 });
      const leaderId = t.partitions[0]!.leaderId;
      expect([1, 2]).toContain(leaderId);
      const follower = cluster.broker(leaderId === 1 ? 2 : 1);
      await expect(bus.send('moved', [{ value: 'before' }], { acks: 'all' })).resolves.toHaveLength(1);

      const { from, to } = await moveOwner0(cluster.broker(leaderId));
      const newUrl = `ws://127.0.0.1:${to}/`;
      // The other broker's metadata (read from the leader's broker record) names the new endpoint.
      await eventually(async () => (await metadata(follower.url, ['moved'])).topics[0]?.partitions[0]?.endpoint === newUrl, `the follower broker's metadata to name ${newUrl} instead of port ${from}`);

      // min.insync 2: acknowledged only after the follower fetched it from the leader at its new endpoint.
      const acks = await bus.send('moved', [{ value: 'after' }], { acks: 'all' });
      expect(acks).toHaveLength(1);
      const d = await bus.admin.describeTopic('moved');
      expect(d.partitions[0]).toMatchObject({ leaderId, endpoint: newUrl });
      expect([...d.partitions[0]!.isr].sort()).toEqual([1, 2]);
    } finally {
      await bus.close();
    }
  }, 90_000);
});
