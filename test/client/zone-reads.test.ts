// Zone-aware reads in the SDK (issue 13, item 4): connect({ zone }) reads a partition from an in-sync
// replica in the client's zone (Subscribe.fromReplica), else from the leader; a replica that stops, goes
// stale or refuses hands the partition to the leader or another in-zone replica, gap-free and
// duplicate-free. The choice itself (readTarget) is a pure function, tested first.
import { describe, expect, it } from 'vitest';
import { type Bus, type ConsumedRecord, connect } from '../../client/index.js';
import type { PartitionMeta } from '../../client/internal.js';
import { readTarget } from '../../client/replica-choice.js';
import { BarrierTransport } from '../helpers/barrier-transport.js';
import { BOOTSTRAP, FakeBroker } from './fake-broker.js';
import { replicaUrl, ZoneReplicas } from './zone-replicas.js';
import { busesClosedAfterEach, collect, until } from './sdk-fixture.js';

const dec = new TextDecoder();

describe('readTarget: which copy a committed read goes to', () => {
  const pm = (over: Partial<PartitionMeta> = {}): PartitionMeta => ({
    partition: 0,
    ownerId: 0,
    endpoint: 'ws://leader',
    leaderEpoch: 3,
    logStartOffset: 0,
    highWatermark: 0,
    leaderId: 1,
    replicas: [1, 2, 3],
    isr: [1, 2, 3],
    replicaZones: ['z1', 'z2', 'z3'],
    replicaEndpoints: ['ws://leader', 'ws://r2', 'ws://r3'],
    ...over,
  });
  const leader = { endpoint: 'ws://leader', fromReplica: false };

  it('an in-sync follower in the zone', () => {
    expect(readTarget(pm(), 'z2')).toEqual({ endpoint: 'ws://r2', fromReplica: true });
  });
  it('the leader when the client has no zone, or the zone has no replica', () => {
    expect(readTarget(pm(), null)).toEqual(leader);
    expect(readTarget(pm(), 'z9')).toEqual(leader);
  });
  it('the leader when it is the copy in the zone', () => {
    expect(readTarget(pm(), 'z1')).toEqual(leader);
  });
  it('never a follower out of the ISR, down (no endpoint) or passed over after a failure', () => {
    expect(readTarget(pm({ isr: [1, 3] }), 'z2')).toEqual(leader);
    expect(readTarget(pm({ replicaEndpoints: ['ws://leader', '', 'ws://r3'] }), 'z2')).toEqual(leader);
    expect(readTarget(pm(), 'z2', new Set(['ws://r2']))).toEqual(leader);
  });
  it('another in-zone follower when the first is passed over', () => {
    const two = pm({ replicaZones: ['z1', 'z2', 'z2'] });
    expect(readTarget(two, 'z2')).toEqual({ endpoint: 'ws://r2', fromReplica: true });
    expect(readTarget(two, 'z2', new Set(['ws://r2']))).toEqual({ endpoint: 'ws://r3', fromReplica: true });
  });
  it('no follower while the partition has no leader (followers then serve nothing)', () => {
    expect(readTarget(pm({ endpoint: '', leaderId: -1 }), 'z2')).toEqual({ endpoint: '', fromReplica: false });
  });
  it('the leader when the metadata names no replica endpoints (one node, older broker)', () => {
    const { replicaEndpoints: _, ...old } = pm();
    expect(readTarget(old, 'z2')).toEqual(leader);
  });
});

const buses = busesClosedAfterEach();

async function setup(zones: string[], opts: Record<string, unknown> = {}): Promise<{ broker: FakeBroker; replicas: ZoneReplicas; bus: Bus; producer: Bus; barrier: BarrierTransport }> {
  const broker = new FakeBroker();
  broker.createTopic('ticks', 1);
  const replicas = new ZoneReplicas(broker, zones);
  const barrier = new BarrierTransport(replicas);
  const bus = await connect({ brokers: [BOOTSTRAP], transport: barrier, reconnect: { initialMs: 1, maxMs: 5 }, ...opts });
  const producer = await connect({ brokers: [BOOTSTRAP], transport: broker });
  buses.push(bus, producer);
  return { broker, replicas, bus, producer, barrier };
}

async function produce(b: Bus, from: number, n: number): Promise<void> {
  for (let i = from; i < from + n; i++) await b.send('ticks', [{ value: `v${i}` }], { partition: 0 });
}

const values = (rs: ConsumedRecord[]): string[] => rs.map((r) => dec.decode(r.value!));
const expected = (n: number): string[] => Array.from({ length: n }, (_, i) => `v${i}`);

describe('zone-aware subscriptions', () => {
  it('read from the in-zone follower with fromReplica, committed isolation, the leader epoch of the metadata', async () => {
    const { replicas, bus, producer, barrier, broker } = await setup(['z1', 'z2', 'z3'], { zone: 'z2' });
    await produce(producer, 0, 5);
    const sub = bus.subscribe('ticks', { from: 'earliest' });
    const got = collect(sub);
    await until(() => got.length === 5, 'the first records');
    await produce(producer, 5, 5);
    await until(() => got.length === 10, 'live records');
    await barrier.barrier();
    expect(values(got)).toEqual(expected(10));
    expect(sub.readsFrom(0)).toEqual({ url: replicaUrl(2), fromReplica: true });
    const subs = replicas.subscribes.get(2) ?? [];
    expect(subs).toHaveLength(1);
    expect(subs[0]).toMatchObject({ fromReplica: true, isolation: 'committed' });
    expect(subs[0]!.starts[0]!.leaderEpoch).toBe(0);
    // Nothing went to the leader or the other replica.
    expect(broker.sent('Subscribe').filter((f) => f.fromReplica !== true)).toEqual([]);
    expect(replicas.subscribes.get(3)).toBeUndefined();
  });

  it('without a zone, or with isolation leader, read from the leader', async () => {
    const { replicas, bus, producer } = await setup(['z1', 'z2', 'z3']);
    const zoned = await connect({ brokers: [BOOTSTRAP], transport: replicas, zone: 'z2' });
    buses.push(zoned);
    await produce(producer, 0, 3);
    const plain = collect(bus.subscribe('ticks', { from: 'earliest' }));
    const leaderIso = zoned.subscribe('ticks', { from: 'earliest', isolation: 'leader' });
    const fast = collect(leaderIso);
    await until(() => plain.length === 3 && fast.length === 3, 'records on both');
    expect(leaderIso.readsFrom(0)?.fromReplica).toBe(false);
    expect(replicas.subscribes.size).toBe(0);
  });

  it('moves to the leader when the replica stops, without a gap or a duplicate', async () => {
    const { replicas, bus, producer, barrier, broker } = await setup(['z1', 'z2', 'z3'], { zone: 'z2' });
    const sub = bus.subscribe('ticks', { from: 'earliest' });
    const got = collect(sub);
    await produce(producer, 0, 10);
    await until(() => got.length === 10, 'records from the replica');
    replicas.stop(2);
    await produce(producer, 10, 10);
    await until(() => got.length === 20, 'records after the move');
    await barrier.barrier();
    expect(values(got)).toEqual(expected(20));
    expect(got.map((r) => r.offset)).toEqual(got.map((_, i) => i));
    expect(sub.readsFrom(0)).toEqual({ url: broker.leaderOf(broker.partition('ticks', 0)), fromReplica: false });
    // The leader was asked for exactly the next offset.
    const onLeader = broker.log.filter((e) => e.frame.type === 'Subscribe' && !e.url.startsWith('ws://fake-replica-'));
    expect(onLeader.map((e) => (e.frame as { starts: { kind: string; value?: number }[] }).starts[0])).toEqual([expect.objectContaining({ kind: 'offset', value: 10 })]);
  });

  it('moves on a stale-replica error to another in-sync replica in the zone, gap-free', async () => {
    const { replicas, bus, producer, barrier } = await setup(['z1', 'z2', 'z2'], { zone: 'z2' });
    const sub = bus.subscribe('ticks', { from: 'earliest' });
    const got = collect(sub);
    await produce(producer, 0, 7);
    await until(() => got.length === 7, 'records from replica 2');
    expect(sub.readsFrom(0)?.url).toBe(replicaUrl(2));
    replicas.makeStale(2);
    await produce(producer, 7, 7);
    await until(() => got.length === 14, 'records from replica 3');
    await barrier.barrier();
    expect(values(got)).toEqual(expected(14));
    expect(sub.readsFrom(0)).toEqual({ url: replicaUrl(3), fromReplica: true });
    expect(replicas.subscribes.get(3)?.[0]?.starts[0]).toMatchObject({ kind: 'offset', value: 7 });
  });

  it('a replica that refuses the Subscribe (stale at once) sends the read to the leader', async () => {
    const { replicas, bus, producer } = await setup(['z1', 'z2', 'z3'], { zone: 'z2' });
    replicas.makeStale(2);
    await produce(producer, 0, 4);
    const sub = bus.subscribe('ticks', { from: 'earliest' });
    const got = collect(sub);
    await until(() => got.length === 4, 'records from the leader');
    expect(values(got)).toEqual(expected(4));
    expect(sub.readsFrom(0)?.fromReplica).toBe(false);
    expect(replicas.subscribes.get(2)).toHaveLength(1);
  });

  it('skips an in-zone replica out of the ISR', async () => {
    const { replicas, bus, producer } = await setup(['z1', 'z2', 'z3'], { zone: 'z2' });
    replicas.outOfIsr.add(2);
    await produce(producer, 0, 2);
    const sub = bus.subscribe('ticks', { from: 'earliest' });
    const got = collect(sub);
    await until(() => got.length === 2, 'records from the leader');
    expect(sub.readsFrom(0)?.fromReplica).toBe(false);
    expect(replicas.subscribes.size).toBe(0);
  });

  it('rejects a bad zone option', async () => {
    await expect(connect({ brokers: [BOOTSTRAP], transport: new FakeBroker(), zone: '' })).rejects.toThrow(TypeError);
    // A JavaScript caller's mistake.
    await expect(connect({ brokers: [BOOTSTRAP], transport: new FakeBroker(), zone: 7 as unknown as string })).rejects.toThrow(/zone must be a string/);
  });
});
