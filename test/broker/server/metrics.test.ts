// /metrics never lies: counters never decrease, not even when an owner thread restarts (Prometheus
// rate() would read a drop as a reset and invent traffic); per-partition gauges tell the committed
// high watermark from the log end; a subscriber that stops granting credit shows its lag.
import { afterEach, describe, expect, it, onTestFailed } from 'vitest';
import { type BrokerProcess, startBroker } from '../../helpers/broker.js';
import { createTopic, WireClient } from '../../helpers/wire-client.js';

/** Polls an async condition every 50 ms, up to a bound. */
async function eventually(cond: () => Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond().catch(() => false))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function scrape(b: BrokerProcess): Promise<string> {
  return (await fetch(`http://127.0.0.1:${b.port}/metrics`)).text();
}

/** The value of one sample (`name{labels} value`); labels must match exactly as printed. */
function sample(text: string, name: string, labels = ''): number | undefined {
  const escaped = (name + labels).replace(/[{}"\\]/g, (c) => `\\${c}`);
  const m = new RegExp(`^${escaped} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

describe('metrics', () => {
  let broker: BrokerProcess | undefined;
  afterEach(async () => {
    await broker?.stop();
    broker = undefined;
  });

  it('never lowers a counter when an owner restarts after a fault', async () => {
    broker = await startBroker({ args: ['--owners', '2', '--test-hooks'] });
    const b = broker;
    onTestFailed(() => console.log(`broker log:\n${b.stderr()}`));
    const md = await createTopic(b.url, 'c', 4);
    const onOwner0 = md.topics[0]!.partitions.find((p) => p.ownerId === 0)!;
    const c = await WireClient.open(onOwner0.endpoint);
    for (let i = 0; i < 5; i++) expect((await c.produce('c', onOwner0.partition, [{ value: 'a' }, { value: 'b' }])).type).toBe('ProduceAck');
    const before = await scrape(b);
    expect(sample(before, 'tickbus_records_in_total')).toBe(10);
    expect(sample(before, 'tickbus_produce_requests_total')).toBe(5);

    expect((await fetch(`http://127.0.0.1:${b.port}/test/owners/0/fault`, { method: 'POST' })).status).toBe(200);
    await c.waitClosed();
    // Scrape while owner 0 is down or restarting, and after it is back: the totals stay.
    const during = await scrape(b);
    await eventually(async () => {
      const h = (await (await fetch(`http://127.0.0.1:${b.port}/healthz`)).json()) as { owners: { id: number; up: boolean; restarts: number }[] };
      const o = h.owners.find((x) => x.id === 0)!;
      return o.up && o.restarts === 1;
    }, 'owner 0 back');
    const after = await scrape(b);
    for (const text of [during, after]) {
      expect(sample(text, 'tickbus_records_in_total')).toBe(10);
      expect(sample(text, 'tickbus_produce_requests_total')).toBe(5);
      expect(sample(text, 'tickbus_bytes_in_total')).toBe(sample(before, 'tickbus_bytes_in_total'));
    }
    // The restarted owner's connection gauge starts again from its real count (the old sockets are gone).
    expect(sample(after, 'tickbus_owner_connections')).toBe(0);
  });

  it('reports per-partition offsets and a credit-limited subscriber lag', async () => {
    broker = await startBroker({ args: ['--owners', '1'] });
    const b = broker;
    onTestFailed(() => console.log(`broker log:\n${b.stderr()}`));
    const md = await createTopic(b.url, 'g', 1);
    const url = md.topics[0]!.partitions[0]!.endpoint;
    const consumer = await WireClient.open(url);
    // One byte of credit: the first live Deliver uses it up, so the subscription stops at offset 1.
    const ok = await consumer.request({ type: 'Subscribe', requestId: 0, topic: 'g', starts: [{ partition: 0, kind: 'earliest' }], creditBytes: 1 });
    expect(ok.type).toBe('SubscribeOk');
    const producer = await WireClient.open(url);
    for (let i = 0; i < 5; i++) expect((await producer.produce('g', 0, [{ value: `v${i}` }])).type).toBe('ProduceAck');
    await consumer.barrier();
    expect(consumer.delivered('g', 0).length).toBe(1);

    const text = await scrape(b);
    const l = '{topic="g",partition="0"}';
    expect(sample(text, 'tickbus_partition_high_watermark', l)).toBe(5);
    expect(sample(text, 'tickbus_partition_log_end_offset', l)).toBe(5);
    expect(sample(text, 'tickbus_partition_log_start_offset', l)).toBe(0);
    expect(sample(text, 'tickbus_partition_subscribers', l)).toBe(1);
    expect(sample(text, 'tickbus_partition_size_bytes', l)).toBeGreaterThan(0);
    expect(text).toMatch(/^tickbus_subscription_lag_records\{topic="g",partition="0",owner="0",conn="\d+",client="wire-test"\} 4$/m);

    // Granting credit lets it catch up; its lag goes to 0.
    consumer.send({ type: 'Credit', topic: 'g', partition: 0, bytes: 1 << 20 });
    await eventually(async () => consumer.delivered('g', 0).length === 5, 'the rest delivered');
    await eventually(async () => /^tickbus_subscription_lag_records\{[^}]*topic="g"[^}]*\} 0$/m.test(await scrape(b)), 'lag 0');
    consumer.close();
    producer.close();
  });
});
