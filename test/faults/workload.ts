// The clients of a fault run: SDK producers sending unique values and SDK consumers reading every partition
// from the earliest offset, each on its own connection, recording everything they see into the history. The
// producers also keep a per-second timeline (acks, latency) for the report's plot.
import { type AcksMode, type Bus, connect, type Subscription } from '../../client/index.js';
import { asTickbusError } from '../../schemas/errors.js';
import type { HistoryRecorder } from './history.js';

export interface Timeline {
  /** Per second since the run started: acks, failed/unknown sends, latency samples in ms. */
  acks: number[];
  errors: number[];
  latencies: number[][];
}

export function newTimeline(): Timeline {
  return { acks: [], errors: [], latencies: [] };
}

export interface WorkloadOptions {
  topic: string;
  partitions: number;
  producers: number;
  consumers: number;
  acks: AcksMode;
  /** Sends in flight per producer. */
  window: number;
  /** Pause between sends of one producer, so a run is thousands of records per minute, not millions. */
  paceMs: number;
  /** The run's start (performance.now()), for the timeline's seconds. */
  originMs: number;
}

const dec = new TextDecoder();

export async function clientBus(urls: string[], clientId: string): Promise<Bus> {
  // Short request timeouts so a paused or cut leader is given up on quickly; deliveryTimeoutMs covers a fault.
  return connect({ brokers: urls, clientId, requestTimeoutMs: 1_500, deliveryTimeoutMs: 30_000, reconnect: { initialMs: 20, maxMs: 250 } });
}

class Producer {
  private stopped = false;
  private op = 0;
  readonly done: Promise<void>;

  constructor(
    private readonly bus: Bus,
    private readonly name: string,
    private readonly o: WorkloadOptions,
    private readonly h: HistoryRecorder,
    private readonly tl: Timeline,
  ) {
    this.done = this.run();
  }

  stop(): void {
    this.stopped = true;
  }

  private second(): number {
    return Math.max(0, Math.floor((performance.now() - this.o.originMs) / 1000));
  }

  private async run(): Promise<void> {
    const inflight = new Set<Promise<void>>();
    // Bounded: a minute-long soak at the default pace sends a few thousand per producer.
    for (let i = 0; !this.stopped && i < 10_000_000; i++) {
      const op = ++this.op;
      const partition = i % this.o.partitions;
      const value = `${this.name}-${op}`;
      this.h.record({ type: 'send-invoke', producer: this.name, op, topic: this.o.topic, partition, value });
      const started = performance.now();
      const p = this.bus.send(this.o.topic, [{ value }], { acks: this.o.acks, partition }).then(
        (acks) => {
          const a = acks[0]!;
          if (a.offset < 0) this.h.record({ type: 'send-info', producer: this.name, op, reason: 'acknowledged without an offset (DUPLICATE_SEQUENCE)' });
          else this.h.record({ type: 'send-ok', producer: this.name, op, topic: this.o.topic, partition: a.partition, offset: a.offset });
          const s = this.second();
          this.tl.acks[s] = (this.tl.acks[s] ?? 0) + 1;
          (this.tl.latencies[s] ??= []).push(performance.now() - started);
        },
        (err: unknown) => {
          // Any error after the frame may have left is an unknown outcome: the broker may have appended it
          // (a timeout, a lost connection, NOT_ENOUGH_REPLICAS after the leader wrote it). Only an error the
          // client raised before sending is a definite failure.
          const e = asTickbusError(err);
          if (e.codeName === 'BUFFER_FULL') this.h.record({ type: 'send-fail', producer: this.name, op, code: e.codeName });
          else this.h.record({ type: 'send-info', producer: this.name, op, reason: `${e.codeName}: ${e.message}` });
          const s = this.second();
          this.tl.errors[s] = (this.tl.errors[s] ?? 0) + 1;
        },
      );
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
      if (inflight.size >= this.o.window) await Promise.race(inflight);
      await new Promise((r) => setTimeout(r, this.o.paceMs));
    }
    await Promise.all(inflight);
  }
}

class Consumer {
  private readonly sub: Subscription;
  /** Records received in this turn of the event loop, per partition: one poll event each. */
  private pending = new Map<number, [number, string][]>();
  private flushQueued = false;
  /** One past the highest offset read, per partition. */
  readonly next: number[];
  readonly errors: string[] = [];

  constructor(
    bus: Bus,
    private readonly name: string,
    private readonly o: WorkloadOptions,
    private readonly h: HistoryRecorder,
  ) {
    this.next = new Array<number>(o.partitions).fill(0);
    for (let p = 0; p < o.partitions; p++) h.record({ type: 'consumer-seek', consumer: name, topic: o.topic, partition: p, offset: 0, reason: 'subscribed from earliest' });
    this.sub = bus.subscribe(o.topic, { from: 'earliest', isolation: 'committed' });
    this.sub.on('record', (r) => {
      let list = this.pending.get(r.partition);
      if (!list) this.pending.set(r.partition, (list = []));
      list.push([r.offset, dec.decode(r.value ?? new Uint8Array())]);
      if (r.offset + 1 > this.next[r.partition]!) this.next[r.partition] = r.offset + 1;
      if (!this.flushQueued) {
        this.flushQueued = true;
        setImmediate(this.flush);
      }
    });
    // An error ends that partition's reading (the SDK surfaces only final ones): kept for the run's
    // warnings, since the consumer will then not reach the high watermark.
    this.sub.on('error', (err) => {
      this.errors.push(`${name} p${err.partition ?? '?'}: ${err.codeName}: ${err.message}`);
    });
    this.sub.on('truncated', (info) => {
      this.flush();
      h.record({ type: 'consumer-seek', consumer: name, topic: o.topic, partition: info.partition, offset: info.offset, reason: 'truncated' });
    });
  }

  readonly flush = (): void => {
    this.flushQueued = false;
    for (const [partition, records] of this.pending) this.h.record({ type: 'poll', consumer: this.name, topic: this.o.topic, partition, records });
    this.pending = new Map();
  };

  async close(): Promise<void> {
    await this.sub.close();
    this.flush();
  }
}

export class Workload {
  private readonly producers: Producer[] = [];
  private readonly consumers: Consumer[] = [];
  private readonly buses: Bus[] = [];

  private constructor(readonly o: WorkloadOptions) {}

  static async start(urls: string[], o: WorkloadOptions, h: HistoryRecorder, tl: Timeline): Promise<Workload> {
    const w = new Workload(o);
    try {
      for (let i = 0; i < o.consumers; i++) {
        const bus = await clientBus(urls, `faults-c${i}`);
        w.buses.push(bus);
        w.consumers.push(new Consumer(bus, `c${i}`, o, h));
      }
      for (let i = 0; i < o.producers; i++) {
        const bus = await clientBus(urls, `faults-p${i}`);
        w.buses.push(bus);
        w.producers.push(new Producer(bus, `p${i}`, o, h, tl));
      }
    } catch (err) {
      await w.close();
      throw err;
    }
    return w;
  }

  /** Stops sending and waits (bounded by the SDK's delivery timeout) for every send to settle. */
  async stopProducers(): Promise<void> {
    for (const p of this.producers) p.stop();
    await Promise.all(this.producers.map((p) => p.done));
  }

  /** Errors the consumers' subscriptions reported (each ended a partition's reading). */
  consumerErrors(): string[] {
    return this.consumers.flatMap((c) => c.errors);
  }

  /** Whether every consumer has read every partition p up to `hw[p]`. */
  readUpTo(hw: readonly number[]): boolean {
    return this.consumers.every((c) => hw.every((x, p) => c.next[p]! >= x));
  }

  async close(): Promise<void> {
    for (const p of this.producers) p.stop();
    await Promise.allSettled(this.consumers.map((c) => c.close()));
    await Promise.allSettled(this.buses.map((b) => b.close()));
  }
}
