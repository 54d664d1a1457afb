// Byte-rate quotas on a real broker, measured by bytes per window rather than by timing one call:
// a producer that pushes as hard as it can is held to its produce quota (and is throttled, not
// refused: every send succeeds), and a consumer replaying a backlog is held to its consume quota.
// Each broker-wide quota is split over the owners (quota / owners per owner), so the workloads use
// every owner through a partition on each.
import { afterEach, describe, expect, it } from 'vitest';
import { type Bus, connect } from '../../client/index.js';
import { type BrokerProcess, startBroker } from '../helpers/broker.js';
import { until } from '../helpers/until.js';

const brokers: BrokerProcess[] = [];
const buses: Bus[] = [];
afterEach(async () => {
  await Promise.allSettled(buses.splice(0).map((b) => b.close()));
  await Promise.allSettled(brokers.splice(0).map((b) => b.stop()));
});

const WINDOW_MS = 3_000;
const QUOTA = 200_000; // bytes/s for the principal, across the broker
const VALUE = 'x'.repeat(1_000);

async function broker(args: string[]): Promise<BrokerProcess> {
  const b = await startBroker({ args: ['--owners', '2', ...args] });
  brokers.push(b);
  return b;
}

async function client(b: BrokerProcess): Promise<Bus> {
  // Small batches and one in flight per partition keep what is sent before the first throttled ack small.
  const bus = await connect({ brokers: [b.url], clientId: 'quota', maxBatchBytes: 16 * 1024, maxInFlight: 1 });
  buses.push(bus);
  return bus;
}

/** Sends 8-record sends as fast as they are acknowledged for `ms`; returns the value bytes acknowledged in that time. */
async function produceFlat(bus: Bus, topic: string, ms: number): Promise<{ bytes: number; errors: unknown[] }> {
  const end = Date.now() + ms;
  let bytes = 0;
  const errors: unknown[] = [];
  const worker = async (w: number): Promise<void> => {
    for (let i = 0; Date.now() < end && i < 1_000_000; i++) {
      const recs = Array.from({ length: 8 }, (_, j) => ({ key: `k${w}-${(i * 8 + j) % 16}`, value: VALUE }));
      try {
        await bus.send(topic, recs);
        if (Date.now() <= end) bytes += recs.length * VALUE.length;
      } catch (err) {
        errors.push(err);
        return;
      }
    }
  };
  await Promise.all([0, 1, 2, 3].map(worker));
  return { bytes, errors };
}

describe('produce quota', () => {
  it('holds a producer to its bytes per second over a window, by throttling (every send succeeds)', async () => {
    const b = await broker(['--produce-quota', String(QUOTA)]);
    const bus = await client(b);
    await bus.admin.createTopic('q', { partitions: 2 });
    const { bytes, errors } = await produceFlat(bus, 'q', WINDOW_MS);
    expect(errors).toEqual([]);
    // Quota × window with 20 % slack, plus the burst (one second's worth) and one batch per partition
    // in flight when the first throttle arrived.
    const max = QUOTA * (WINDOW_MS / 1000) * 1.2 + QUOTA + 2 * 16 * 1024;
    expect(bytes).toBeLessThanOrEqual(max);
    expect(bytes).toBeGreaterThan(QUOTA * (WINDOW_MS / 1000) * 0.5);
  });

  it('without a quota the same producer goes far past that bound (the measurement can fail)', async () => {
    const b = await broker([]);
    const bus = await client(b);
    await bus.admin.createTopic('q', { partitions: 2 });
    const { bytes, errors } = await produceFlat(bus, 'q', WINDOW_MS);
    expect(errors).toEqual([]);
    expect(bytes).toBeGreaterThan(QUOTA * (WINDOW_MS / 1000) * 1.2 + QUOTA + 2 * 16 * 1024);
  });
});

describe('consume quota', () => {
  it('holds a consumer replaying a backlog to its bytes per second, delayed rather than cut off', async () => {
    const b = await broker(['--consume-quota', String(QUOTA)]);
    const bus = await client(b);
    await bus.admin.createTopic('backlog', { partitions: 2 });
    const total = 2_000; // 2 MB of values: ten seconds' worth at the quota
    for (let i = 0; i < total; i += 100) {
      await bus.send('backlog', Array.from({ length: 100 }, (_, j) => ({ key: `k${(i + j) % 16}`, value: VALUE })));
    }
    const reader = await client(b);
    const sub = reader.subscribe('backlog', { from: 'earliest' });
    let bytes = 0;
    let closedWith: unknown = null;
    sub.on('record', () => {
      bytes += VALUE.length;
    });
    sub.on('error', (err: unknown) => {
      closedWith = err;
    });
    const start = Date.now();
    await until(() => bytes > 0, 'the first record');
    await new Promise((r) => setTimeout(r, WINDOW_MS - (Date.now() - start)));
    const inWindow = bytes;
    // Burst plus quota × window, with slack, plus one catch-up chunk (256 KiB) per partition already read.
    const max = QUOTA * (WINDOW_MS / 1000) * 1.2 + QUOTA + 2 * 256 * 1024;
    expect(inWindow).toBeLessThanOrEqual(max);
    expect(inWindow).toBeGreaterThan(QUOTA * (WINDOW_MS / 1000) * 0.3);
    expect(closedWith).toBeNull();
    expect(inWindow).toBeLessThan(total * VALUE.length); // still going: slowed, not finished
  });
});
