// Issue 8, item 1, at a small scale: an idempotent producer with the widest maxInFlight the SDK
// accepts, lingerMs 0 and acks 'durable', against a real broker (--fsync always) that is killed with
// -9 and restarted on the same data dir three times while it sends. Every batch in flight at a kill
// that the broker had written must be recognised when it is retried, so the log holds every value
// once: none twice, none acknowledged and missing.
import { afterEach, describe, expect, it } from 'vitest';
import { type Bus, connect } from '../../client/index.js';
import { type BrokerProcess, startBroker } from '../helpers/broker.js';
import { endpoints, readAll } from '../helpers/wire-client.js';
import { sdkMaxInFlight } from './sdk-fixture.js';

const brokers: BrokerProcess[] = [];
const buses: Bus[] = [];
afterEach(async () => {
  await Promise.allSettled(buses.splice(0).map((b) => b.close()));
  await Promise.allSettled(brokers.splice(0).map((b) => b.stop()));
});

const PARTITIONS = 2;
const KILLS = 3;
const MAX_VALUES = 20_000;

describe('idempotent producer through kill -9 of the broker', () => {
  it('writes no value twice and loses no acknowledged value with maxInFlight at its maximum, acks durable', async () => {
    const b = await startBroker({ args: ['--owners', '1', '--fsync', 'always'] });
    brokers.push(b);
    const maxInFlight = sdkMaxInFlight();
    const bus = await connect({
      brokers: [b.url],
      clientId: 'idempotence-crash',
      maxInFlight,
      lingerMs: 0,
      reconnect: { initialMs: 20, maxMs: 200 },
      deliveryTimeoutMs: 30_000,
    });
    buses.push(bus);
    await bus.admin.createTopic('window', { partitions: PARTITIONS });

    const acked = new Map<string, { partition: number; offset: number }>();
    const failures: unknown[] = [];
    const outstanding = new Set<Promise<void>>();
    let sent = 0;
    let kills = 0;
    const deadline = Date.now() + 12_000;
    // Kill while batches are in flight: after each ~quarter of the acknowledgements we wait for.
    const killAt = [150, 400, 700];
    let killing: Promise<void> | null = null;

    while (sent < MAX_VALUES && Date.now() < deadline && (kills < KILLS || acked.size < killAt[KILLS - 1]! + 200)) {
      // One value per send(), each in its own turn (lingerMs 0): one batch each, so many batches of a
      // partition are in flight at once, up to maxInFlight.
      const value = `v${sent}`;
      const partition = sent % PARTITIONS;
      sent++;
      const p = bus
        .send('window', [{ value }], { acks: 'durable', partition })
        .then(
          ([a]) => void acked.set(value, { partition: a!.partition, offset: a!.offset }),
          (err: unknown) => void failures.push(err),
        )
        .finally(() => outstanding.delete(p));
      outstanding.add(p);
      if (!killing && kills < KILLS && acked.size >= killAt[kills]!) {
        kills++;
        killing = (async () => {
          await b.kill9();
          await b.restart();
        })().finally(() => {
          killing = null;
        });
      }
      if (outstanding.size >= 4 * maxInFlight) await Promise.race(outstanding);
      else await new Promise((r) => setImmediate(r));
    }
    if (killing) await killing;
    await Promise.all(outstanding);
    expect(kills).toBe(KILLS);
    // The kills cut batches in flight short: they were sent again (and the written ones recognised).
    expect(bus.producerStats.retries).toBeGreaterThan(0);

    // Read every partition back over the raw protocol, from offset 0.
    const urls = await endpoints(b.url, 'window');
    for (let p = 0; p < PARTITIONS; p++) {
      const mine = [...acked].filter(([, a]) => a.partition === p);
      const records = await readAll(urls[p]!, 'window', p); // up to the high watermark
      expect(records.map((r) => r.offset)).toEqual(records.map((_, i) => i));
      const values = records.map((r) => new TextDecoder().decode(r.value!));
      const twice = values.filter((v, i) => values.indexOf(v) !== i);
      expect(twice, `values written twice to partition ${p}`).toEqual([]);
      for (const [value, a] of mine) expect(values[a.offset], `${value} acknowledged at ${p}/${a.offset}`).toBe(value);
    }
    // And nothing failed: each retried batch was recognised, none reported as not written.
    expect(failures).toEqual([]);
    expect(acked.size).toBe(sent);
  }, 40_000);
});
