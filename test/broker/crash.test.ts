// kill -9 the daemon while a producer writes with acks durable; after a restart every acknowledged
// record is in the log exactly once, in order.
import { afterEach, describe, expect, it } from 'vitest';
import { type BrokerProcess, startBroker } from '../helpers/broker.js';
import { createTopic, endpoints, readAll, WireClient } from '../helpers/wire-client.js';

const PARTITIONS = 3;

describe('crash recovery', () => {
  let broker: BrokerProcess | undefined;
  afterEach(async () => {
    await broker?.stop();
    broker = undefined;
  });

  it('keeps every durably acknowledged record exactly once, in order, after kill -9', async () => {
    broker = await startBroker();
    await createTopic(broker.url, 'crash', PARTITIONS);
    const urls = await endpoints(broker.url, 'crash');
    const clients = await Promise.all(urls.map((u) => WireClient.open(u)));

    // value -> offset it was acknowledged at, per partition
    const acked: Map<string, number>[] = urls.map(() => new Map<string, number>());
    let seq = 0;
    let stop = false;
    const deadline = Date.now() + 8_000;
    const writers = clients.map(async (c, partition) => {
      const inFlight = new Set<Promise<void>>();
      // Bounded in count and in time; pipelined so several batches share each fdatasync.
      while (!stop && Date.now() < deadline && seq < 200_000) {
        const values = [`v${seq++}`, `v${seq++}`];
        const p = c
          .produce('crash', partition, values.map((value) => ({ value })), 'durable')
          .then((f) => {
            if (f.type === 'ProduceAck') values.forEach((v, i) => acked[partition]!.set(v, f.baseOffset + i));
          })
          .catch(() => undefined) // the kill cuts requests short: those were never acknowledged
          .finally(() => inFlight.delete(p));
        inFlight.add(p);
        if (inFlight.size >= 16) await Promise.race(inFlight);
      }
      await Promise.allSettled(inFlight);
    });

    // Let acknowledgements accumulate, then kill without warning mid-stream.
    while (acked.reduce((n, m) => n + m.size, 0) < 300 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await broker.kill9();
    stop = true;
    await Promise.all(writers);
    for (const c of clients) c.close();
    const total = acked.reduce((n, m) => n + m.size, 0);
    expect(total).toBeGreaterThanOrEqual(300);

    await broker.restart();
    const after = await endpoints(broker.url, 'crash');
    for (let p = 0; p < PARTITIONS; p++) {
      const records = await readAll(after[p]!, 'crash', p);
      const values = records.map((r) => new TextDecoder().decode(r.value!));
      // Offsets are contiguous from 0 and no value appears twice.
      expect(records.map((r) => r.offset)).toEqual(records.map((_, i) => i));
      expect(new Set(values).size).toBe(values.length);
      // Every acknowledged record is there, at the offset it was acknowledged with.
      for (const [value, offset] of acked[p]!) expect(values[offset]).toBe(value);
    }
  }, 60_000);
});
