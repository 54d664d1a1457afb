import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode, TickbusError } from '../../client/index.js';
import { batchBaseSequence, batchProducerId, batchRecordCount, decodeBatches } from '../../schemas/record-batch.js';
import { BATCHES_PER_PRODUCER } from '../../broker/log/producer-state.js';
import { FakeBroker } from './fake-broker.js';
import { busesClosedAfterEach, busOnFakeBroker, sdkMaxInFlight } from './sdk-fixture.js';

const dec = new TextDecoder();
const buses = busesClosedAfterEach();

const setup = (opts: Record<string, unknown> = {}, partitions = 3): ReturnType<typeof busOnFakeBroker> => busOnFakeBroker(buses, opts, partitions);

function logValues(broker: FakeBroker, topic: string, p: number): string[] {
  return broker.partition(topic, p).batches.flatMap((b) => decodeBatches(b).map((r) => dec.decode(r.value!)));
}

describe('producer', () => {
  it('acknowledges every record in input order with its partition and offset; keys pick stable partitions', async () => {
    const { broker, bus } = await setup();
    const recs = Array.from({ length: 30 }, (_, i) => ({ key: `k${i % 7}`, value: `v${i}`, headers: { n: String(i) } }));
    const acks = await bus.send('ticks', recs);
    expect(acks).toHaveLength(30);
    const byKey = new Map<string, number>();
    const nextOffset = [0, 0, 0];
    acks.forEach((a, i) => {
      const k = recs[i]!.key;
      if (byKey.has(k)) expect(a.partition).toBe(byKey.get(k));
      byKey.set(k, a.partition);
      expect(a.offset).toBe(nextOffset[a.partition]!++);
    });
    for (let p = 0; p < 3; p++) {
      const stored = broker.partition('ticks', p).batches.flatMap((b) => decodeBatches(b));
      const sent = recs.filter((_, i) => acks[i]!.partition === p);
      expect(stored.map((r) => dec.decode(r.value!))).toEqual(sent.map((r) => r.value));
      expect(stored.map((r) => dec.decode(r.headers.n))).toEqual(sent.map((r) => r.headers.n));
    }
  });

  it('puts the records of every send() of one turn into one batch per partition (lingerMs 0)', async () => {
    const { broker, bus } = await setup();
    const a = bus.send('ticks', [{ value: 'a' }], { partition: 1 });
    const b = bus.send('ticks', [{ value: 'b' }, { value: 'c' }], { partition: 1 });
    expect(await Promise.all([a, b])).toEqual([[{ partition: 1, offset: 0 }], [{ partition: 1, offset: 1 }, { partition: 1, offset: 2 }]]);
    const produces = broker.sent('Produce');
    expect(produces).toHaveLength(1);
    expect(batchRecordCount(produces[0]!.batch)).toBe(3);
  });

  it('waits lingerMs to fill a batch across turns', async () => {
    const { broker, bus } = await setup({ lingerMs: 30 });
    const a = bus.send('ticks', [{ value: 'a' }], { partition: 0 });
    await new Promise((r) => setTimeout(r, 5));
    const b = bus.send('ticks', [{ value: 'b' }], { partition: 0 });
    await Promise.all([a, b]);
    expect(broker.sent('Produce')).toHaveLength(1);
  });

  it('splits at maxBatchBytes', async () => {
    const { broker, bus } = await setup({ maxBatchBytes: 1024 });
    const value = 'x'.repeat(300);
    await bus.send('ticks', Array.from({ length: 10 }, () => ({ value })), { partition: 2 });
    const produces = broker.sent('Produce');
    expect(produces.length).toBeGreaterThan(2);
    for (const p of produces) expect(p.batch.length).toBeLessThanOrEqual(1024);
    expect(logValues(broker, 'ticks', 2)).toHaveLength(10);
  });

  it('numbers batches with one non-zero 48-bit producer id and contiguous sequences per partition', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ partition: fc.integer({ min: 0, max: 2 }), n: fc.integer({ min: 1, max: 5 }), awaitIt: fc.boolean() }), { minLength: 1, maxLength: 12 }),
        async (sends) => {
          const { broker, bus } = await setup({ maxBatchBytes: 256 });
          const pending: Promise<unknown>[] = [];
          for (const s of sends) {
            const p = bus.send('ticks', Array.from({ length: s.n }, (_, i) => ({ value: `r${i}-${'y'.repeat(40)}` })), { partition: s.partition });
            if (s.awaitIt) await p;
            else pending.push(p);
          }
          await Promise.all(pending);
          const produces = broker.sent('Produce');
          const pids = new Set(produces.map((f) => batchProducerId(f.batch)));
          expect(pids.size).toBe(1);
          const pid = [...pids][0]!;
          expect(pid).toBeGreaterThan(0);
          expect(pid).toBeLessThan(2 ** 48);
          for (let p = 0; p < 3; p++) {
            let next = 0;
            for (const f of produces.filter((x) => x.partition === p)) {
              expect(batchBaseSequence(f.batch)).toBe(next);
              next += batchRecordCount(f.batch);
            }
            expect(next).toBe(sends.filter((s) => s.partition === p).reduce((a, s) => a + s.n, 0));
          }
          await bus.close();
        },
      ),
      { numRuns: 25 },
    );
  });

  it('resends the same bytes with the same sequence after a lost ack; the broker keeps one copy', async () => {
    const { broker, bus } = await setup();
    let first = true;
    broker.hooks.produce = () => {
      if (!first) return;
      first = false;
      return 'append-then-drop';
    };
    const acks = await bus.send('ticks', [{ value: 'once' }, { value: 'twice?' }], { partition: 0 });
    expect(acks).toEqual([{ partition: 0, offset: 0 }, { partition: 0, offset: 1 }]);
    const produces = broker.sent('Produce');
    expect(produces).toHaveLength(2);
    expect([...produces[1]!.batch]).toEqual([...produces[0]!.batch]);
    expect(logValues(broker, 'ticks', 0)).toEqual(['once', 'twice?']);
    expect(bus.producerStats.duplicates).toBe(1);
  });

  it('keeps in-flight batches of a partition in order when they are retried', async () => {
    const { broker, bus } = await setup({ maxInFlight: 4 });
    await bus.send('ticks', [{ value: 'warm-up' }], { partition: 1 });
    // m1 is appended but its ack is lost with the socket; m2 and m3, in flight behind it, are lost in the network.
    let lost = false;
    broker.hooks.produce = (f) => {
      if (lost || dec.decode(decodeBatches(f.batch)[0]!.value!) !== 'm1') return;
      lost = true;
      return 'append-then-drop';
    };
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < 6; i++) {
      sends.push(bus.send('ticks', [{ value: `m${i}` }], { partition: 1 }));
      await Promise.resolve(); // a new turn after the flush microtask: one batch each
    }
    const acks = await Promise.all(sends);
    broker.hooks.produce = undefined;
    expect(logValues(broker, 'ticks', 1)).toEqual(['warm-up', 'm0', 'm1', 'm2', 'm3', 'm4', 'm5']);
    expect(acks.map((a) => (a as { offset: number }[])[0]!.offset)).toEqual([1, 2, 3, 4, 5, 6]);
    const produces = broker.log.filter((e) => e.frame.type === 'Produce');
    const conns = [...new Set(produces.map((e) => e.conn))];
    expect(conns.length).toBeGreaterThan(1);
    // On every connection the partition's batches went out in sequence order, without holes.
    for (const c of conns) {
      const seqs = produces.filter((e) => e.conn === c).map((e) => batchBaseSequence((e.frame as { batch: Uint8Array }).batch));
      expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
    }
    expect(bus.producerStats.duplicates).toBeGreaterThanOrEqual(1);
  });

  it('writes every acknowledged record exactly once at its acknowledged offset under any mix of faults (model check)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant('send' as const), p: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }), n: fc.integer({ min: 1, max: 4 }) }),
            fc.record({ op: fc.constant('loseNextAck' as const) }),
            fc.record({ op: fc.constant('drop' as const) }),
            fc.record({ op: fc.constant('restart' as const) }),
            fc.record({ op: fc.constant('tick' as const) }),
          ),
          { maxLength: 30 },
        ),
        fc.integer({ min: 1, max: 5 }),
        async (ops, maxInFlight) => {
          const { broker, bus } = await setup({ maxInFlight, maxBatchBytes: 200 });
          let loseAcks = 0;
          broker.hooks.produce = () => (loseAcks > 0 ? (loseAcks--, 'append-then-drop') : undefined);
          const sends: Promise<{ value: string; partition: number; offset: number }[]>[] = [];
          let n = 0;
          for (const o of ops) {
            if (o.op === 'send') {
              const recs = Array.from({ length: o.n }, () => ({ key: `key${n % 5}`, value: `m${n++}` }));
              sends.push(bus.send('ticks', recs, o.p === undefined ? {} : { partition: o.p }).then((acks) => acks.map((a, i) => ({ value: recs[i]!.value, ...a }))));
            } else if (o.op === 'loseNextAck') loseAcks++;
            else if (o.op === 'drop') broker.dropAll();
            else if (o.op === 'restart') broker.restart();
            else await new Promise((r) => setTimeout(r, 1));
          }
          const acked = (await Promise.all(sends)).flat();
          expect(acked).toHaveLength(n);
          for (let p = 0; p < 3; p++) {
            const log = logValues(broker, 'ticks', p);
            expect(new Set(log).size).toBe(log.length); // no duplicate
            const mine = acked.filter((x) => x.partition === p);
            for (const a of mine) expect(log[a.offset]).toBe(a.value);
            // Send order is log order within a partition, retries included.
            expect(mine.map((a) => a.offset)).toEqual(mine.map((_, i) => i));
          }
          expect(acked.map((a) => a.value).sort()).toEqual([...Array(n).keys()].map((i) => `m${i}`).sort());
          await bus.close();
        },
      ),
      { numRuns: 40 },
    );
  });

  it('never has more batches of a partition in flight than the broker remembers; all of them retried are duplicates', async () => {
    const { broker, bus } = await setup({ maxInFlight: sdkMaxInFlight() });
    await bus.send('ticks', [{ value: 'warm-up' }], { partition: 0 });
    broker.hooks.produce = () => 'hold';
    const n = 3 * BATCHES_PER_PRODUCER + 7;
    const sends: Promise<{ partition: number; offset: number }[]>[] = [];
    for (let i = 0; i < n; i++) {
      sends.push(bus.send('ticks', [{ value: `m${i}` }], { partition: 0 }));
      await Promise.resolve(); // a new turn after the flush microtask: one batch each
    }
    // Barrier: the SDK decided what to send within those turns, and the fake moves frames in microtasks
    // only, so after one macrotask every frame sent has arrived. One more goes out only after an answer.
    await new Promise((r) => setImmediate(r));
    expect(broker.held.length).toBeGreaterThan(0);
    expect(broker.held.length).toBeLessThanOrEqual(BATCHES_PER_PRODUCER);
    // The broker writes every held batch, then the socket dies before any ack: all of them come again.
    broker.hooks.produce = undefined;
    for (const h of broker.held.splice(0)) broker.append(broker.partition('ticks', 0), h.f.batch);
    broker.dropAll();
    const acks = await Promise.all(sends);
    expect(acks.map((a) => a[0]!.offset)).toEqual(acks.map((_, i) => i + 1));
    expect(logValues(broker, 'ticks', 0)).toEqual(['warm-up', ...acks.map((_, i) => `m${i}`)]);
    expect(bus.producerStats.sessionResets).toBe(0);
    expect(bus.producerStats.duplicates).toBeGreaterThanOrEqual(1);
  });

  it('resolves a batch the broker says it wrote but no longer remembers, and sends nothing again', async () => {
    const { broker, bus } = await setup({ maxInFlight: 2 });
    await bus.send('ticks', [{ value: 'warm-up' }], { partition: 0 });
    // m0 is written and its ack lost with the socket (m1, behind it, is lost in the network); when m0
    // comes again the broker no longer remembers its offset (as if its window had moved past it).
    let m0Seen = 0;
    broker.hooks.produce = (f) => {
      if (dec.decode(decodeBatches(f.batch)[0]!.value!) !== 'm0') return undefined;
      if (++m0Seen === 1) return 'append-then-drop';
      return new TickbusError(ErrorCode.DUPLICATE_SEQUENCE, 'sequence 1 was already written but is older than the window');
    };
    const m0 = bus.send('ticks', [{ value: 'm0' }], { partition: 0 });
    await Promise.resolve();
    const m1 = bus.send('ticks', [{ value: 'm1' }], { partition: 0 });
    expect(await m0).toEqual([{ partition: 0, offset: -1 }]);
    expect(await m1).toEqual([{ partition: 0, offset: 2 }]);
    expect(m0Seen).toBe(2);
    expect(bus.producerStats.sessionResets).toBe(0);
    // m1 kept its session and its sequence: written once, right after m0.
    const produces = broker.sent('Produce').filter((f) => f.partition === 0);
    expect(new Set(produces.map((f) => batchProducerId(f.batch))).size).toBe(1);
    expect(logValues(broker, 'ticks', 0)).toEqual(['warm-up', 'm0', 'm1']);
  });

  it('follows a partition to its new owner after NOT_OWNER or a restart', async () => {
    const { broker, bus } = await setup();
    await bus.send('ticks', [{ value: 'before' }], { partition: 0 });
    broker.restart(); // owners move to new URLs: the old one refuses connections
    await bus.send('ticks', [{ value: 'after' }], { partition: 0 });
    expect(logValues(broker, 'ticks', 0)).toEqual(['before', 'after']);
  });

  it('fails a refused batch alone; later sends go on in a new producer session', async () => {
    const { broker, bus } = await setup();
    broker.hooks.produce = (f) => (dec.decode(decodeBatches(f.batch)[0]!.value!) === 'bad' ? new TickbusError(ErrorCode.CORRUPT_BATCH, 'refused by the test') : undefined);
    const bad = bus.send('ticks', [{ value: 'bad' }], { partition: 0 });
    await expect(bad).rejects.toMatchObject({ code: ErrorCode.CORRUPT_BATCH, partition: 0 });
    broker.hooks.produce = undefined;
    expect(await bus.send('ticks', [{ value: 'good' }], { partition: 0 })).toEqual([{ partition: 0, offset: 0 }]);
    expect(logValues(broker, 'ticks', 0)).toEqual(['good']);
  });

  it('re-encodes batches that followed a refused one so they are not lost to OUT_OF_ORDER_SEQUENCE', async () => {
    const { broker, bus } = await setup({ maxInFlight: 5 });
    await bus.send('ticks', [{ value: 'metadata cached' }], { partition: 1 });
    broker.hooks.produce = (f) => (dec.decode(decodeBatches(f.batch)[0]!.value!) === 'bad' ? new TickbusError(ErrorCode.INVALID_REQUEST, 'refused') : undefined);
    const bad = bus.send('ticks', [{ value: 'bad' }], { partition: 0 }).catch((e: unknown) => e);
    await Promise.resolve(); // a separate batch, in flight behind the bad one
    const after = bus.send('ticks', [{ value: 'after' }], { partition: 0 });
    expect(await bad).toMatchObject({ code: ErrorCode.INVALID_REQUEST });
    expect(await after).toEqual([{ partition: 0, offset: 0 }]);
    expect(bus.producerStats.sessionResets).toBe(1);
  });

  it('rejects BUFFER_FULL instead of buffering without bound', async () => {
    const { broker, bus } = await setup({ bufferMemoryBytes: 4096, maxBatchBytes: 2048 });
    broker.hooks.produce = () => 'hold';
    const value = 'z'.repeat(1200); // 3 fit in 4096 bytes, 4 do not
    const ok = [bus.send('ticks', [{ value }], { partition: 0 }), bus.send('ticks', [{ value }], { partition: 0 }), bus.send('ticks', [{ value }], { partition: 0 })];
    await expect(bus.send('ticks', [{ value }], { partition: 0 })).rejects.toMatchObject({ code: ErrorCode.BUFFER_FULL });
    expect(bus.bufferedBytes).toBeGreaterThan(3600);
    await new Promise((r) => setTimeout(r, 0));
    broker.hooks.produce = undefined;
    broker.release();
    await Promise.all(ok);
    expect(bus.bufferedBytes).toBe(0);
    await bus.send('ticks', [{ value }], { partition: 0 });
  });

  it('rejects with TIMEOUT once deliveryTimeoutMs passes without a broker', async () => {
    const { broker, bus } = await setup({ deliveryTimeoutMs: 100 });
    await bus.send('ticks', [{ value: 'warm' }], { partition: 0 }); // metadata cached
    broker.down = true;
    broker.dropAll();
    const t0 = Date.now();
    await expect(bus.send('ticks', [{ value: 'x' }], { partition: 0 })).rejects.toMatchObject({ code: ErrorCode.TIMEOUT });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
    expect(bus.bufferedBytes).toBe(0);
  });

  it('answers bad input with a clear error', async () => {
    const { bus } = await setup({ maxBatchBytes: 256 });
    await expect(bus.send('ticks', [{ value: 5 as unknown as string }])).rejects.toThrow(/value must be a string, a Uint8Array or null/);
    await expect(bus.send('ticks', 'x' as never)).rejects.toThrow(TypeError);
    await expect(bus.send('ticks', [{ value: 'x' }], { acks: 'quorum' as never })).rejects.toThrow(/acks must be 'none', 'leader', 'all' or 'durable'/);
    await expect(bus.send('ticks', [{ value: 'x'.repeat(300) }])).rejects.toMatchObject({ code: ErrorCode.INVALID_REQUEST });
    await expect(bus.send('nope', [{ value: 'x' }])).rejects.toMatchObject({ code: ErrorCode.UNKNOWN_TOPIC });
    await expect(bus.send('ticks', [{ value: 'x' }], { partition: 3 })).rejects.toMatchObject({ code: ErrorCode.UNKNOWN_PARTITION, message: expect.stringMatching(/has 3 partitions; partition 3 does not exist/) });
    expect(await bus.send('ticks', [])).toEqual([]);
  });

  it('refuses a header name longer than its u16 length field in send(), not at encode time', async () => {
    const { bus } = await setup();
    await expect(bus.send('ticks', [{ value: 'x', headers: { ['h'.repeat(0x10000)]: 'v' } }])).rejects.toThrow(RangeError);
    // The longest name that fits still goes through.
    expect(await bus.send('ticks', [{ value: 'x', headers: { ['h'.repeat(0xffff)]: 'v' } }], { partition: 0 })).toEqual([{ partition: 0, offset: 0 }]);
  });

  it('acks none resolves once sent, with offset -1', async () => {
    const { broker, bus } = await setup();
    expect(await bus.send('ticks', [{ value: 'fire' }], { acks: 'none', partition: 2 })).toEqual([{ partition: 2, offset: -1 }]);
    await new Promise((r) => setTimeout(r, 0));
    expect(logValues(broker, 'ticks', 2)).toEqual(['fire']);
  });

  it('close() flushes sends still lingering', async () => {
    const { broker, bus } = await setup({ lingerMs: 10_000 });
    const p = bus.send('ticks', [{ value: 'late' }], { partition: 0 });
    await bus.close();
    expect(await p).toEqual([{ partition: 0, offset: 0 }]);
    expect(logValues(broker, 'ticks', 0)).toEqual(['late']);
    await expect(bus.send('ticks', [{ value: 'x' }])).rejects.toMatchObject({ code: ErrorCode.CONNECTION_CLOSED });
  });
});
