// What the SDK tests share, in one copy so a fix reaches them all: buses closed after each test, a bus on
// a fresh fake broker (optionally behind a BarrierTransport), record collection, a short bounded wait.
import { afterEach } from 'vitest';
import { type Bus, connect, type ConsumedRecord, type Subscription } from '../../client/index.js';
import { resolveOptions } from '../../client/options.js';
import { BarrierTransport } from '../helpers/barrier-transport.js';
import { until as pollUntil } from '../helpers/until.js';
import { BOOTSTRAP, FakeBroker } from './fake-broker.js';

/** The buses a test file opens (push them here), closed after each test: call once at the file's top level. */
export function busesClosedAfterEach(): Bus[] {
  const buses: Bus[] = [];
  afterEach(async () => {
    await Promise.allSettled(buses.splice(0).map((b) => b.close()));
  });
  return buses;
}

// Reconnects in 1-5 ms: the fake broker answers at once, and a test should not wait out real backoff.
const FAST_RECONNECT = { initialMs: 1, maxMs: 5 };

/** A bus (tracked in `buses`) on a fresh fake broker with topic 'ticks' of `partitions` partitions. */
export async function busOnFakeBroker(buses: Bus[], opts: Record<string, unknown> = {}, partitions = 3): Promise<{ broker: FakeBroker; bus: Bus }> {
  const broker = new FakeBroker();
  broker.createTopic('ticks', partitions);
  const bus = await connect({ brokers: [BOOTSTRAP], transport: broker, reconnect: FAST_RECONNECT, ...opts });
  buses.push(bus);
  return { broker, bus };
}

/**
 * As busOnFakeBroker, through a BarrierTransport: `barrier.barrier()` resolves once everything the fake sent
 * before has reached the SDK and everything the SDK sent has reached the fake ("nothing more arrived"
 * without a sleep).
 */
export async function barrieredBusOnFakeBroker(
  buses: Bus[],
  opts: Record<string, unknown> = {},
  partitions = 3,
): Promise<{ broker: FakeBroker; bus: Bus; barrier: BarrierTransport }> {
  const broker = new FakeBroker();
  broker.createTopic('ticks', partitions);
  const barrier = new BarrierTransport(broker);
  const bus = await connect({ brokers: [BOOTSTRAP], transport: barrier, reconnect: FAST_RECONNECT, ...opts });
  buses.push(bus);
  return { broker, bus, barrier };
}

/** Collects records through the callback form. */
export function collect(sub: Subscription): ConsumedRecord[] {
  const out: ConsumedRecord[] = [];
  sub.on('record', (r) => {
    out.push(r);
  });
  return out;
}

/** Polls every 2 ms, 3 s at most: the fake broker answers within a few event-loop turns. */
export function until(cond: () => boolean, what: string, ms = 3000): Promise<void> {
  return pollUntil(cond, what, ms, 2);
}

/** The largest maxInFlight the SDK accepts. */
export function sdkMaxInFlight(): number {
  let lo = 1;
  let hi = 1 << 20;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    try {
      resolveOptions({ brokers: [BOOTSTRAP], maxInFlight: mid });
      lo = mid;
    } catch {
      hi = mid - 1;
    }
  }
  return lo;
}
