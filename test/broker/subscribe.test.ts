// Subscriptions against a real broker: catch-up from the log hands over to the live stream with no
// gap and no duplicate, from every kind of start, and a slow consumer never holds anyone back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BrokerProcess, startBroker } from '../helpers/broker.js';
import { createTopic, endpoints, WireClient } from '../helpers/wire-client.js';

let broker: BrokerProcess;
const text = (b: Uint8Array | null): string => new TextDecoder().decode(b!);

beforeAll(async () => {
  broker = await startBroker({ args: ['--owners', '2'] });
}, 30_000);
afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset if beforeAll failed
  await broker?.stop();
});

describe('subscribe', () => {
  it('catches up from the log and switches to live with no gap and no duplicate while producing', async () => {
    await createTopic(broker.url, 'handoff', 1);
    const [url] = await endpoints(broker.url, 'handoff');
    const producer = await WireClient.open(url!);
    for (let i = 0; i < 200; i++) await producer.produce('handoff', 0, [{ value: `r${2 * i}` }, { value: `r${2 * i + 1}` }]);

    const consumer = await WireClient.open(url!);
    consumer.send({ type: 'Subscribe', requestId: 1, topic: 'handoff', starts: [{ partition: 0, kind: 'earliest' }], creditBytes: 0 });
    // Keep producing while the consumer is catching up, so the handoff happens under traffic.
    const more: Promise<unknown>[] = [];
    for (let i = 200; i < 600; i++) more.push(producer.produce('handoff', 0, [{ value: `r${2 * i}` }, { value: `r${2 * i + 1}` }]));
    await Promise.all(more);
    await consumer.waitFor(() => consumer.delivered('handoff', 0).length >= 1200, 20_000);
    const recs = consumer.delivered('handoff', 0);
    expect(recs.map((r) => r.offset)).toEqual([...Array(1200).keys()]);
    expect(recs.map((r) => text(r.value))).toEqual([...Array(1200).keys()].map((i) => `r${i}`));
    const kinds = consumer.frames.filter((f) => f.type === 'Deliver').map((f) => (f.live ? 'live' : 'catchup'));
    expect(kinds).toContain('catchup');
    expect(kinds[kinds.length - 1]).toBe('live');
    producer.close();
    consumer.close();
  }, 40_000);

  it('starts from latest, an offset, or a timestamp', async () => {
    await createTopic(broker.url, 'starts', 1);
    const [url] = await endpoints(broker.url, 'starts');
    const p = await WireClient.open(url!);
    for (let i = 0; i < 10; i++) await p.produce('starts', 0, [{ value: `a${i}` }]);
    await new Promise((r) => setTimeout(r, 30));
    const t = Date.now();
    await new Promise((r) => setTimeout(r, 30));
    for (let i = 0; i < 5; i++) await p.produce('starts', 0, [{ value: `b${i}` }]);

    const sub = async (start: { kind: 'latest' } | { kind: 'offset'; value: number } | { kind: 'timestamp'; value: number }): Promise<WireClient> => {
      const c = await WireClient.open(url!);
      const ok = await c.request({ type: 'Subscribe', requestId: 0, topic: 'starts', starts: [{ partition: 0, ...start }], creditBytes: 0 });
      expect(ok.type).toBe('SubscribeOk');
      return c;
    };
    const latest = await sub({ kind: 'latest' });
    const fromOffset = await sub({ kind: 'offset', value: 7 });
    const fromTime = await sub({ kind: 'timestamp', value: t });
    await p.produce('starts', 0, [{ value: 'c0' }]);
    await latest.waitFor(() => latest.delivered('starts', 0).length >= 1);
    expect(latest.delivered('starts', 0).map((r) => text(r.value))).toEqual(['c0']);
    await fromOffset.waitFor(() => fromOffset.delivered('starts', 0).filter((r) => r.offset >= 7).length >= 9);
    expect(fromOffset.delivered('starts', 0).filter((r) => r.offset >= 7).map((r) => text(r.value))).toEqual(['a7', 'a8', 'a9', 'b0', 'b1', 'b2', 'b3', 'b4', 'c0']);
    await fromTime.waitFor(() => fromTime.delivered('starts', 0).length >= 6);
    expect(fromTime.delivered('starts', 0).map((r) => text(r.value))).toEqual(['b0', 'b1', 'b2', 'b3', 'b4', 'c0']);
    for (const c of [p, latest, fromOffset, fromTime]) c.close();
  });

  it('moves a consumer that stops reading to catch-up; others keep receiving; it resumes with no gap', async () => {
    await createTopic(broker.url, 'slow', 1);
    const [url] = await endpoints(broker.url, 'slow');
    const p = await WireClient.open(url!);
    const fast = await WireClient.open(url!);
    const slow = await WireClient.open(url!);
    for (const c of [fast, slow]) {
      c.send({ type: 'Subscribe', requestId: 1, topic: 'slow', starts: [{ partition: 0, kind: 'earliest' }], creditBytes: 0 });
      await c.waitFor((f) => f.type === 'SubscribeOk');
    }
    slow.ws.pause(); // stop reading the socket: its broker-side buffer fills
    const value = new Uint8Array(16 * 1024).fill(7);
    const N = 400; // 6.4 MB: far past the 1 MiB slow-consumer threshold and the kernel buffers
    const acks: Promise<unknown>[] = [];
    for (let i = 0; i < N; i++) acks.push(p.produce('slow', 0, [{ key: String(i), value }]));
    await Promise.all(acks);
    await fast.waitFor(() => fast.delivered('slow', 0).length === N, 20_000);
    // The move is the owner's 50 ms sweep's decision: poll the counter (bounded) rather than read it once.
    const moves = async (): Promise<number> => {
      const metrics = await (await fetch(`http://127.0.0.1:${broker.port}/metrics`)).text();
      return Number(/tickbus_slow_consumer_moves_total (\d+)/.exec(metrics)?.[1] ?? 0);
    };
    const deadline = Date.now() + 5_000;
    while ((await moves()) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await moves()).toBeGreaterThan(0);

    slow.ws.resume();
    await slow.waitFor(() => slow.delivered('slow', 0).length >= N, 20_000);
    const got = slow.delivered('slow', 0);
    // Duplicates are impossible on one subscription; a gap would show as a missing offset.
    expect(got.map((r) => r.offset)).toEqual([...Array(N).keys()]);
    for (const c of [p, fast, slow]) c.close();
  }, 60_000);
  it('a live subscriber that runs out of credit still gets the frame that used it up, then nothing until Credit', async () => {
    await createTopic(broker.url, 'credit', 1);
    const [url] = await endpoints(broker.url, 'credit');
    const consumer = await WireClient.open(url!);
    const producer = await WireClient.open(url!);
    await consumer.request({ type: 'Subscribe', requestId: 0, topic: 'credit', starts: [{ partition: 0, kind: 'latest' }], creditBytes: 2048 });
    // Each batch (10 × 200 B) is larger than the whole window: the first uses it up while the subscriber is live.
    const batch = (i: number) => Array.from({ length: 10 }, (_, j) => ({ value: `${i * 10 + j}:`.padEnd(200, 'x') }));
    for (let i = 0; i < 3; i++) await producer.produce('credit', 0, batch(i));
    await consumer.waitFor(() => consumer.delivered('credit', 0).length >= 10, 5_000);
    await consumer.barrier();
    expect(consumer.delivered('credit', 0).map((r) => r.offset)).toEqual([...Array(10).keys()]);
    consumer.send({ type: 'Credit', topic: 'credit', partition: 0, bytes: 1 << 20 });
    await consumer.waitFor(() => consumer.delivered('credit', 0).length >= 30, 5_000);
    expect(consumer.delivered('credit', 0).map((r) => r.offset)).toEqual([...Array(30).keys()]);
    producer.close();
    consumer.close();
  }, 30_000);

  it('delivers to its first few live subscribers directly and to the rest through the topic, every record once and in order, as they come and go', async () => {
    await createTopic(broker.url, 'direct', 1);
    const [url] = await endpoints(broker.url, 'direct');
    // The first subscriber is sent to directly (Partition.direct), the later ones partly through the uWS topic.
    const self = await WireClient.open(url!);
    await self.request({ type: 'Subscribe', requestId: 0, topic: 'direct', starts: [{ partition: 0, kind: 'latest' }], creditBytes: 0 });
    const p = await WireClient.open(url!);
    for (let i = 0; i < 20; i++) await p.produce('direct', 0, [{ value: `v${i}` }]);

    // Seven more subscribers (more than Partition's DIRECT_LISTENERS) join from the start under traffic;
    // two leave halfway, so later joiners take their direct slots.
    const N = 600;
    const consumers: WireClient[] = [];
    const sends: Promise<unknown>[] = [];
    for (let i = 20; i < N; i++) {
      sends.push(p.produce('direct', 0, [{ value: `v${i}` }]));
      if (i % 60 === 0 && consumers.length < 7) {
        const c = await WireClient.open(url!);
        c.send({ type: 'Subscribe', requestId: 1, topic: 'direct', starts: [{ partition: 0, kind: 'earliest' }], creditBytes: 0 });
        consumers.push(c);
      }
      if (i === 300) for (const c of consumers.splice(0, 2)) c.close();
      if (i % 50 === 0) await Promise.all(sends.splice(0));
    }
    await Promise.all(sends);
    expect(consumers.length).toBeGreaterThan(4);
    for (const c of [self, ...consumers]) {
      await c.waitFor(() => c.delivered('direct', 0).length >= N, 20_000);
      await c.barrier();
      const got = c.delivered('direct', 0);
      expect(got.map((r) => r.offset)).toEqual([...Array(N).keys()]);
      expect(got.map((r) => text(r.value))).toEqual([...Array(N).keys()].map((i) => `v${i}`));
      expect(c.frames.some((f) => f.type === 'Deliver' && f.live)).toBe(true);
    }
    for (const c of [self, p, ...consumers]) c.close();
  }, 60_000);
});
