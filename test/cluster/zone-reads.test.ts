// Zone-aware reads on a real cluster (issue 13, item 4): one etcd and three brokers in zones z1, z2, z3,
// a replicated topic (RF 3), a consumer that says its zone. Asserted from the broker side (which broker's
// /metrics lists a subscription of the consumer's client id; followers' replica fetches have their own): the consumer is served by the follower in its zone, not
// the leader; (a) when the leader goes quiet (SIGSTOP, shorter than its lease) the follower stops serving
// within followerReadMaxLagMs and the consumer moves to the leader; (b) read-your-writes: asked for an
// offset past its high watermark, the follower waits for it instead of refusing or serving older records;
// (c) when the follower is killed the consumer moves to the leader. Every record arrives once, in order,
// after a Ping barrier.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricsText } from '../../bench/harness/broker-metrics.js';
import { type Bus, type ConsumedRecord, connect, type Subscription } from '../../client/index.js';
import { webSocketTransport } from '../../client/internal.js';
import { BarrierTransport } from '../helpers/barrier-transport.js';
import type { BrokerProcess } from '../helpers/broker.js';
import { eventually, startCluster, type TestCluster } from '../helpers/cluster.js';
import { partition0, stopCluster, valueOf } from './harness.js';

/** A follower not caught up this long stops serving reads: short, so the quiet-leader case is quick. */
const FOLLOWER_READ_MAX_LAG_MS = 600;
const LEASE_TTL_MS = 5_000;
let cluster: TestCluster;
const buses: Bus[] = [];

beforeAll(async () => {
  // A 5 s lease: the leader paused below must not lose its lease (a failover would also end the read) before
  // the follower's own bound ends it.
  cluster = await startCluster({ brokers: 3, leaseTtlMs: LEASE_TTL_MS, args: ['--replica-lag-ms', '1000', '--follower-read-max-lag-ms', String(FOLLOWER_READ_MAX_LAG_MS)] });
}, 60_000);
afterAll(() => stopCluster(cluster as TestCluster | undefined, buses), 60_000);

async function bus(opts: { zone?: string; transport?: BarrierTransport; clientId?: string } = {}): Promise<Bus> {
  const b = await connect({ brokers: cluster.bootstrapUrls, clientId: 'zone-reads-test', requestTimeoutMs: 2_000, connectTimeoutMs: 1_500, deliveryTimeoutMs: 30_000, reconnect: { initialMs: 20, maxMs: 250 }, ...opts });
  buses.push(b);
  return b;
}

const CONSUMER = 'zone-consumer';

/** Whether `b` serves a subscription of the consumer to partition 0 of `topic` (its lag series on /metrics). */
async function serves(b: BrokerProcess, topic: string): Promise<boolean> {
  const text = await metricsText(b);
  return text !== null && new RegExp(`^tickbus_subscription_lag_records\\{topic="${topic}",partition="0",owner="\\d+",conn="\\d+",client="${CONSUMER}"\\} `, 'm').test(text);
}

/** A replicated topic with all three in the ISR; returns the leader and a follower. */
async function replicatedTopic(admin: Bus, topic: string): Promise<{ leader: BrokerProcess; follower: BrokerProcess; followerId: number }> {
  await admin.admin.createTopic(topic, { partitions: 1, replicationFactor: 3, minInsync: 2 });
  await eventually(async () => (await partition0(cluster.brokers, topic)).isr?.length === 3, `${topic}: ISR of 3`);
  const p = await partition0(cluster.brokers, topic);
  expect(p.replicaEndpoints?.every((e) => e.startsWith('ws://'))).toBe(true);
  const followerId = p.replicas!.find((id) => id !== p.leaderId)!;
  return { leader: cluster.broker(p.leaderId!), follower: cluster.broker(followerId), followerId };
}

async function produce(b: Bus, topic: string, from: number, n: number): Promise<void> {
  for (let i = from; i < from + n; i += 10) {
    const batch = Array.from({ length: Math.min(10, from + n - i) }, (_, k) => ({ value: `v${i + k}` }));
    await b.send(topic, batch, { partition: 0, acks: 'all' });
  }
}

function collect(sub: Subscription): ConsumedRecord[] {
  const out: ConsumedRecord[] = [];
  sub.on('record', (r) => {
    out.push(r);
  });
  return out;
}

async function received(got: ConsumedRecord[], n: number, what: string): Promise<void> {
  await eventually(() => Promise.resolve(got.length >= n), `${what}: ${n} records (have ${got.length})`, 20_000);
}

/** Exactly v0..v(n-1) at offsets 0..n-1: no gap, no duplicate (checked after a barrier). */
async function exactly(got: ConsumedRecord[], n: number, barrier: BarrierTransport): Promise<void> {
  await barrier.barrier();
  expect(got.map((r) => r.offset)).toEqual(Array.from({ length: n }, (_, i) => i));
  expect(got.map(valueOf)).toEqual(Array.from({ length: n }, (_, i) => `v${i}`));
}

/**
 * A topic with 50 records and a consumer in its follower's zone reading from the start, once it has all 50
 * and the follower (not the leader) serves it.
 */
async function followerServedConsumer(admin: Bus, topic: string): Promise<{ leader: BrokerProcess; follower: BrokerProcess; barrier: BarrierTransport; sub: Subscription; got: ConsumedRecord[] }> {
  const { leader, follower, followerId } = await replicatedTopic(admin, topic);
  await produce(admin, topic, 0, 50);
  const barrier = new BarrierTransport(webSocketTransport);
  const consumer = await bus({ zone: `z${followerId}`, transport: barrier, clientId: CONSUMER });
  const sub = consumer.subscribe(topic, { from: 'earliest' });
  const got = collect(sub);
  await received(got, 50, 'from the follower');
  // The broker side: the follower serves the subscription, the leader does not.
  await eventually(() => serves(follower, topic), 'the follower to serve the consumer');
  expect(await serves(leader, topic)).toBe(false);
  return { leader, follower, barrier, sub, got };
}

describe('zone-aware reads on a 3-broker cluster', () => {
  it('a zone-tagged consumer is served by its zone\'s follower, and moves to the leader when the leader goes quiet past the bound', async () => {
    const admin = await bus();
    const topic = 'zone-quiet';
    const { leader, follower, barrier, sub, got } = await followerServedConsumer(admin, topic);
    expect(sub.readsFrom(0)?.fromReplica).toBe(true);

    // The leader stops, for much less than its lease (no failover, which would end the read too). The
    // follower hears nothing, is no longer caught up after FOLLOWER_READ_MAX_LAG_MS, and ends the read.
    process.kill(leader.pid, 'SIGSTOP');
    try {
      await eventually(async () => !(await serves(follower, topic)), 'the follower to end its stale replica read', 2_000);
    } finally {
      process.kill(leader.pid, 'SIGCONT');
    }
    await produce(admin, topic, 50, 50);
    await received(got, 100, 'from the leader');
    await eventually(() => serves(leader, topic), 'the leader to serve the consumer');
    expect(sub.readsFrom(0)?.fromReplica).toBe(false);
    await exactly(got, 100, barrier);
  }, 60_000);

  it('read-your-writes: asked for an offset past its high watermark, the follower waits for it', async () => {
    const admin = await bus();
    const topic = 'zone-ryw';
    const { follower, followerId } = await replicatedTopic(admin, topic);
    await produce(admin, topic, 0, 20);
    const barrier = new BarrierTransport(webSocketTransport);
    const consumer = await bus({ zone: `z${followerId}`, transport: barrier, clientId: CONSUMER });
    // Offset 25 is past every replica's log (the leader would answer OFFSET_OUT_OF_RANGE): the follower
    // accepts it and waits (within FOLLOWER_READ_MAX_LAG_MS) for its high watermark to get there.
    const sub = consumer.subscribe(topic, { from: { offset: 25 } });
    const got = collect(sub);
    // The subscription is held on the follower (waiting: nothing at 25 yet) before the records exist.
    await eventually(() => serves(follower, topic), 'the follower to hold the waiting subscription', 3_000);
    expect(got).toEqual([]);
    await produce(admin, topic, 20, 10);
    await received(got, 5, 'the records from offset 25');
    expect(sub.readsFrom(0)?.fromReplica).toBe(true);
    expect(await serves(follower, topic)).toBe(true);
    await barrier.barrier();
    expect(got.map((r) => r.offset)).toEqual([25, 26, 27, 28, 29]);
    expect(sub.stats.resubscribes).toBe(0);
  }, 60_000);

  it('moves to the leader when its zone\'s follower is killed, gap-free and duplicate-free', async () => {
    const admin = await bus();
    const topic = 'zone-kill';
    const { leader, follower, barrier, sub, got } = await followerServedConsumer(admin, topic);

    await follower.kill9();
    // acks 'all' goes on once the ISR drops the dead follower (replica lag 1 s); min.insync 2 still holds.
    await produce(admin, topic, 50, 50);
    await received(got, 100, 'after the follower died');
    await eventually(() => serves(leader, topic), 'the leader to serve the consumer');
    expect(sub.readsFrom(0)).toMatchObject({ fromReplica: false });
    await exactly(got, 100, barrier);
  }, 60_000);
});
