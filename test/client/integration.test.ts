// The SDK against a real broker process (node dist/cli/main.js broker on port 0): round
// trips, and the recovery promise — after kill -9 + restart, or sockets dropped mid-stream while
// producing with retries and consuming, the consumer has seen every acknowledged record exactly
// once, in order per partition, and the log holds no duplicate.
import { afterEach, describe, expect, it } from 'vitest';
import { type Bus, connect, type ConsumedRecord, ErrorCode, type Subscription, TickbusError, utf8 } from '../../client/index.js';
import { webSocketTransport } from '../../client/internal.js';
import { BarrierTransport } from '../helpers/barrier-transport.js';
import { type BrokerProcess, startBroker } from '../helpers/broker.js';
import { CuttableTransport } from '../helpers/cuttable-transport.js';
import { until } from '../helpers/until.js';

const brokers: BrokerProcess[] = [];
const buses: Bus[] = [];
afterEach(async () => {
  await Promise.allSettled(buses.splice(0).map((b) => b.close()));
  await Promise.allSettled(brokers.splice(0).map((b) => b.stop()));
});

async function broker(args: string[] = []): Promise<BrokerProcess> {
  const b = await startBroker({ args: ['--owners', '2', ...args] });
  brokers.push(b);
  return b;
}

async function client(b: BrokerProcess, opts: Record<string, unknown> = {}): Promise<Bus> {
  const bus = await connect({ brokers: [b.url], clientId: 'sdk-integration', reconnect: { initialMs: 20, maxMs: 300 }, ...opts });
  buses.push(bus);
  return bus;
}

function collect(sub: Subscription): ConsumedRecord[] {
  const out: ConsumedRecord[] = [];
  sub.on('record', (r) => {
    out.push(r);
  });
  return out;
}

/** Reads the whole topic back from earliest with a fresh client; resolves once `expected` records per partition arrived. */
async function readBack(b: BrokerProcess, topic: string, expected: Map<number, number>): Promise<Map<number, string[]>> {
  const barrier = new BarrierTransport(webSocketTransport);
  const bus = await client(b, { transport: barrier });
  const sub = bus.subscribe(topic, { from: 'earliest' });
  const got = collect(sub);
  const total = [...expected.values()].reduce((a, n) => a + n, 0);
  await until(() => got.length >= total, `read-back of ${total} records`);
  await barrier.barrier(); // anything extra (a duplicate) the broker sent has arrived by now
  const out = new Map<number, string[]>();
  for (const r of got) {
    const list = out.get(r.partition) ?? [];
    expect(r.offset).toBe(list.length); // offsets from 0, contiguous
    list.push(utf8(r.value));
    out.set(r.partition, list);
  }
  await sub.close();
  return out;
}

/**
 * Produces `n` records (keys spread over partitions) in small concurrent sends, calling `fault`
 * at a few points; returns every acknowledged record with its partition and offset.
 */
async function produceThrough(bus: Bus, topic: string, n: number, fault: (i: number) => Promise<void> | void): Promise<{ value: string; partition: number; offset: number }[]> {
  const acked: { value: string; partition: number; offset: number }[] = [];
  const failures: unknown[] = [];
  const window: Promise<void>[] = [];
  for (let i = 0; i < n; i += 5) {
    const recs = Array.from({ length: Math.min(5, n - i) }, (_, j) => ({ key: `k${(i + j) % 17}`, value: `v${i + j}` }));
    window.push(
      bus.send(topic, recs).then(
        (acks) => acks.forEach((a, j) => acked.push({ value: recs[j]!.value, partition: a.partition, offset: a.offset })),
        (err: unknown) => void failures.push(err),
      ),
    );
    if (window.length >= 20) await window.shift();
    await fault(i);
  }
  await Promise.all(window);
  expect(failures).toEqual([]);
  return acked;
}

/** Every acknowledged record exactly once, in offset order per partition, each at its acknowledged offset. */
function checkExactlyOnce(got: ConsumedRecord[], acked: { value: string; partition: number; offset: number }[]): void {
  const byPart = new Map<number, ConsumedRecord[]>();
  for (const r of got) byPart.set(r.partition, [...(byPart.get(r.partition) ?? []), r]);
  for (const [, rs] of byPart) {
    const offs = rs.map((r) => r.offset);
    expect(offs).toEqual(offs.map((_, i) => i)); // in order, no gap, no duplicate
  }
  const seen = new Map(got.map((r) => [`${r.partition}/${r.offset}`, utf8(r.value)]));
  for (const a of acked) expect(seen.get(`${a.partition}/${a.offset}`)).toBe(a.value);
  const values = got.map((r) => utf8(r.value));
  expect(new Set(values).size).toBe(values.length);
}

describe('SDK against a real broker', () => {
  it('round-trips records with keys and headers; admin creates, describes, lists and deletes', async () => {
    const b = await broker();
    const bus = await client(b);
    const created = await bus.admin.createTopic('orders', { partitions: 3 });
    expect(created.name).toBe('orders');
    expect(created.partitions.map((p) => p.partition)).toEqual([0, 1, 2]);
    expect(created.partitions.every((p) => p.endpoint.startsWith('ws://127.0.0.1:'))).toBe(true);
    await expect(bus.admin.createTopic('orders', { partitions: 3 })).rejects.toMatchObject({ code: ErrorCode.TOPIC_EXISTS });

    const recs = Array.from({ length: 60 }, (_, i) => ({ key: `acct-${i % 6}`, value: `order ${i}`, headers: { trace: `t${i}`, bin: new Uint8Array([i]) } }));
    const acks = await bus.send('orders', recs);
    const sub = bus.subscribe('orders', { from: 'earliest' });
    const got: ConsumedRecord[] = [];
    for await (const r of sub) {
      got.push(r);
      if (got.length === recs.length) break;
    }
    for (const [i, a] of acks.entries()) {
      const r = got.find((x) => x.partition === a.partition && x.offset === a.offset)!;
      expect(utf8(r.value)).toBe(recs[i]!.value);
      expect(utf8(r.key)).toBe(recs[i]!.key);
      expect(utf8(r.headers.trace!)).toBe(`t${i}`);
      expect([...r.headers.bin!]).toEqual([i]);
      expect(r.timestamp).toBeGreaterThan(Date.now() - 60_000);
    }
    // One key, one partition.
    for (const k of new Set(recs.map((r) => r.key))) expect(new Set(acks.filter((_, i) => recs[i]!.key === k).map((a) => a.partition)).size).toBe(1);

    const described = await bus.admin.describeTopic('orders');
    expect(described.partitions.reduce((s, p) => s + p.highWatermark, 0)).toBe(60);
    expect((await bus.admin.listTopics()).map((t) => t.name)).toContain('orders');
    await bus.admin.deleteTopic('orders');
    await expect(bus.admin.describeTopic('orders')).rejects.toMatchObject({ code: ErrorCode.UNKNOWN_TOPIC });
    await expect(bus.send('nope', [{ value: 'x' }])).rejects.toMatchObject({ code: ErrorCode.UNKNOWN_TOPIC });
  });

  it('survives kill -9 and restart mid-stream: every acked record seen once, in order; no duplicate in the log', async () => {
    const b = await broker();
    const bus = await client(b);
    await bus.admin.createTopic('feed', { partitions: 4 });
    const barrier = new BarrierTransport(webSocketTransport);
    const consumerBus = await client(b, { transport: barrier });
    const sub = consumerBus.subscribe('feed', { from: 'earliest' });
    const got = collect(sub);
    const acked = await produceThrough(bus, 'feed', 1500, async (i) => {
      if (i === 500) {
        await b.kill9();
        await b.restart();
      }
    });
    expect(acked).toHaveLength(1500);
    await until(() => got.length >= 1500, 'consumer to catch up');
    await barrier.barrier(); // a duplicate the broker sent has arrived by now
    checkExactlyOnce(got, acked);
    expect(got).toHaveLength(1500);
    expect(sub.stats.disconnects).toBeGreaterThan(0);

    const counts = new Map<number, number>();
    for (const a of acked) counts.set(a.partition, (counts.get(a.partition) ?? 0) + 1);
    const log = await readBack(b, 'feed', counts);
    const all = [...log.values()].flat();
    expect(all).toHaveLength(1500);
    expect(new Set(all).size).toBe(1500);
  }, 60_000);

  it('survives sockets cut mid-stream on both sides while producing with retries and consuming', async () => {
    const b = await broker();
    const admin = await client(b);
    await admin.admin.createTopic('cut', { partitions: 3 });
    const pt = new CuttableTransport();
    const ct = new CuttableTransport();
    const barrier = new BarrierTransport(ct);
    const producer = await client(b, { transport: pt });
    const consumer = await client(b, { transport: barrier });
    const sub = consumer.subscribe('cut', { from: 'earliest', creditBytes: 4096 });
    const got = collect(sub);
    const acked = await produceThrough(producer, 'cut', 1200, (i) => {
      if (i % 300 === 150) {
        pt.cut();
        ct.cut();
      }
    });
    expect(pt.cuts).toBe(4);
    await until(() => got.length >= 1200, 'consumer to catch up');
    await barrier.barrier(); // a duplicate the broker sent has arrived by now
    checkExactlyOnce(got, acked);
    expect(got).toHaveLength(1200);

    const counts = new Map<number, number>();
    for (const a of acked) counts.set(a.partition, (counts.get(a.partition) ?? 0) + 1);
    const log = await readBack(b, 'cut', counts);
    const all = [...log.values()].flat();
    expect(all).toHaveLength(1200); // retried batches were recognised, not written twice
    expect(new Set(all).size).toBe(1200);
  }, 60_000);

  it('reports OFFSET_OUT_OF_RANGE for an offset the log does not hold', async () => {
    const b = await broker();
    const bus = await client(b);
    await bus.admin.createTopic('short', { partitions: 1 });
    await bus.send('short', [{ value: 'a' }, { value: 'b' }]);
    const sub = bus.subscribe('short', { from: { offset: 50 } });
    const errors: TickbusError[] = [];
    sub.on('error', (e) => errors.push(e));
    await until(() => errors.length > 0, 'error event');
    expect(errors[0]).toBeInstanceOf(TickbusError);
    expect(errors[0]).toMatchObject({ code: ErrorCode.OFFSET_OUT_OF_RANGE, partition: 0, topic: 'short' });
    // The iterator form throws it.
    const it2 = bus.subscribe('short', { from: { offset: 50 } })[Symbol.asyncIterator]();
    await expect(it2.next()).rejects.toMatchObject({ code: ErrorCode.OFFSET_OUT_OF_RANGE });
  });

  it('a paused subscriber with a small credit window falls behind and then catches up in order', async () => {
    const b = await broker();
    const barrier = new BarrierTransport(webSocketTransport);
    const bus = await client(b, { transport: barrier });
    await bus.admin.createTopic('slow', { partitions: 1 });
    const sub = bus.subscribe('slow', { from: 'latest', creditBytes: 2048 });
    const got = collect(sub);
    await until(() => sub.positions().get(0) === 0, 'subscribed');
    sub.pause();
    const value = 'x'.repeat(200);
    for (let i = 0; i < 40; i++) await bus.send('slow', Array.from({ length: 10 }, (_, j) => ({ value: `${i * 10 + j}:${value}` })));
    // Every record was published to the subscriber's socket before its ack; past the barrier, whatever the
    // broker sent on that socket has arrived.
    await barrier.barrier();
    expect(got).toHaveLength(0);
    // The broker stopped within the window: far less than the 400 records' bytes arrived.
    expect(sub.stats.bytes).toBeLessThan(2048 + 8192);
    expect(sub.lag()).toBeGreaterThan(0); // from the last head the broker reported before it stopped
    sub.resume();
    await until(() => got.length >= 400, 'catch-up after resume');
    expect(got.map((r) => r.offset)).toEqual([...Array(400).keys()]);
    expect(sub.lag()).toBe(0);
    expect(sub.latencyUs).toBeGreaterThan(0);
  });
});
