// An owner that fails (an injected uncaught exception) does not take the process down: every other
// partition keeps serving, the failed owner restarts, its partitions recover from disk, and its
// clients get a retryable error.
import net from 'node:net';
import { afterEach, describe, expect, it, onTestFailed } from 'vitest';
import { ErrorCode } from '../../schemas/errors.js';
import { type BrokerProcess, startBroker } from '../helpers/broker.js';
import { createTopic, metadata, readAll, WireClient } from '../helpers/wire-client.js';

const topic = 'owners';
const text = (b: Uint8Array | null): string => new TextDecoder().decode(b!);

async function waitFor<T>(fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('owner failure', () => {
  let broker: BrokerProcess | undefined;
  afterEach(async () => {
    await broker?.stop();
    broker = undefined;
  });

  it('keeps serving other partitions and brings the failed owner back with its data', async () => {
    broker = await startBroker({ args: ['--owners', '2', '--test-hooks'] });
    const b0 = broker;
    onTestFailed(() => console.log(`broker log:\n${b0.stderr()}`));
    const md = await createTopic(broker.url, topic, 4);
    const parts = md.topics[0]!.partitions;
    const failed = parts.find((p) => p.ownerId === 0)!;
    const healthy = parts.find((p) => p.ownerId === 1)!;
    expect(failed).toBeDefined();
    expect(healthy).toBeDefined();

    const a = await WireClient.open(failed.endpoint);
    const b = await WireClient.open(healthy.endpoint);
    expect((await a.produce(topic, failed.partition, [{ value: 'before-a' }])).type).toBe('ProduceAck');
    expect((await b.produce(topic, healthy.partition, [{ value: 'before-b' }])).type).toBe('ProduceAck');
    // A live subscriber on the healthy owner must not notice anything.
    b.send({ type: 'Subscribe', requestId: 99, topic, starts: [{ partition: healthy.partition, kind: 'latest' }], creditBytes: 0 });
    await b.waitFor((f) => f.type === 'SubscribeOk');

    // A socket no WebSocket handler knows yet (an HTTP request still sending its headers): the owner
    // must close it too before its thread ends, or the whole process aborts.
    const halfOpen = net.connect(Number(new URL(failed.endpoint).port), '127.0.0.1');
    halfOpen.on('error', () => undefined);
    await new Promise<void>((r) => halfOpen.once('connect', () => r()));
    halfOpen.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    await new Promise((r) => setTimeout(r, 50));

    const res = await fetch(`http://127.0.0.1:${broker.port}/test/owners/0/fault`, { method: 'POST' });
    expect(res.status).toBe(200);

    // The failed owner's client gets a retryable OWNER_UNAVAILABLE and its connection closes.
    const err = await a.waitFor((f) => f.type === 'ErrorReply');
    expect(err.type === 'ErrorReply' && err.code).toBe(ErrorCode.OWNER_UNAVAILABLE);
    expect(err.type === 'ErrorReply' && err.retryable).toBe(true);
    await a.waitClosed();

    // The other owner keeps appending and delivering while owner 0 is down or restarting.
    for (let i = 0; i < 20; i++) expect((await b.produce(topic, healthy.partition, [{ value: `during-${i}` }])).type).toBe('ProduceAck');
    await b.waitFor(() => b.delivered(topic, healthy.partition).length === 20);
    expect(b.delivered(topic, healthy.partition).map((r) => text(r.value))).toEqual([...Array(20).keys()].map((i) => `during-${i}`));
    expect(b.closeCode).toBeNull();

    // Owner 0 comes back (same port), with the partition recovered from disk.
    // healthz may still say ok before the supervisor has seen owner 0 go: wait for its restart.
    const health = await waitFor(async () => {
      const h = await fetch(`http://127.0.0.1:${broker!.port}/healthz`);
      const body = (await h.json()) as { owners: { id: number; restarts: number }[] };
      return h.status === 200 && body.owners.find((o) => o.id === 0)!.restarts > 0 ? body : undefined;
    });
    expect(health.owners.find((o) => o.id === 0)!.restarts).toBe(1);
    const back = (await metadata(broker.url, [topic])).topics[0]!.partitions.find((p) => p.partition === failed.partition)!;
    const a2 = await waitFor(() => WireClient.open(back.endpoint));
    expect((await a2.produce(topic, failed.partition, [{ value: 'after-a' }])).type).toBe('ProduceAck');
    a2.close();
    b.close();
    halfOpen.destroy();
    const records = await readAll(back.endpoint, topic, failed.partition);
    expect(records.map((r) => text(r.value))).toEqual(['before-a', 'after-a']);
    expect(broker.stderr()).toMatch(/owner failed.*injected fault/);
  }, 60_000);
});
