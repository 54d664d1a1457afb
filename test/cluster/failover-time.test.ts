// Failover time, measured (docs/replication.md, "Failover time"): kill -9 of the partition leader N
// times under a running acks=all producer, each time from the kill to the first acknowledgement of a
// record sent after it (only a new leader can give that), then restart the victim and wait for a full
// ISR before the next kill. In the suite it kills twice (repeated failovers lose nothing); as a
// measurement, ask for more:
//   FAILOVER_KILLS=10 npx vitest run test/cluster/failover-time.test.ts
// It prints p50 and max, and fails if any failover takes longer than 3 lease TTLs or loses an ack.
import { afterAll, describe, expect, it } from 'vitest';
import { type Bus, connect } from '../../client/index.js';
import { eventually, health, startCluster, type TestCluster } from '../helpers/cluster.js';
import { AcksAllProducer, partition0, readCommitted, valueOf } from './harness.js';

const KILLS = Number(process.env.FAILOVER_KILLS ?? 2);
const LEASE_TTL_MS = Number(process.env.FAILOVER_LEASE_TTL_MS ?? 2_000);
let cluster: TestCluster | undefined;
const buses: Bus[] = [];

afterAll(async () => {
  await Promise.allSettled(buses.map((b) => b.close()));
  await cluster?.stop();
}, 60_000);

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

describe('failover time', () => {
  it(`kill -9 of the leader ${KILLS} times: time to the first acks=all ack on the new leader`, async () => {
    const c = await startCluster({ brokers: 3, leaseTtlMs: LEASE_TTL_MS, args: ['--replica-lag-ms', '1000'] });
    cluster = c;
    const bus = await connect({ brokers: c.bootstrapUrls, clientId: 'failover-time', requestTimeoutMs: 1_500, connectTimeoutMs: 1_500, deliveryTimeoutMs: 60_000, reconnect: { initialMs: 20, maxMs: 250 } });
    buses.push(bus);
    await bus.admin.createTopic('ft', { partitions: 1, replicationFactor: 3, minInsync: 2, config: { fsync: 'always' } });
    const fullIsr = (): Promise<void> => eventually(async () => (await partition0(c.brokers, 'ft')).isr?.length === 3, 'ISR of 3', 30_000);
    await fullIsr();

    const producer = new AcksAllProducer(bus, 'ft', 'f');
    const times: number[] = [];
    for (let k = 0; k < KILLS; k++) {
      await producer.ackedMore(50);
      const victim = c.broker((await partition0(c.brokers, 'ft')).leaderId!);
      const killedAt = performance.now();
      await victim.kill9();
      const sentAfterKill = producer.sent.length;
      await eventually(async () => Promise.resolve(producer.acked.length > sentAfterKill), 'an ack from the new leader', 30_000);
      const ms = producer.acked[sentAfterKill]!.ackedAt - killedAt;
      times.push(ms);
      console.log(`kill ${k + 1}: broker ${c.brokers.indexOf(victim) + 1} → first ack after ${ms.toFixed(0)} ms`);
      await victim.restart();
      await eventually(async () => (await Promise.all(c.brokers.map(health))).every((h) => h?.cluster?.live === true), 'every broker live', 30_000);
      await fullIsr();
    }
    await producer.ackedMore(50);
    await producer.stop();

    const sorted = [...times].sort((a, b) => a - b);
    console.log(
      `failover time over ${KILLS} kills (lease TTL ${LEASE_TTL_MS} ms): p50 ${percentile(sorted, 50).toFixed(0)} ms, max ${sorted[sorted.length - 1]!.toFixed(0)} ms, min ${sorted[0]!.toFixed(0)} ms`,
    );
    expect(sorted[sorted.length - 1]).toBeLessThan(3 * LEASE_TTL_MS);
    // And nothing acknowledged was lost or doubled over all those failovers.
    expect(producer.failed).toEqual([]);
    const log = await readCommitted(bus, 'ft', producer.acked.length, 30_000);
    expect(log.map(valueOf)).toEqual(producer.acked.map((a) => a.value));
  }, 30_000 + KILLS * 30_000);
});
