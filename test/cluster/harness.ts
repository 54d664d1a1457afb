// What the cluster fault tests (and the failover-time script) share: an acks=all producer that keeps a
// few sends in flight and records every acknowledgement in send order, who leads a partition according
// to any broker still answering, a committed read-back of a whole partition, and the bytes of a
// replica's log below an offset, read from its data dir, and the teardown that continues paused brokers.
import fs from 'node:fs';
import path from 'node:path';
import type { Bus, ConsumedRecord } from '../../client/index.js';
import type { PartitionInfoWire } from '../../schemas/frames.js';
import { batchLastOffset, batchLength } from '../../schemas/record-batch.js';
import { partitionDir } from '../../broker/metadata/topic-store.js';
import type { BrokerProcess } from '../helpers/broker.js';
import type { TestCluster } from '../helpers/cluster.js';
import { metadata } from '../helpers/wire-client.js';

const dec = new TextDecoder();

export interface Acked {
  value: string;
  offset: number;
  ackedAt: number;
}

/**
 * Sends one unique value per `send()` to partition 0 with acks 'all', `window` sends in flight, until
 * stopped; every send must resolve (the SDK retries across failovers within deliveryTimeoutMs). `sent`
 * is in call order; `acked` in the order the acks came, which the SDK promises is call order.
 */
export class AcksAllProducer {
  readonly sent: string[] = [];
  readonly acked: Acked[] = [];
  readonly failed: { value: string; error: unknown }[] = [];
  private stopped = false;
  private readonly done: Promise<void>;

  constructor(
    private readonly bus: Bus,
    private readonly topic: string,
    private readonly prefix: string,
    private readonly window = 4,
    /** A pause between sends so a run is thousands of records, not millions. */
    private readonly paceMs = 2,
  ) {
    this.done = this.run();
  }

  private async run(): Promise<void> {
    const inflight = new Set<Promise<void>>();
    for (let i = 0; !this.stopped && i < 1_000_000; i++) {
      const value = `${this.prefix}-${i}`;
      this.sent.push(value);
      const p: Promise<void> = this.bus.send(this.topic, [{ value }], { acks: 'all', partition: 0 }).then(
        (acks) => {
          this.acked.push({ value, offset: acks[0]!.offset, ackedAt: performance.now() });
        },
        (error: unknown) => {
          this.failed.push({ value, error });
        },
      );
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
      if (inflight.size >= this.window) await Promise.race(inflight);
      await new Promise((r) => setTimeout(r, this.paceMs));
    }
    await Promise.all(inflight);
  }

  /** Resolves once `n` more acks than now have come, or rejects after `ms`. */
  async ackedMore(n: number, ms = 20_000): Promise<void> {
    const target = this.acked.length + n;
    const end = Date.now() + ms;
    while (this.acked.length < target) {
      if (Date.now() > end) throw new Error(`only ${this.acked.length}/${target} acks within ${ms} ms; failed: ${this.failed.length}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Stops sending and waits for every send to settle. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

/** Partition 0 of `topic` as the first broker that answers sees it (brokers may be dead or paused). */
export async function partition0(brokers: BrokerProcess[], topic: string, skip: BrokerProcess[] = []): Promise<PartitionInfoWire> {
  let last: unknown;
  for (const b of brokers) {
    if (skip.includes(b)) continue;
    try {
      const md = await Promise.race([
        metadata(b.url, [topic]),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`metadata from ${b.url} timed out`)), 2_000).unref()),
      ]);
      return md.topics[0]!.partitions.find((p) => p.partition === 0)!;
    } catch (err) {
      last = err;
    }
  }
  throw new Error(`no broker answered metadata: ${String(last)}`);
}

/**
 * Every record of partition 0 read with a committed subscription from 'earliest' on a fresh connection,
 * until `count` records came and the subscription reports no lag (it reached the high watermark).
 */
export async function readCommitted(bus: Bus, topic: string, count: number, ms = 20_000): Promise<ConsumedRecord[]> {
  const sub = bus.subscribe(topic, { from: 'earliest', partitions: [0] });
  const out: ConsumedRecord[] = [];
  sub.on('record', (r) => {
    out.push(r);
  });
  const end = Date.now() + ms;
  try {
    while (!(out.length >= count && sub.lag(0) === 0)) {
      if (Date.now() > end) throw new Error(`read ${out.length}/${count} records within ${ms} ms (lag ${sub.lag(0)})`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return out;
  } finally {
    await sub.close();
  }
}

export const valueOf = (r: ConsumedRecord): string => dec.decode(r.value ?? new Uint8Array());

/**
 * The bytes of a replica's partition log below `offset`: its segment files in order, cut at the end of
 * the last batch below `offset` (batches are stored as the leader stamped them, so replicas that agree
 * hold the same bytes). Throws if no batch boundary falls exactly at `offset`.
 */
export function logBytesBelow(dataDir: string, topic: string, partition: number, offset: number): Buffer {
  const dir = partitionDir(dataDir, topic, partition);
  const segments = fs.readdirSync(dir).filter((f) => f.endsWith('.log')).sort();
  const parts: Buffer[] = [];
  let next = 0;
  for (const s of segments) {
    const bytes = fs.readFileSync(path.join(dir, s));
    let at = 0;
    while (at + 12 <= bytes.length && next < offset) {
      const len = batchLength(bytes, at);
      if (len === 0 || at + len > bytes.length) break;
      next = batchLastOffset(bytes, at) + 1;
      at += len;
    }
    parts.push(bytes.subarray(0, at));
    if (next >= offset) break;
  }
  if (next !== offset) throw new Error(`${dir}: no batch boundary at ${offset} (batches reach ${next})`);
  return Buffer.concat(parts);
}

/**
 * A cluster test's teardown: closes its buses, continues every broker (a test that failed mid-pause would
 * leave one stopped, and a stopped process never exits on SIGTERM), then stops the cluster. `cluster` is
 * undefined when beforeAll failed before starting it.
 */
export async function stopCluster(cluster: TestCluster | undefined, buses: Bus[]): Promise<void> {
  await Promise.allSettled(buses.map((b) => b.close()));
  for (const b of cluster?.brokers ?? []) {
    try {
      process.kill(b.pid, 'SIGCONT');
    } catch {
      // not running
    }
  }
  await cluster?.stop();
}
