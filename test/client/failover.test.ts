// The SDK follows partition leaders (issue 9, item 5): leader epochs on Produce and Subscribe, resends
// and resubscribes on NOT_LEADER / FENCED_LEADER_EPOCH / a dropped owner / an offline partition,
// isolation 'leader' told of truncation, several bootstrap URLs. Against the fake broker's moveLeader().
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { connect, ErrorCode, TickbusError, type TruncationInfo, utf8 } from '../../client/index.js';
import { decodeBatches, encodeBatch } from '../../schemas/record-batch.js';
import { BOOTSTRAP, FakeBroker, type MoveLeaderOptions } from './fake-broker.js';
import { barrieredBusOnFakeBroker, busesClosedAfterEach, collect, until } from './sdk-fixture.js';

const dec = new TextDecoder();
const buses = busesClosedAfterEach();

const setup = (opts: Record<string, unknown> = {}, partitions = 2): ReturnType<typeof barrieredBusOnFakeBroker> => barrieredBusOnFakeBroker(buses, opts, partitions);

function logValues(broker: FakeBroker, p: number): string[] {
  return broker.partition('ticks', p).batches.flatMap((b) => decodeBatches(b).map((r) => dec.decode(r.value!)));
}

describe('leader epochs', () => {
  it('Produce frames carry the leader epoch the metadata names, and the new one after a failover', async () => {
    const { broker, bus } = await setup();
    await bus.send('ticks', [{ value: 'a' }], { partition: 0, acks: 'all' });
    broker.moveLeader('ticks', 0);
    broker.moveLeader('ticks', 0, { answer: ErrorCode.FENCED_LEADER_EPOCH });
    await bus.send('ticks', [{ value: 'b' }], { partition: 0, acks: 'all' });
    const produces = broker.log.filter((e) => e.frame.type === 'Produce');
    const first = produces[0]!.frame as { leaderEpoch?: number; acks: string };
    expect(first.leaderEpoch).toBe(0);
    expect(first.acks).toBe('all');
    // The one that was acknowledged went to the current leader with the current epoch.
    const last = produces.at(-1)!;
    expect(last.url).toBe(broker.leaderOf(broker.partition('ticks', 0)));
    expect((last.frame as { leaderEpoch?: number }).leaderEpoch).toBe(2);
    expect(logValues(broker, 0)).toEqual(['a', 'b']);
  });

  it('Subscribe starts carry the leader epoch and the isolation', async () => {
    const { broker, bus } = await setup();
    broker.moveLeader('ticks', 1);
    const sub = bus.subscribe('ticks', { from: 'earliest', partitions: [0, 1], isolation: 'leader' });
    await until(() => sub.positions().size === 2, 'subscribed');
    const subs = broker.sent('Subscribe');
    expect(subs.every((f) => f.isolation === 'leader')).toBe(true);
    const epochs = new Map(subs.flatMap((f) => f.starts.map((s) => [s.partition, s.leaderEpoch])));
    expect(epochs).toEqual(new Map([[0, 0], [1, 1]]));
    const committed = bus.subscribe('ticks', { from: 'earliest', partitions: [0] });
    await until(() => committed.positions().size === 1, 'subscribed');
    expect(broker.sent('Subscribe').at(-1)!.isolation).toBe('committed');
    expect(() => bus.subscribe('ticks', { isolation: 'fast' as never })).toThrow(TypeError);
  });
});

type Fault =
  | { kind: 'fail-over' | 'append-then-fail-over' | 'append-then-lose' | 'drop' }
  | { kind: 'move'; opts: MoveLeaderOptions };

const faultArb: fc.Arbitrary<Fault> = fc.oneof(
  fc.constantFrom<Fault>({ kind: 'fail-over' }, { kind: 'append-then-fail-over' }, { kind: 'append-then-lose' }, { kind: 'drop' }),
  fc.record({
    kind: fc.constant('move' as const),
    opts: fc.record({
      answer: fc.constantFrom(ErrorCode.NOT_LEADER, ErrorCode.FENCED_LEADER_EPOCH),
      offlineFor: fc.integer({ min: 0, max: 4 }),
    }),
  }),
);

describe('producer across leader changes', () => {
  it('acks all: every value acknowledged exactly once and in order, whatever request the leader moves at', async () => {
    let faultsApplied = 0;
    await fc.assert(
      fc.asyncProperty(
        // records per send() call, and whether the next call waits for a later turn (a new batch)
        fc.array(fc.tuple(fc.integer({ min: 1, max: 6 }), fc.boolean()), { minLength: 2, maxLength: 12 }),
        fc.array(fc.tuple(fc.nat(8), faultArb), { minLength: 1, maxLength: 4 }), // produce request index → fault
        fc.integer({ min: 1, max: 5 }),
        async (sizes, faults, maxInFlight) => {
          const { broker, bus } = await setup({ maxInFlight, deliveryTimeoutMs: 10_000 });
          const plan = new Map(faults);
          let n = 0;
          broker.hooks.produce = (f) => {
            const fault = plan.get(n++);
            if (!fault) return undefined;
            faultsApplied++;
            if (fault.kind === 'move') {
              broker.moveLeader(f.topic, f.partition, fault.opts);
              return undefined;
            }
            return fault.kind === 'drop' ? 'close' : fault.kind;
          };
          const sends: Promise<{ partition: number; offset: number }[]>[] = [];
          const sent: string[][] = [];
          let v = 0;
          for (const [size, later] of sizes) {
            const recs = Array.from({ length: size }, () => ({ key: `k${v % 3}`, value: `v${v++}` }));
            sent.push(recs.map((r) => r.value));
            sends.push(bus.send('ticks', recs, { acks: 'all' }));
            if (later) await new Promise((r) => setTimeout(r, 0));
          }
          const acks = (await Promise.all(sends)).flat();
          const values = sent.flat();
          for (const p of [0, 1]) {
            const want = values.filter((_, i) => acks[i]!.partition === p);
            expect(logValues(broker, p)).toEqual(want); // exactly once, in order
            const offsets = acks.filter((a) => a.partition === p).map((a) => a.offset);
            const lost = offsets.filter((o) => o < 0).length;
            expect(lost).toBe(0);
            expect(offsets).toEqual(want.map((_, i) => i));
          }
          await bus.close();
        },
      ),
      { numRuns: 100 },
    );
    expect(faultsApplied).toBeGreaterThan(50); // the property really ran through failovers
  });

  it('waits out a partition with no leader (endpoint empty) and sends to the new one', async () => {
    const { broker, bus } = await setup();
    // First send: metadata shows the partition offline for its first three answers.
    broker.moveLeader('ticks', 0, { offlineFor: 3, subscribers: 'drop' });
    const acks = await bus.send('ticks', [{ value: 'x' }], { partition: 0, acks: 'all' });
    expect(acks).toEqual([{ partition: 0, offset: 0 }]);
    expect(broker.sent('Metadata').length).toBeGreaterThanOrEqual(4);
    // Then a send after the leader moved again, offline for a few answers.
    broker.moveLeader('ticks', 0, { offlineFor: 3 });
    const before = broker.sent('Metadata').length;
    expect(await bus.send('ticks', [{ value: 'y' }], { partition: 0, acks: 'all' })).toEqual([{ partition: 0, offset: 1 }]);
    expect(broker.sent('Metadata').length - before).toBeGreaterThanOrEqual(4); // three offline answers, then the leader
    expect(logValues(broker, 0)).toEqual(['x', 'y']);
  });
});

describe('subscription across leader changes', () => {
  it('resumes on the new leader without a gap or a duplicate (NOT_LEADER pushed, socket dropped, offline, fenced)', async () => {
    const { broker, bus, barrier } = await setup();
    const sub = bus.subscribe('ticks', { from: 'earliest', partitions: [0] });
    const got = collect(sub);
    const moves: MoveLeaderOptions[] = [
      {},
      { subscribers: 'drop' },
      { subscribers: 'drop', offlineFor: 3 },
      { answer: ErrorCode.FENCED_LEADER_EPOCH, offlineFor: 1 },
    ];
    const want: string[] = [];
    for (let round = 0; round <= moves.length; round++) {
      const recs = Array.from({ length: 5 }, (_, i) => ({ value: `r${round}-${i}` }));
      want.push(...recs.map((r) => r.value));
      await bus.send('ticks', recs, { partition: 0, acks: 'all' });
      await until(() => got.length === want.length, `round ${round} delivered`);
      const m = moves[round];
      if (m) broker.moveLeader('ticks', 0, m);
    }
    await barrier.barrier(); // nothing more (no duplicate) is on its way
    expect(got.map((r) => utf8(r.value))).toEqual(want);
    expect(got.map((r) => r.offset)).toEqual(want.map((_, i) => i));
    expect(sub.stats.resubscribes).toBeGreaterThanOrEqual(moves.length);
    // Every resubscribe went to the leader of its time with its epoch, from the next offset.
    const resubs = broker.log.filter((e) => e.frame.type === 'Subscribe').slice(1);
    expect(resubs.length).toBeGreaterThanOrEqual(moves.length);
    const last = resubs.at(-1)!.frame as { starts: { kind: string; value?: number; leaderEpoch?: number }[] };
    expect(last.starts[0]).toMatchObject({ kind: 'offset', value: 20, leaderEpoch: moves.length });
  });

  it('reads every record once, in order, whatever leader moves happen between and during sends', async () => {
    const moveArb = fc.record({
      subscribers: fc.constantFrom<'push-error' | 'drop'>('push-error', 'drop'),
      answer: fc.constantFrom(ErrorCode.NOT_LEADER, ErrorCode.FENCED_LEADER_EPOCH),
      offlineFor: fc.integer({ min: 0, max: 3 }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 5 }), fc.option(moveArb, { nil: undefined }), fc.boolean()), { minLength: 1, maxLength: 10 }),
        async (steps) => {
          const { broker, bus, barrier } = await setup({}, 1);
          const sub = bus.subscribe('ticks', { from: 'earliest', partitions: [0] });
          const got = collect(sub);
          await until(() => sub.positions().get(0) === 0, 'subscribed');
          const sends: Promise<unknown>[] = [];
          let v = 0;
          for (const [size, move, waitForAck] of steps) {
            const p = bus.send('ticks', Array.from({ length: size }, () => ({ value: `v${v++}` })), { partition: 0, acks: 'all' });
            sends.push(p);
            if (waitForAck) await p; // else the move lands while the send is in flight
            if (move) broker.moveLeader('ticks', 0, move);
          }
          await Promise.all(sends);
          await until(() => got.length >= v, 'every record');
          await barrier.barrier();
          expect(got.map((r) => utf8(r.value))).toEqual(Array.from({ length: v }, (_, i) => `v${i}`));
          expect(got.map((r) => r.offset)).toEqual(Array.from({ length: v }, (_, i) => i));
          await bus.close();
        },
      ),
      { numRuns: 40 },
    );
  });

  it('leaves a leader that stopped without closing its socket (paused) for the new one: keepalive', async () => {
    const { broker, bus } = await setup({ requestTimeoutMs: 100 });
    const sub = bus.subscribe('ticks', { from: 'earliest', partitions: [0] });
    const got = collect(sub);
    await bus.send('ticks', [{ value: 'a' }, { value: 'b' }], { partition: 0 });
    await until(() => got.length === 2, 'records');
    const old = broker.leaderOf(broker.partition('ticks', 0));
    broker.paused.add(old); // SIGSTOP: its NOT_LEADER push never leaves it, its socket stays open
    broker.moveLeader('ticks', 0);
    const t0 = Date.now();
    await bus.send('ticks', [{ value: 'c' }], { partition: 0 });
    await until(() => got.length === 3, 'the record from the new leader', 3000);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(got.map((r) => `${r.offset}:${utf8(r.value)}`)).toEqual(['0:a', '1:b', '2:c']);
    expect(sub.stats.disconnects).toBe(1);
    expect(broker.sent('Ping').some((f) => f.nonce > 0)).toBe(true);
  });

  it("isolation 'leader': a failover that truncates records the application saw fires 'truncated' at the new log end, then resumes there", async () => {
    const { broker, bus, barrier } = await setup();
    await bus.send('ticks', Array.from({ length: 5 }, (_, i) => ({ value: `a${i}` })), { partition: 0, acks: 'all' });
    const sub = bus.subscribe('ticks', { from: 'earliest', partitions: [0], isolation: 'leader' });
    const got = collect(sub);
    const events: { at: number; info: TruncationInfo }[] = [];
    sub.on('truncated', (info) => events.push({ at: got.length, info }));
    await until(() => got.length === 5, 'committed records');
    // Appended on the leader (and delivered: isolation 'leader'), never replicated: the new leader lacks them.
    const p = broker.partition('ticks', 0);
    broker.append(p, encodeBatch([{ value: 'b0' }, { value: 'b1' }, { value: 'b2' }]));
    await until(() => got.length === 8, 'uncommitted records');
    broker.moveLeader('ticks', 0, { truncateTo: 5, subscribers: 'drop' });
    await until(() => events.length === 1, "'truncated' event");
    expect(events[0]).toEqual({ at: 8, info: { topic: 'ticks', partition: 0, offset: 5 } });
    expect(sub.stats.truncations).toBe(1);
    await bus.send('ticks', [{ value: 'c0' }, { value: 'c1' }], { partition: 0, acks: 'all' });
    await until(() => got.length === 10, 'records of the new leader');
    await barrier.barrier();
    expect(events).toHaveLength(1);
    expect(got.map((r) => `${r.offset}:${utf8(r.value)}`)).toEqual(['0:a0', '1:a1', '2:a2', '3:a3', '4:a4', '5:b0', '6:b1', '7:b2', '5:c0', '6:c1']);
    expect(sub.positions().get(0)).toBe(7);
  });

  it("isolation 'leader': records received but not yet handed out are read again from the new leader, with no event", async () => {
    const { broker, bus, barrier } = await setup();
    await bus.send('ticks', [{ value: 'a0' }, { value: 'a1' }], { partition: 0 });
    const sub = bus.subscribe('ticks', { from: 'earliest', partitions: [0], isolation: 'leader' });
    const got = collect(sub);
    const events: TruncationInfo[] = [];
    sub.on('truncated', (t) => events.push(t));
    await until(() => got.length === 2, 'committed records');
    sub.pause();
    broker.append(broker.partition('ticks', 0), encodeBatch([{ value: 'lost' }]));
    await barrier.barrier(); // received (offset 2), not handed out: paused
    expect(got).toHaveLength(2);
    broker.moveLeader('ticks', 0, { truncateTo: 2, subscribers: 'drop' });
    await until(() => sub.stats.resubscribes === 1, 'resubscribed');
    await bus.send('ticks', [{ value: 'c0' }], { partition: 0 });
    sub.resume();
    await until(() => got.length === 3, 'the new leader record');
    await barrier.barrier();
    expect(got.map((r) => `${r.offset}:${utf8(r.value)}`)).toEqual(['0:a0', '1:a1', '2:c0']);
    expect(events).toEqual([]);
  });

  it("isolation 'committed' never skips: a resubscribe refused past the head is retried, then reported, with no 'truncated' event", async () => {
    const { broker, bus } = await setup({ requestTimeoutMs: 150 });
    const sub = bus.subscribe('ticks', { from: 'earliest', partitions: [0] });
    const got = collect(sub);
    const errors: TickbusError[] = [];
    const truncated: TruncationInfo[] = [];
    sub.on('error', (e) => errors.push(e));
    sub.on('truncated', (t) => truncated.push(t));
    await bus.send('ticks', [{ value: 'a' }, { value: 'b' }, { value: 'c' }], { partition: 0 });
    await until(() => got.length === 3, 'records');
    const attempts = broker.sent('Subscribe').length;
    broker.moveLeader('ticks', 0, { truncateTo: 0, subscribers: 'drop' });
    await until(() => errors.length === 1, 'error', 3000);
    expect(errors[0]).toBeInstanceOf(TickbusError);
    expect(errors[0]).toMatchObject({ code: ErrorCode.OFFSET_OUT_OF_RANGE, partition: 0, topic: 'ticks' });
    expect(broker.sent('Subscribe').length - attempts).toBeGreaterThan(1); // retried before reporting
    expect(truncated).toEqual([]);
    expect(sub.positions().get(0)).toBe(3);
  });
});

describe('bootstrap brokers', () => {
  it('tries the next bootstrap URL when the first is down, for connect and for metadata', async () => {
    const broker = new FakeBroker();
    broker.createTopic('ticks', 1);
    broker.bootstraps.add('ws://fake-bootstrap:2');
    const bus = await connect({ brokers: ['ws://fake-dead:1', BOOTSTRAP, 'ws://fake-bootstrap:2'], transport: broker, reconnect: { initialMs: 1, maxMs: 5 } });
    buses.push(bus);
    expect(await bus.send('ticks', [{ value: 'x' }])).toEqual([{ partition: 0, offset: 0 }]);
    expect(broker.sent('Metadata').length).toBe(1);
    expect(broker.log.find((e) => e.frame.type === 'Metadata')!.url).toBe(BOOTSTRAP);
    // That one goes away too: the next one answers.
    broker.bootstraps.delete(BOOTSTRAP);
    for (const c of [...broker.conns]) if (c.url === BOOTSTRAP) c.drop();
    const d = await bus.admin.describeTopic('ticks');
    expect(d.partitions).toHaveLength(1);
    expect(broker.log.filter((e) => e.frame.type === 'DescribeTopic').at(-1)!.url).toBe('ws://fake-bootstrap:2');
  });

  it('leaves a bootstrap broker that accepted the connection but stopped answering for the next one', async () => {
    const broker = new FakeBroker();
    broker.createTopic('ticks', 1);
    broker.silent.add('ws://fake-hung:1');
    const bus = await connect({ brokers: ['ws://fake-hung:1', BOOTSTRAP], transport: broker, requestTimeoutMs: 100, reconnect: { initialMs: 1, maxMs: 5 } });
    buses.push(bus);
    const t0 = Date.now();
    expect(await bus.send('ticks', [{ value: 'x' }])).toEqual([{ partition: 0, offset: 0 }]);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(broker.log.filter((e) => e.frame.type === 'Metadata').map((e) => e.url)).toEqual(['ws://fake-hung:1', BOOTSTRAP]);
  });
});

describe('admin in a cluster', () => {
  it('creates a topic with replicationFactor and minInsync, and describes replicas, ISR, zones and leader', async () => {
    const { broker, bus } = await setup();
    const created = await bus.admin.createTopic('orders', { partitions: 2, replicationFactor: 3, minInsync: 2 });
    expect(broker.sent('CreateTopic').at(-1)).toMatchObject({ name: 'orders', partitions: 2, replicationFactor: 3, minInsync: 2 });
    expect(created).toMatchObject({ replicationFactor: 3, minInsync: 2 });
    broker.moveLeader('orders', 1);
    const d = await bus.admin.describeTopic('orders');
    expect(d.partitions[1]).toMatchObject({ partition: 1, leaderId: 100, leaderEpoch: 1, replicas: [100], isr: [100], replicaZones: ['z'] });
    expect(d.partitions[0]).toMatchObject({ leaderId: 0, leaderEpoch: 0 });
    // A single-node answer (no replication fields) reads as one replica.
    const t = await bus.admin.describeTopic('ticks');
    expect(t).toMatchObject({ replicationFactor: 1, minInsync: 1 });
    await expect(bus.admin.createTopic('x', { partitions: 1, replicationFactor: 0 })).rejects.toThrow(RangeError);
    await expect(bus.admin.createTopic('x', { partitions: 1, minInsync: 1.5 })).rejects.toThrow(TypeError);
    await expect(bus.admin.createTopic('x', { partitions: 1, replicationFactor: 2, minInsync: 3 })).rejects.toThrow(/must not exceed replicationFactor/);
  });
});
