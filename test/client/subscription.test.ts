import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ConsumedRecord, ErrorCode, json, TickbusError, utf8 } from '../../client/index.js';
import { decodeBatches, encodeBatch } from '../../schemas/record-batch.js';
import { FakeBroker } from './fake-broker.js';
import { barrieredBusOnFakeBroker, busesClosedAfterEach, collect, until } from './sdk-fixture.js';

const buses = busesClosedAfterEach();

const setup = (opts: Record<string, unknown> = {}, partitions = 3): ReturnType<typeof barrieredBusOnFakeBroker> => barrieredBusOnFakeBroker(buses, opts, partitions);

const values = (rs: ConsumedRecord[], p?: number): string[] => rs.filter((r) => p === undefined || r.partition === p).map((r) => utf8(r.value));

function logOf(broker: FakeBroker, p: number): string[] {
  return broker.partition('ticks', p).batches.flatMap((b) => decodeBatches(b).map((r) => utf8(r.value)));
}

describe('subscription', () => {
  // The broker batches naturally (broker/owner/partition.ts): a busy turn's batches reach a subscriber as
  // one live Deliver frame. The SDK must hand out the same records whatever the grouping.
  it('hands out every record once, in order, from live frames of one batch and of many', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 12 }), fc.array(fc.boolean(), { maxLength: 12 }), async (sizes, cuts) => {
        const { broker, bus } = await setup({}, 1);
        const sub = bus.subscribe('ticks', { from: 'latest' });
        const got = collect(sub);
        const p = broker.partition('ticks', 0);
        await until(() => p.subs.size === 1, 'the subscription at the fake broker');
        // Appended without the fake's one-frame-per-batch live push; sent below in groups instead.
        broker.hooks.skipLive = () => true;
        const all: string[] = [];
        for (const n of sizes) {
          const vs = Array.from({ length: n }, (_, i) => `${all.length + i}`);
          all.push(...vs);
          broker.append(p, encodeBatch(vs.map((value) => ({ value }))));
        }
        const [s] = [...p.subs];
        let group: Uint8Array[] = [];
        p.batches.forEach((b, i) => {
          group.push(b);
          if (cuts[i] === true || i === p.batches.length - 1) {
            broker.deliver(s!, group, true);
            group = [];
          }
        });
        await until(() => got.length >= all.length, 'every record');
        expect(values(got)).toEqual(all);
        expect(got.map((r) => r.offset)).toEqual(all.map((_, i) => i));
        await bus.close();
      }),
      { numRuns: 40 },
    );
  });

  it('delivers keys, values, headers and offsets in order per partition, catch-up then live', async () => {
    const { bus } = await setup();
    await bus.send('ticks', Array.from({ length: 12 }, (_, i) => ({ key: `k${i % 4}`, value: JSON.stringify({ i }), headers: { trace: `t${i}` } })));
    const sub = bus.subscribe('ticks', { from: 'earliest' });
    const got: ConsumedRecord[] = [];
    for await (const r of sub) {
      got.push(r);
      if (got.length === 12) await bus.send('ticks', [{ key: 'live', value: JSON.stringify({ i: 12 }) }]);
      if (got.length === 13) break;
    }
    expect(sub.closed).toBe(true);
    for (const p of [0, 1, 2]) {
      const offs = got.filter((r) => r.partition === p).map((r) => r.offset);
      expect(offs).toEqual(offs.map((_, i) => i));
    }
    expect(got.map((r) => json<{ i: number }>(r.value).i).sort((a, b) => a - b)).toEqual([...Array(13).keys()]);
    const first = got.find((r) => json<{ i: number }>(r.value).i === 5)!;
    expect(utf8(first.key)).toBe('k1');
    expect(utf8(first.headers.trace!)).toBe('t5');
    expect(first.topic).toBe('ticks');
    expect(first.value).toBeInstanceOf(Uint8Array);
  });

  it("starts at 'latest', at an offset inside a batch (skipping the batch's earlier records), or at a timestamp", async () => {
    const { bus } = await setup();
    await bus.send('ticks', ['a', 'b', 'c', 'd', 'e'].map((value) => ({ value })), { partition: 0 });
    const latest = bus.subscribe('ticks', { from: 'latest', partitions: [0] });
    const fromOffset = bus.subscribe('ticks', { from: { offset: 2 }, partitions: [0] });
    const a = collect(latest);
    const b = collect(fromOffset);
    await until(() => b.length === 3, 'catch-up from offset 2');
    expect(values(b)).toEqual(['c', 'd', 'e']);
    expect(b.map((r) => r.offset)).toEqual([2, 3, 4]);
    await until(() => latest.lag(0) === 0 && latest.positions().get(0) === 5, 'latest subscribed');
    await bus.send('ticks', [{ value: 'f' }], { partition: 0 });
    await until(() => a.length === 1 && b.length === 4, 'live record');
    expect(values(a)).toEqual(['f']);
    expect(a[0]!.offset).toBe(5);
  });

  it('detects a gap in live deliveries, resubscribes from the next offset and delivers nothing twice', async () => {
    const { broker, bus } = await setup();
    const sub = bus.subscribe('ticks', { from: 'earliest', partitions: [1] });
    const got = collect(sub);
    const gaps: number[][] = [];
    sub.on('gap', (p, expected, at) => gaps.push([p, expected, at]));
    await until(() => sub.positions().get(1) === 0, 'subscribed');
    let skip = true;
    broker.hooks.skipLive = (_s, base) => {
      if (skip && base === 2) {
        skip = false;
        return true; // the subscriber never gets offsets 2-3 live
      }
      return false;
    };
    for (let i = 0; i < 4; i++) await bus.send('ticks', [{ value: `r${2 * i}` }, { value: `r${2 * i + 1}` }], { partition: 1 });
    await until(() => got.length === 8, 'all 8 records');
    expect(values(got)).toEqual(logOf(broker, 1));
    expect(got.map((r) => r.offset)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(gaps).toEqual([[1, 2, 4]]);
    expect(sub.stats.gaps).toBe(1);
  });

  it('treats a corrupt batch like a gap: never delivered, read again', async () => {
    const { broker, bus } = await setup();
    const sub = bus.subscribe('ticks', { from: 'earliest', partitions: [0] });
    const got = collect(sub);
    await until(() => sub.positions().get(0) === 0, 'subscribed');
    let corrupt = true;
    broker.hooks.mutateDeliver = (bytes) => {
      if (!corrupt) return;
      corrupt = false;
      bytes[bytes.length - 1]! ^= 0xff; // inside the records: the CRC no longer matches
    };
    await bus.send('ticks', [{ value: 'x' }, { value: 'y' }], { partition: 0 });
    await until(() => got.length === 2, 'the batch, read again');
    expect(values(got)).toEqual(['x', 'y']);
    expect(sub.stats.corruptBatches).toBe(1);
  });

  it('resumes after dropped sockets and a broker restart with every record exactly once, in order', async () => {
    const { broker, bus, barrier } = await setup();
    const sub = bus.subscribe('ticks', { from: 'earliest' });
    const got = collect(sub);
    const disconnects: TickbusError[] = [];
    sub.on('disconnect', (e) => disconnects.push(e));
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < 60; i++) {
      sends.push(bus.send('ticks', [{ key: `k${i % 5}`, value: `v${i}` }]));
      if (i === 20) broker.dropAll();
      if (i === 40) broker.restart();
      if (i % 7 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(sends);
    await until(() => got.length >= 60, 'all records', 5000);
    await barrier.barrier(); // a duplicate the fake sent before the Ping has arrived by now
    expect(got).toHaveLength(60);
    for (const p of [0, 1, 2]) expect(values(got, p)).toEqual(logOf(broker, p));
    expect(disconnects.length).toBeGreaterThan(0);
    expect(disconnects[0]!.code).toBe(ErrorCode.CONNECTION_CLOSED);
  });

  it('keeps every partition gap-free and duplicate-free under any mix of faults (model check)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant('send' as const), p: fc.integer({ min: 0, max: 1 }), n: fc.integer({ min: 1, max: 4 }) }),
            fc.record({ op: fc.constant('drop' as const) }),
            fc.record({ op: fc.constant('restart' as const) }),
            fc.record({ op: fc.constant('skipNextLive' as const) }),
            fc.record({ op: fc.constant('pause' as const) }),
            fc.record({ op: fc.constant('resume' as const) }),
            fc.record({ op: fc.constant('tick' as const) }),
          ),
          { maxLength: 25 },
        ),
        fc.constantFrom(0, 300, 1 << 20),
        async (ops, creditBytes) => {
          const { broker, bus } = await setup({}, 2);
          const sub = bus.subscribe('ticks', { from: 'earliest', creditBytes });
          const got = collect(sub);
          let skips = 0;
          broker.hooks.skipLive = () => (skips > 0 ? (skips--, true) : false);
          const sends: Promise<unknown>[] = [];
          let n = 0;
          for (const o of ops) {
            if (o.op === 'send') sends.push(bus.send('ticks', Array.from({ length: o.n }, () => ({ value: `m${n++}` })), { partition: o.p }));
            else if (o.op === 'drop') broker.dropAll();
            else if (o.op === 'restart') broker.restart();
            else if (o.op === 'skipNextLive') skips++;
            else if (o.op === 'pause') sub.pause();
            else if (o.op === 'resume') sub.resume();
            else await new Promise((r) => setTimeout(r, 1));
          }
          await Promise.all(sends);
          sub.resume();
          // A skipped delivery with nothing after it is only noticed when the next record comes: send a
          // marker (delivered for sure) to each partition.
          skips = 0;
          await bus.send('ticks', [{ value: 'end0' }], { partition: 0 });
          await bus.send('ticks', [{ value: 'end1' }], { partition: 1 });
          await until(() => got.length === n + 2, `${n + 2} records, got ${got.length}: ${JSON.stringify(ops)}`, Number(process.env.MODEL_WAIT_MS ?? 5000));
          for (const p of [0, 1]) {
            expect(values(got, p)).toEqual(logOf(broker, p));
            expect(got.filter((r) => r.partition === p).map((r) => r.offset)).toEqual(logOf(broker, p).map((_, i) => i));
          }
          await bus.close();
        },
      ),
      { numRuns: 30 },
    );
  });

  it('reports OFFSET_OUT_OF_RANGE instead of skipping records lost to retention', async () => {
    const { broker, bus } = await setup();
    await bus.send('ticks', Array.from({ length: 6 }, (_, i) => ({ value: `v${i}` })), { partition: 0 });
    await bus.send('ticks', Array.from({ length: 6 }, (_, i) => ({ value: `w${i}` })), { partition: 0 });
    broker.partition('ticks', 0).truncateBefore(6);
    // Iterator form, no 'error' listener: the loop throws.
    const sub = bus.subscribe('ticks', { from: { offset: 2 }, partitions: [0] });
    const seen: string[] = [];
    const err = await (async () => {
      try {
        for await (const r of sub) seen.push(utf8(r.value));
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(TickbusError);
    expect(err).toMatchObject({ code: ErrorCode.OFFSET_OUT_OF_RANGE, partition: 0, topic: 'ticks' });
    expect(seen).toEqual([]);
    expect(sub.closed).toBe(true);

    // With a listener: the event, the other partitions go on, and seek() recovers deliberately.
    const sub2 = bus.subscribe('ticks', { from: { offset: 0 }, partitions: [0, 1] });
    const got = collect(sub2);
    const errors: TickbusError[] = [];
    sub2.on('error', (e) => errors.push(e));
    await until(() => errors.length === 1, 'error event');
    expect(errors[0]).toMatchObject({ code: ErrorCode.OFFSET_OUT_OF_RANGE, partition: 0 });
    sub2.seek(0, 'earliest');
    await until(() => got.length === 6, 'records from the new log start');
    expect(values(got)).toEqual(['w0', 'w1', 'w2', 'w3', 'w4', 'w5']);
    expect(got[0]!.offset).toBe(6);
  });

  it('reports retention passing a subscriber while it reads (error pushed by the broker)', async () => {
    const { broker, bus } = await setup();
    const sub = bus.subscribe('ticks', { from: 'earliest', partitions: [2] });
    const errors: TickbusError[] = [];
    sub.on('error', (e) => errors.push(e));
    await until(() => sub.positions().get(2) === 0, 'subscribed');
    broker.failSubscription('ticks', 2, new TickbusError(ErrorCode.OFFSET_OUT_OF_RANGE, 'deleted by retention', { topic: 'ticks', partition: 2 }));
    await until(() => errors.length === 1, 'error');
    expect(errors[0]).toMatchObject({ code: ErrorCode.OFFSET_OUT_OF_RANGE, partition: 2 });
  });

  it('reports an unknown topic or partition', async () => {
    const { bus } = await setup();
    const it1 = bus.subscribe('nope')[Symbol.asyncIterator]();
    await expect(it1.next()).rejects.toMatchObject({ code: ErrorCode.UNKNOWN_TOPIC });
    const it2 = bus.subscribe('ticks', { partitions: [7] })[Symbol.asyncIterator]();
    await expect(it2.next()).rejects.toMatchObject({ code: ErrorCode.UNKNOWN_PARTITION, message: expect.stringMatching(/has 3 partitions; partition 7 does not exist/) });
    expect(() => bus.subscribe('ticks', { from: 'middle' as never })).toThrow(TypeError);
    expect(() => bus.subscribe('ticks', { from: { offset: -1 } })).toThrow(RangeError);
    expect(() => bus.subscribe('ticks', { creditBytes: -1 })).toThrow(RangeError);
    expect(() => bus.subscribe('ticks', { partitions: [] })).toThrow(TypeError);
    expect(() => bus.subscribe('ticks', { group: 'g', partitions: [0] })).toThrow(/not both/);
  });

  it('grants credit as records are taken, half a window at a time, and none while paused', async () => {
    const { broker, bus, barrier } = await setup();
    const sub = bus.subscribe('ticks', { from: 'earliest', partitions: [0], creditBytes: 1000 });
    const got = collect(sub);
    await until(() => sub.positions().get(0) === 0, 'subscribed');
    for (let i = 0; i < 10; i++) await bus.send('ticks', [{ value: 'x'.repeat(100) }], { partition: 0 });
    await until(() => got.length === 10, '10 records');
    const credits = broker.sent('Credit');
    expect(credits.length).toBeGreaterThan(0);
    for (const c of credits) expect(c.bytes).toBeGreaterThanOrEqual(500);
    // Every Deliver frame received was granted back, except less than half a window.
    expect(sub.stats.bytes - sub.stats.creditGranted).toBeLessThan(500);
    expect(sub.stats.creditGranted).toBe(credits.reduce((s, c) => s + c.bytes, 0));

    sub.pause();
    const before = broker.sent('Credit').length;
    const bytesAtPause = sub.stats.bytes;
    for (let i = 0; i < 10; i++) await bus.send('ticks', [{ value: 'y'.repeat(100) }], { partition: 0 });
    // Past the barrier the deliveries the window still allowed have reached the SDK, and a Credit it sent for
    // them would have reached the fake.
    await barrier.barrier();
    expect(sub.stats.bytes).toBeGreaterThan(bytesAtPause); // records did arrive while paused: held, not handed out
    expect(got).toHaveLength(10);
    expect(broker.sent('Credit').length).toBe(before);
    sub.resume();
    await until(() => got.length === 20, 'records after resume');
    expect(broker.sent('Credit').length).toBeGreaterThan(before);
  });

  it('runs async handlers one at a time, in order', async () => {
    const { bus } = await setup();
    await bus.send('ticks', Array.from({ length: 5 }, (_, i) => ({ value: `v${i}` })), { partition: 0 });
    const sub = bus.subscribe('ticks', { from: 'earliest', partitions: [0] });
    const events: string[] = [];
    let busy = false;
    sub.on('record', async (r) => {
      expect(busy).toBe(false);
      busy = true;
      events.push(`start ${r.offset}`);
      await new Promise((res) => setTimeout(res, 2));
      events.push(`end ${r.offset}`);
      busy = false;
    });
    await until(() => events.length === 10, 'five handlers');
    expect(events).toEqual([0, 1, 2, 3, 4].flatMap((o) => [`start ${o}`, `end ${o}`]));
    expect(() => sub[Symbol.asyncIterator]()).toThrow(/either with for-await or with on\('record'\)/);
  });

  it('exposes lag and delivery latency', async () => {
    const { bus } = await setup();
    await bus.send('ticks', Array.from({ length: 10 }, (_, i) => ({ value: `v${i}` })), { partition: 0 });
    const sub = bus.subscribe('ticks', { from: 'earliest', partitions: [0] });
    sub.pause();
    await until(() => sub.positions().get(0) === 0, 'subscribed');
    expect(sub.lag(0)).toBe(10);
    expect(sub.lag()).toBe(10);
    const got = collect(sub);
    sub.resume();
    await until(() => got.length === 10, 'records');
    expect(sub.lag()).toBe(0);
    expect(sub.latencyUs).toBeGreaterThan(0);
    expect(sub.latencyUs).toBeLessThan(60_000_000);
  });

  it('assign / revoke / positions: revoked partitions stop, positions are the next offsets', async () => {
    const { broker, bus, barrier } = await setup();
    for (const p of [0, 1, 2]) await bus.send('ticks', Array.from({ length: 4 }, (_, i) => ({ value: `p${p}-${i}` })), { partition: p });
    const sub = bus.subscribe('ticks', { from: 'earliest', partitions: [0] });
    const got: ConsumedRecord[] = [];
    let release: (() => void) | null = null;
    sub.on('record', async (r) => {
      got.push(r);
      if (r.partition === 1 && r.offset === 2) await new Promise<void>((res) => (release = res)); // a slow handler
    });
    await until(() => got.length === 4, 'partition 0');
    sub.assign([1, 2], new Map<number, number | 'earliest' | 'latest'>([[1, 1], [2, 'latest']]));
    await until(() => release !== null, 'handler of 1/2 running');
    let revoked: Map<number, number> | null = null;
    const revoking = sub.revoke([1]).then((m) => (revoked = m));
    await barrier.barrier(); // the Unsubscribe went out and anything the fake answered came back
    expect(revoked).toBeNull(); // waits for the record in the handler
    release!();
    await revoking;
    expect(revoked).toEqual(new Map([[1, 3]]));
    expect(sub.partitions).toEqual([0, 2]);
    expect(sub.positions()).toEqual(new Map([[0, 4], [2, 4]]));
    await bus.send('ticks', [{ value: 'p1-new' }], { partition: 1 });
    await bus.send('ticks', [{ value: 'p2-new' }], { partition: 2 });
    await until(() => got.some((r) => r.partition === 2), 'partition 2 live');
    expect(values(got.filter((r) => r.partition === 1))).toEqual(['p1-1', 'p1-2']);
    expect(broker.sent('Unsubscribe').some((u) => u.partitions.includes(1))).toBe(true);
  });

  it('gives up after reconnect.maxRetries with a typed error, keeping positions', async () => {
    const { broker, bus } = await setup({ reconnect: { initialMs: 1, maxMs: 2, maxRetries: 3 } });
    const sub = bus.subscribe('ticks', { from: 'earliest', partitions: [0] });
    const errors: TickbusError[] = [];
    sub.on('error', (e) => errors.push(e));
    await until(() => sub.positions().get(0) === 0, 'subscribed');
    broker.down = true;
    broker.dropAll();
    await until(() => errors.length === 1, 'give-up error');
    expect(errors[0]).toMatchObject({ code: ErrorCode.CONNECTION_CLOSED });
    expect(sub.positions().get(0)).toBe(0);
  });

  it('closes when the for-await loop breaks, and bus.close() closes the rest', async () => {
    const { broker, bus } = await setup();
    await bus.send('ticks', [{ value: 'a' }, { value: 'b' }], { partition: 0 });
    const sub = bus.subscribe('ticks', { from: 'earliest', partitions: [0] });
    const other = bus.subscribe('ticks', { from: 'earliest', partitions: [0] });
    for await (const r of sub) {
      expect(utf8(r.value)).toBe('a');
      break;
    }
    expect(sub.closed).toBe(true);
    expect(other.closed).toBe(false);
    await bus.close();
    expect(other.closed).toBe(true);
    expect(broker.conns.size).toBe(0);
  });
});
