// Owner and bootstrap request paths at their edges: topic configs with defaults, Fetch at and past the
// head, a Subscribe that replaces one, and a topic deleted under live and catching-up subscribers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../schemas/errors.js';
import type { Frame } from '../../schemas/frames.js';
import { decodeBatches } from '../../schemas/record-batch.js';
import { type BrokerProcess, startBroker } from '../helpers/broker.js';
import { createTopic, endpoints, WireClient } from '../helpers/wire-client.js';

let broker: BrokerProcess;
const code = (f: Frame): number => (f.type === 'ErrorReply' ? f.code : -1);
const text = (b: Uint8Array | null): string => new TextDecoder().decode(b!);

beforeAll(async () => {
  broker = await startBroker({ args: ['--owners', '2'] });
}, 30_000);
afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset if beforeAll failed
  await broker?.stop();
});

describe('request paths', () => {
  it('CreateTopic with some config fields keeps the broker defaults of the others (retention included)', async () => {
    const md = await createTopic(broker.url, 'cfg-partial', 1, { fsync: 'always' });
    const c = md.topics[0]!.config!;
    expect(c.fsync).toBe('always');
    expect(c.retentionMs).toBe(7 * 24 * 3600 * 1000);
    expect(c.retentionBytes).toBe(-1);
    // An explicit "no limit" still means no limit.
    const md2 = await createTopic(broker.url, 'cfg-unlimited', 1, { retentionMs: -1 });
    expect(md2.topics[0]!.config!.retentionMs).toBe(-1);
    // And a bad value is INVALID_CONFIG, on a connection that stays usable.
    const a = await WireClient.open(broker.url);
    expect(code(await a.request({ type: 'CreateTopic', requestId: 0, name: 'cfg-bad', partitions: 1, config: { fsync: 'sometimes' } }))).toBe(ErrorCode.INVALID_CONFIG);
    expect(code(await a.request({ type: 'CreateTopic', requestId: 0, name: 'cfg-bad', partitions: 1, config: { segmentBytes: 10 } }))).toBe(ErrorCode.INVALID_CONFIG);
    expect((await a.request({ type: 'Metadata', requestId: 0, topics: ['cfg-partial'] })).type).toBe('MetadataResult');
    a.close();
  });

  it('Fetch at the head is empty; past the head it is OFFSET_OUT_OF_RANGE', async () => {
    await createTopic(broker.url, 'fetch-head', 1);
    const [url] = await endpoints(broker.url, 'fetch-head');
    const c = await WireClient.open(url!);
    for (let i = 0; i < 3; i++) expect((await c.produce('fetch-head', 0, [{ value: `v${i}` }])).type).toBe('ProduceAck');
    const atHead = await c.request({ type: 'Fetch', requestId: 0, topic: 'fetch-head', partition: 0, offset: 3, maxBytes: 0 });
    expect(atHead.type === 'FetchResult' && atHead.batches.length).toBe(0);
    expect(atHead.type === 'FetchResult' && atHead.highWatermark).toBe(3);
    const past = await c.request({ type: 'Fetch', requestId: 0, topic: 'fetch-head', partition: 0, offset: 10, maxBytes: 0 });
    expect(code(past)).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    expect(past.type === 'ErrorReply' && past.topic).toBe('fetch-head');
    c.close();
  });

  it('a second Subscribe replaces the first: after its SubscribeOk, deliveries restart at its offset, gap-free', async () => {
    await createTopic(broker.url, 'resub', 1);
    const [url] = await endpoints(broker.url, 'resub');
    const p = await WireClient.open(url!);
    for (let i = 0; i < 50; i++) await p.produce('resub', 0, [{ value: `r${i}` }]);
    const c = await WireClient.open(url!);
    await c.request({ type: 'Subscribe', requestId: 0, topic: 'resub', starts: [{ partition: 0, kind: 'earliest' }], creditBytes: 0 });
    await c.waitFor(() => c.delivered('resub', 0).length >= 50);
    const okId = c.id();
    const ok = c.waitFor((f) => f.type === 'SubscribeOk' && f.requestId === okId);
    c.send({ type: 'Subscribe', requestId: okId, topic: 'resub', starts: [{ partition: 0, kind: 'offset', value: 20 }], creditBytes: 0 });
    await ok;
    for (let i = 50; i < 60; i++) await p.produce('resub', 0, [{ value: `r${i}` }]);
    const okAt = c.frames.findIndex((f) => f.type === 'SubscribeOk' && f.requestId === okId);
    const after = (): number[] =>
      c.frames
        .slice(okAt + 1)
        .flatMap((f) => (f.type === 'Deliver' ? decodeBatches(f.batches).map((r) => r.offset) : []));
    await c.waitFor(() => after().filter((o) => o >= 20).length >= 40);
    await c.barrier();
    expect(after().filter((o) => o >= 20)).toEqual([...Array(40).keys()].map((i) => i + 20));
    p.close();
    c.close();
  });

  it('a topic deleted under live and catching-up subscribers ends them with TOPIC_DELETED; its new incarnation is separate', async () => {
    await createTopic(broker.url, 'recreated', 1);
    const [url] = await endpoints(broker.url, 'recreated');
    const p = await WireClient.open(url!);
    const big = new Uint8Array(64 * 1024).fill(1);
    for (let i = 0; i < 40; i++) await p.produce('recreated', 0, [{ value: big }]);
    const live = await WireClient.open(url!);
    await live.request({ type: 'Subscribe', requestId: 0, topic: 'recreated', starts: [{ partition: 0, kind: 'latest' }], creditBytes: 0 });
    const slow = await WireClient.open(url!);
    // Catching up with a small credit window: it stays in catch-up until the topic goes.
    await slow.request({ type: 'Subscribe', requestId: 0, topic: 'recreated', starts: [{ partition: 0, kind: 'earliest' }], creditBytes: 1 });
    await slow.waitFor((f) => f.type === 'Deliver');

    const admin = await WireClient.open(broker.url);
    expect((await admin.request({ type: 'DeleteTopic', requestId: 0, name: 'recreated' })).type).toBe('MetadataResult');
    for (const c of [live, slow]) {
      const e = await c.waitFor((f) => f.type === 'ErrorReply' && f.requestId === 0);
      expect(code(e)).toBe(ErrorCode.TOPIC_DELETED);
      expect(e.type === 'ErrorReply' && e.topic).toBe('recreated');
    }
    expect((await admin.request({ type: 'CreateTopic', requestId: 0, name: 'recreated', partitions: 1, config: null })).type).toBe('MetadataResult');
    admin.close();
    const [url2] = await endpoints(broker.url, 'recreated');
    const p2 = await WireClient.open(url2!);
    const ack = await p2.produce('recreated', 0, [{ value: 'fresh' }]);
    expect(ack.type === 'ProduceAck' && ack.baseOffset).toBe(0);
    // Credit for the old subscription must not revive it.
    slow.send({ type: 'Credit', topic: 'recreated', partition: 0, bytes: 1 << 20 });
    const fresh = await WireClient.open(url2!);
    await fresh.request({ type: 'Subscribe', requestId: 0, topic: 'recreated', starts: [{ partition: 0, kind: 'earliest' }], creditBytes: 0 });
    await fresh.waitFor(() => fresh.delivered('recreated', 0).length >= 1);
    await fresh.barrier();
    expect(fresh.delivered('recreated', 0).map((r) => text(r.value))).toEqual(['fresh']);
    const before = { live: live.delivered('recreated', 0).length, slow: slow.delivered('recreated', 0).length };
    await p2.produce('recreated', 0, [{ value: 'fresh2' }]);
    await fresh.waitFor(() => fresh.delivered('recreated', 0).length >= 2);
    // live and slow are on the old owner connection: their barriers pass everything it sent them before.
    await Promise.all([live.barrier(), slow.barrier()]);
    expect(live.delivered('recreated', 0).length).toBe(before.live);
    expect(slow.delivered('recreated', 0).length).toBe(before.slow);
    for (const c of [p, p2, live, slow, fresh]) c.close();
  });
});

