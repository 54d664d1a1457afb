// A subscriber that stops reading altogether is cut off: after slowConsumerTimeoutMs without its socket
// draining, the owner sends it ErrorReply SLOW_CONSUMER (request id 0) and closes it with 1008; what it
// had been sent before is gap-free, and the producer on the same owner never notices.
// The CLI has no flags for the slow-consumer limits, so the broker is started from dist/ with a small
// limit and timeout (test/helpers/configured-broker.ts: a real process and real sockets).
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { ErrorCode } from '../../schemas/errors.js';
import { type ConfiguredBroker, startConfiguredBroker } from '../helpers/configured-broker.js';
import { createTopic, endpoints, WireClient } from '../helpers/wire-client.js';

const SLOW_CONSUMER_BYTES = 64 * 1024;
const SLOW_CONSUMER_TIMEOUT_MS = 300;

let broker: ConfiguredBroker | undefined;
let url = '';
let port = 0;
const stderr = (): string => broker?.stderr() ?? '';

beforeAll(async () => {
  broker = await startConfiguredBroker({ slowConsumerBytes: SLOW_CONSUMER_BYTES, slowConsumerTimeoutMs: SLOW_CONSUMER_TIMEOUT_MS });
  url = broker.url;
  port = broker.port;
}, 30_000);

afterAll(async () => {
  await broker?.stop();
});

async function disconnects(): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Number(/tickbus_slow_consumer_disconnects_total (\d+)/.exec(text)?.[1] ?? NaN);
}

describe('slow consumer', () => {
  it('cuts off a subscriber that never reads with SLOW_CONSUMER and close 1008; the producer goes on', async () => {
    onTestFailed(() => console.log(`broker log:\n${stderr()}`));
    await createTopic(url, 'stall', 1);
    const [owner] = await endpoints(url, 'stall');
    const producer = await WireClient.open(owner!);
    const consumer = await WireClient.open(owner!);
    await consumer.request({ type: 'Subscribe', requestId: 0, topic: 'stall', starts: [{ partition: 0, kind: 'earliest' }], creditBytes: 0 });
    expect(await disconnects()).toBe(0);
    consumer.ws.pause(); // stop reading: the kernel buffers fill, then the owner's send buffer

    // Produce until the owner gives up on it: past the loopback socket buffers (a few MiB) the owner's
    // own buffer holds more than slowConsumerBytes/2 and stops draining. Bounded in bytes and time.
    const value = new Uint8Array(16 * 1024).fill(7);
    let produced = 0;
    const deadline = Date.now() + 20_000;
    // Waits on the owner's log line, the record of its decision; the metric is checked separately below.
    while (!stderr().includes('slow consumer disconnected')) {
      if (produced >= 4096 || Date.now() > deadline) throw new Error(`no SLOW_CONSUMER after ${produced} records of 16 KiB`);
      const acks: Promise<unknown>[] = [];
      for (let i = 0; i < 64; i++) acks.push(producer.produce('stall', 0, [{ value }]));
      for (const a of await Promise.all(acks)) expect((a as { type: string }).type).toBe('ProduceAck');
      produced += 64;
      await new Promise((r) => setTimeout(r, 20)); // let the sweep (every 50 ms) see the stall
    }

    // Reading again, the consumer gets what was queued for it, then the typed error, then the close.
    consumer.ws.resume();
    expect(await consumer.waitClosed(15_000)).toBe(1008);
    const errors = consumer.frames.filter((f) => f.type === 'ErrorReply');
    expect(errors).toHaveLength(1);
    const err = errors[0]!;
    expect(err.code).toBe(ErrorCode.SLOW_CONSUMER);
    expect(err.requestId).toBe(0);
    expect(consumer.frames.at(-1)).toBe(err); // nothing after the error
    const offsets = consumer.delivered('stall', 0).map((r) => r.offset);
    // A gap-free prefix of what was produced. It may be all of it: what uWS had already queued for the socket
    // when the owner cut it off is flushed before the close (seen once in CI: 1024 of 1024), so "fewer than
    // produced" was a timing bet, not the rule.
    expect(offsets).toEqual([...Array(offsets.length).keys()]);
    expect(offsets.length).toBeLessThanOrEqual(produced);

    // One connection failed alone: the producer's goes on.
    await producer.barrier();
    expect((await producer.produce('stall', 0, [{ value: 'after' }])).type).toBe('ProduceAck');
    expect(producer.closeCode).toBeNull();
    producer.close();
    // Owners may report counters to /metrics on a period: poll, bounded.
    const until = Date.now() + 5_000;
    while ((await disconnects()) < 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(await disconnects(), 'tickbus_slow_consumer_disconnects_total on /metrics').toBe(1);
  }, 60_000);
});
