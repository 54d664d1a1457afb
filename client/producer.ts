// The producer: send() → per-partition batches → Produce requests → acks in input order.
//
// Batching: records passed to send() in one event-loop turn (lingerMs 0) or one linger window share
// a batch per partition, cut at maxBatchBytes.
//
// Idempotence: every batch carries (producerId, baseSequence); sequences are per partition,
// monotonic and contiguous, assigned when a batch is first sent. A batch is encoded once and a retry
// resends the same bytes, so a batch that was appended but whose ack was lost is recognised by the
// broker (ProduceAck.duplicate) and not written twice. The batches of one partition are sent, and
// resent, in sequence order on one connection. The broker remembers the last IDEMPOTENCE_WINDOW
// batches per producer and partition (schemas/limits.ts), so a partition never has more than
// maxInFlight (<= that window) batches sent from its oldest unanswered one on: every batch that can be
// retried is still remembered.
//
// After a failure the partition's pipeline stops sending, waits until every in-flight request of it
// has an answer, then decides from the first failed batch (lowest sequence):
//   DUPLICATE_SEQUENCE → the broker wrote that batch but no longer knows its offset: it is done
//     (acks with offset -1), never failed, never sent again; it decides nothing for the others;
//   retryable (connection closed, not owner, not leader, fenced or unknown leader epoch, no leader
//     during a failover, timeout...) → refresh metadata, reconnect (to the new leader) after
//     backoff, resend every unacknowledged batch as it was, in order. The new leader replicated the
//     producer state with the log, so a batch the old leader appended is recognised, not written twice;
//     one it lost in the failover (never acknowledged with acks 'all') is appended;
//   not retryable → that batch was not written, so neither was any later one (the broker refuses a
//     gap in sequences): it fails alone, and the later batches are encoded again in a new producer
//     session (fresh producerId, sequence 0);
//   deliveryTimeoutMs passed → every batch sent but not acknowledged fails with TIMEOUT (it may or
//     may not have been written: the broker could not be asked), unsent ones go on in a new session.
import type { AcksMode, Frame } from '../schemas/frames.js';
import { BATCH_HEADER_SIZE } from '../schemas/record-batch.js';
import { Backoff } from './backoff.js';
import {
  BatchAccumulator,
  type BytesRecord,
  type CutBatch,
  encodeCut,
  encodedRecordSize,
  toBytes,
  utf8Length,
} from './batch-accumulator.js';
import type { Connection } from './connection.js';
import { ErrorCode, TickbusError } from './errors.js';
import { leaderEndpoint, type MetadataCache, retriedAfterRefresh, type TopicMeta } from './metadata.js';
import type { ResolvedOptions } from './options.js';
import type { OwnerLinks } from './owner-links.js';
import { Partitioner } from './partitioner.js';

export interface SendRecord {
  key?: string | Uint8Array | null;
  value: string | Uint8Array | null;
  headers?: Record<string, string | Uint8Array>;
  /** Create time, ms since the epoch. Default: now. */
  timestamp?: number;
}

export interface SendOptions {
  /**
   * 'leader' (default): acked once appended on the leader (lost if the leader fails before a follower has it);
   * 'all': once every in-sync replica has it (one node: like 'durable'); 'durable': once fsynced;
   * 'none': no ack (offsets are -1).
   */
  acks?: AcksMode;
  /** Send every record to this partition instead of using the key. */
  partition?: number;
}

export interface RecordAck {
  partition: number;
  /**
   * The record's offset; -1 with acks 'none', or when the broker said the batch was already written but
   * no longer knew where (DUPLICATE_SEQUENCE): written once, offset unknown.
   */
  offset: number;
}

/** One send() call: its records' acks, filled in as their batches are acknowledged. */
class SendRequest {
  readonly acks: RecordAck[];
  private remaining: number;
  private settled = false;

  constructor(
    n: number,
    private readonly resolve: (acks: RecordAck[]) => void,
    private readonly reject: (err: unknown) => void,
  ) {
    this.acks = new Array<RecordAck>(n);
    this.remaining = n;
  }

  ack(index: number, partition: number, offset: number): void {
    if (this.settled) return;
    this.acks[index] = { partition, offset };
    if (--this.remaining === 0) {
      this.settled = true;
      this.resolve(this.acks);
    }
  }

  fail(err: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.reject(err);
  }
}

interface WaitingSend {
  prepared: { recs: BytesRecord[]; sizes: number[]; total: number };
  req: SendRequest;
  acks: AcksMode;
  partition: number | undefined;
}

interface Slot {
  req: SendRequest;
  index: number;
}

interface Batch {
  cut: CutBatch<Slot>;
  acks: AcksMode;
  createdAt: number;
  /** Encoded on first send; a retry resends exactly these bytes. */
  bytes: Uint8Array | null;
  baseSequence: number;
  /** Set when a request of this batch failed; cleared when it is resent. */
  error: TickbusError | null;
  /** Acknowledged or failed: its senders have their answer. */
  done: boolean;
}

const RESOLVED = Promise.resolve();

/** Random non-zero 48-bit integer (fits the batch header's u64 and a JS number exactly). */
export function randomProducerId(random: () => number = Math.random): number {
  let id = 0;
  while (id === 0) id = Math.floor(random() * 0x1_0000_0000_0000);
  return id;
}

/** Sequence numbers of one producer session on one partition. */
export class SequenceCounter {
  private next = 0;
  /** Hands out `count` sequence numbers; returns the first. u32 on the wire: wraps at 2^32. */
  take(count: number): number {
    const base = this.next;
    this.next = (this.next + count) % 0x1_0000_0000;
    return base;
  }
  get peek(): number {
    return this.next;
  }
}

class PartitionPipeline {
  readonly acc: BatchAccumulator<Slot>;
  producerId: number;
  readonly producerEpoch = 0;
  seq = new SequenceCounter();
  /** Cut, not yet sent (or to be resent after a failure), in send order. */
  queue: Batch[] = [];
  /** Sent and not yet answered, in sequence order. */
  inFlight: Batch[] = [];
  /** Sent, failed, waiting for the others to settle before the retry decision. */
  failed: Batch[] = [];
  /**
   * Batches of this session from the oldest not yet done to the newest sent, in sequence order
   * (acks 'none' ones included: they take a place in the broker's window too). The broker must still
   * remember every one of them when it is retried, so this never grows past maxInFlight.
   */
  window: Batch[] = [];
  conn: Connection | null = null;
  /** Leader epoch the metadata named when `conn` was chosen: sent in every Produce, so a deposed leader refuses it. */
  leaderEpoch = -1;
  /** Set while connecting, waiting for in-flight requests to settle, or backing off. */
  blocked = false;
  retryTimer: ReturnType<typeof setTimeout> | null = null;
  /** Set while the connection is throttled (ProduceAck.throttleMs): pump() runs again when it fires. */
  throttleTimer: ReturnType<typeof setTimeout> | null = null;
  /** Identifies the current connect attempt; answers of older ones are ignored. */
  connectAttempt = 0;
  readonly backoff: Backoff;
  /** Acks mode of the open batch (a batch has one mode; a different mode cuts it). */
  openAcks: AcksMode = 'leader';

  constructor(
    readonly topic: string,
    readonly partition: number,
    opts: ResolvedOptions,
    producerId: number,
  ) {
    this.acc = new BatchAccumulator<Slot>(opts.maxBatchBytes);
    this.producerId = producerId;
    this.backoff = new Backoff(opts.reconnect);
  }

  get idle(): boolean {
    return this.acc.openCount === 0 && this.queue.length === 0 && this.inFlight.length === 0 && this.failed.length === 0;
  }
}

export interface ProducerStats {
  batchesSent: number;
  recordsSent: number;
  retries: number;
  /** Retried batches the broker recognised as already written (not written again). */
  duplicates: number;
  /** Of those, batches whose offset the broker no longer knew (DUPLICATE_SEQUENCE): acked with offset -1. */
  offsetsUnknown: number;
  sessionResets: number;
}

export class Producer {
  /**
   * Pipelines by topic, then partition: no key string built and hashed per record (the send path runs
   * cold, one send every few ms, where every allocation and hash shows).
   */
  private readonly pipelines = new Map<string, PartitionPipeline[]>();
  private readonly partitioner = new Partitioner();
  private bufferedBytes = 0;
  private flushScheduled = false;
  private lingerTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly dirty = new Set<PartitionPipeline>();
  /**
   * Owner connections the broker asked to slow down (ProduceAck.throttleMs, its produce quota): no
   * produce goes to them before this time (ms, Date.now()). Honouring it keeps the principal out of debt
   * deep enough for the broker to refuse requests.
   */
  private readonly throttledUntil = new WeakMap<Connection, number>();
  private everThrottled = false;
  private idleWaiters: (() => void)[] = [];
  /** send() calls waiting for their topic's metadata before their records reach a pipeline, per topic, in call order. */
  private readonly waitingForMetadata = new Map<string, WaitingSend[]>();
  private closed = false;
  readonly producerId: number;
  readonly stats: ProducerStats = { batchesSent: 0, recordsSent: 0, retries: 0, duplicates: 0, offsetsUnknown: 0, sessionResets: 0 };

  constructor(
    private readonly opts: ResolvedOptions,
    private readonly metadata: MetadataCache,
    private readonly links: OwnerLinks,
    private readonly random: () => number = Math.random,
  ) {
    this.producerId = randomProducerId(random);
  }

  /** Bytes accepted by send() and not yet acknowledged or failed. */
  get buffered(): number {
    return this.bufferedBytes;
  }

  send(topic: string, records: readonly SendRecord[], opts: SendOptions = {}): Promise<RecordAck[]> {
    if (this.closed) return Promise.reject(new TickbusError(ErrorCode.CONNECTION_CLOSED, 'send() after close()', { retryable: false }));
    let prepared: { recs: BytesRecord[]; sizes: number[]; total: number };
    let acks: AcksMode;
    try {
      // Checked as unknown: JavaScript callers get these messages, whatever the types promise.
      const name: unknown = topic;
      if (typeof name !== 'string' || name.length === 0) throw new TypeError(`send() needs a topic name, got ${String(name)}`);
      if (!Array.isArray(records)) throw new TypeError('send() takes an array of records: send(topic, [{ key, value }])');
      const acksOpt: unknown = opts.acks ?? 'leader';
      if (acksOpt !== 'none' && acksOpt !== 'leader' && acksOpt !== 'all' && acksOpt !== 'durable') {
        throw new TypeError(`acks must be 'none', 'leader', 'all' or 'durable', got '${String(acksOpt)}'`);
      }
      acks = acksOpt;
      if (opts.partition !== undefined && (!Number.isInteger(opts.partition) || opts.partition < 0)) {
        throw new RangeError(`partition must be a non-negative integer, got ${String(opts.partition)}`);
      }
      prepared = this.prepare(records);
    } catch (err) {
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- only the TypeError/RangeError/TickbusError checks above throw here
      return Promise.reject(err);
    }
    if (records.length === 0) return Promise.resolve([]);
    if (this.bufferedBytes + prepared.total > this.opts.bufferMemoryBytes) {
      return Promise.reject(
        new TickbusError(
          ErrorCode.BUFFER_FULL,
          `send buffer is full: ${this.bufferedBytes} bytes wait for acks and ${prepared.total} more would pass bufferMemoryBytes ` +
            `(${this.opts.bufferMemoryBytes}); wait for earlier sends or raise the limit`,
          { topic },
        ),
      );
    }
    // Reserved now, so concurrent sends waiting for metadata cannot overshoot the limit together.
    this.bufferedBytes += prepared.total;
    return new Promise<RecordAck[]>((resolve, reject) => {
      const req = new SendRequest(records.length, resolve, reject);
      const meta = this.metadata.peek(topic);
      const waiting = this.waitingForMetadata.get(topic);
      if (meta && !waiting) this.enqueue(topic, meta.partitions.length, prepared, req, acks, opts.partition);
      else this.awaitMetadata(topic, () => ({ prepared, req, acks, partition: opts.partition }));
    });
  }

  /**
   * Sends to a topic without metadata wait in one queue per topic, in call order, behind one
   * metadata fetch: a later send must never overtake an earlier one to the same partition.
   */
  private awaitMetadata(topic: string, make: () => WaitingSend): void {
    let waiting = this.waitingForMetadata.get(topic);
    if (waiting) {
      waiting.push(make());
      return;
    }
    waiting = [make()];
    this.waitingForMetadata.set(topic, waiting);
    this.metadataWithRetry(topic).then(
      (m) => {
        this.waitingForMetadata.delete(topic);
        for (const w of waiting) this.enqueue(topic, m.partitions.length, w.prepared, w.req, w.acks, w.partition);
      },
      (err: unknown) => {
        this.waitingForMetadata.delete(topic);
        for (const w of waiting) {
          this.release(w.prepared.total);
          w.req.fail(err);
        }
        this.checkIdle();
      },
    );
  }

  /** Metadata for a first send to a topic, retried through reconnects within deliveryTimeoutMs. */
  private async metadataWithRetry(topic: string): Promise<TopicMeta> {
    const until = Date.now() + this.opts.deliveryTimeoutMs;
    const backoff = new Backoff(this.opts.reconnect);
    for (;;) {
      try {
        return await this.metadata.get(topic);
      } catch (err) {
        const wait = backoff.next();
        if (!(err instanceof TickbusError) || !err.retryable || this.closedHard || Date.now() + wait >= until) throw err;
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  /** Validates and encodes keys/values/headers once; sizes are exact encoded sizes. */
  private prepare(records: readonly SendRecord[]): { recs: BytesRecord[]; sizes: number[]; total: number } {
    const now = Date.now();
    const recs: BytesRecord[] = new Array<BytesRecord>(records.length);
    const sizes: number[] = new Array<number>(records.length);
    let total = 0;
    const maxRecord = this.opts.maxBatchBytes - BATCH_HEADER_SIZE;
    for (let i = 0; i < records.length; i++) {
      // Typed wider than SendRecord: JavaScript callers can pass null, and get this message for it.
      const r = records[i] as SendRecord | null | undefined;
      if (typeof r !== 'object' || r === null) throw new TypeError(`record ${i} must be an object { key?, value, headers? }`);
      const v = r.value;
      if (v !== null && typeof v !== 'string' && !(v instanceof Uint8Array)) {
        throw new TypeError(`record ${i}: value must be a string, a Uint8Array or null`);
      }
      const k = r.key;
      if (k !== undefined && k !== null && typeof k !== 'string' && !(k instanceof Uint8Array)) {
        throw new TypeError(`record ${i}: key must be a string, a Uint8Array, null or absent`);
      }
      const ts = r.timestamp ?? now;
      if (!Number.isSafeInteger(ts) || ts < 0) throw new RangeError(`record ${i}: timestamp must be ms since the epoch, got ${String(ts)}`);
      const out: BytesRecord = {
        key: k === undefined || k === null ? null : toBytes(k),
        value: v === null ? null : toBytes(v),
        timestamp: ts,
      };
      const headers = r.headers as SendRecord['headers'] | null;
      if (headers !== undefined) {
        if (typeof headers !== 'object' || headers === null) throw new TypeError(`record ${i}: headers must be an object of string or Uint8Array values`);
        const hs: Record<string, Uint8Array> = {};
        let n = 0;
        for (const name of Object.keys(headers)) {
          const hv = headers[name];
          if (typeof hv !== 'string' && !(hv instanceof Uint8Array)) throw new TypeError(`record ${i}: header '${name}' must be a string or a Uint8Array`);
          hs[name] = toBytes(hv);
          n++;
        }
        if (n > 0xffff) throw new RangeError(`record ${i}: at most 65535 headers`);
        // encodeCut writes a name's length as a u16: refused here rather than encoded wrong at flush time.
        for (const name in hs) if (utf8Length(name) > 0xffff) throw new RangeError(`record ${i}: header name '${name.slice(0, 20)}...' is longer than 65535 bytes of UTF-8`);
        out.headers = hs;
      }
      const size = encodedRecordSize(out);
      if (size > maxRecord) {
        throw new TickbusError(
          ErrorCode.INVALID_REQUEST,
          `record ${i} takes ${size} bytes encoded; a batch holds at most ${maxRecord} (maxBatchBytes ${this.opts.maxBatchBytes} minus the header)`,
        );
      }
      recs[i] = out;
      sizes[i] = size;
      total += size;
    }
    return { recs, sizes, total };
  }

  private enqueue(
    topic: string,
    partitionCount: number,
    p: { recs: BytesRecord[]; sizes: number[]; total: number },
    req: SendRequest,
    acks: AcksMode,
    partition: number | undefined,
  ): void {
    if (partition !== undefined && partition >= partitionCount) {
      this.release(p.total);
      req.fail(
        new TickbusError(
          ErrorCode.UNKNOWN_PARTITION,
          `topic '${topic}' has ${partitionCount} partition${partitionCount === 1 ? '' : 's'}; partition ${partition} does not exist`,
          { topic, partition },
        ),
      );
      return;
    }
    for (let i = 0; i < p.recs.length; i++) {
      const rec = p.recs[i]!;
      const part = partition ?? this.partitioner.partition(topic, rec.key, partitionCount);
      const pl = this.pipeline(topic, part);
      if (pl.acc.openCount > 0 && pl.openAcks !== acks) this.cutOpen(pl);
      pl.openAcks = acks;
      const full = pl.acc.add(rec, p.sizes[i]!, { req, index: i });
      if (full) this.queueBatch(pl, full);
      this.dirty.add(pl);
    }
    this.scheduleFlush();
  }

  private pipeline(topic: string, partition: number): PartitionPipeline {
    let byPartition = this.pipelines.get(topic);
    if (!byPartition) {
      byPartition = [];
      this.pipelines.set(topic, byPartition);
    }
    let pl = byPartition[partition];
    if (!pl) {
      pl = new PartitionPipeline(topic, partition, this.opts, this.producerId);
      byPartition[partition] = pl;
    }
    return pl;
  }

  private scheduleFlush(): void {
    // While someone waits in flush() (or close()), nothing lingers.
    if (this.opts.lingerMs === 0 || this.idleWaiters.length > 0) {
      if (this.flushScheduled) return;
      this.flushScheduled = true;
      // End of the current turn: every send() of this synchronous run shares the batch. A resolved
      // promise's then, not queueMicrotask: Node wraps each queueMicrotask callback in an AsyncResource
      // (async ids, a bound function), and this runs once per send on the cold path.
      void RESOLVED.then(this.flushDirty);
    } else {
      this.lingerTimer ??= setTimeout(this.flushDirty, this.opts.lingerMs);
    }
  }

  private readonly flushDirty = (): void => {
    this.flushScheduled = false;
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = null;
    for (const pl of this.dirty) {
      this.cutOpen(pl);
      this.pump(pl);
    }
    this.dirty.clear();
  };

  private cutOpen(pl: PartitionPipeline): void {
    const cut = pl.acc.cut();
    if (cut) this.queueBatch(pl, cut);
  }

  private queueBatch(pl: PartitionPipeline, cut: CutBatch<Slot>): void {
    pl.queue.push({ cut, acks: pl.openAcks, createdAt: Date.now(), bytes: null, baseSequence: -1, error: null, done: false });
  }

  /** Sends what the partition may send now. */
  private pump(pl: PartitionPipeline): void {
    if (pl.blocked || pl.queue.length === 0) return;
    const conn = pl.conn && !pl.conn.closed ? pl.conn : null;
    if (!conn) {
      this.connect(pl, false);
      return;
    }
    // The WeakMap is only asked once a broker has throttled this client: the common path skips the lookup.
    const wait = this.everThrottled ? (this.throttledUntil.get(conn) ?? 0) - Date.now() : 0;
    if (wait > 0) {
      pl.throttleTimer ??= setTimeout(() => {
        pl.throttleTimer = null;
        this.pump(pl);
      }, wait);
      return;
    }
    while (pl.queue.length > 0 && pl.inFlight.length < this.opts.maxInFlight) {
      // A retry is in the window already; a first send must keep the window within maxInFlight.
      if (pl.queue[0]!.bytes === null && this.windowFull(pl)) break;
      const b = pl.queue.shift()!;
      this.sendBatch(pl, conn, b);
    }
  }

  private windowFull(pl: PartitionPipeline): boolean {
    const w = pl.window;
    let done = 0;
    while (done < w.length && w[done]!.done) done++;
    if (done > 0) w.splice(0, done);
    return w.length >= this.opts.maxInFlight;
  }

  private sendBatch(pl: PartitionPipeline, conn: Connection, b: Batch): void {
    if (b.bytes === null) {
      b.baseSequence = pl.seq.take(b.cut.records.length);
      b.bytes = encodeCut(b.cut.records, b.cut.bytes, {
        producerId: pl.producerId,
        producerEpoch: pl.producerEpoch,
        baseSequence: b.baseSequence,
      });
      pl.window.push(b);
    } else this.stats.retries++;
    b.error = null;
    this.stats.batchesSent++;
    this.stats.recordsSent += b.cut.records.length;
    const frame: Frame = { type: 'Produce', requestId: 0, topic: pl.topic, partition: pl.partition, acks: b.acks, batch: b.bytes, leaderEpoch: pl.leaderEpoch };
    if (b.acks === 'none') {
      // No answer will come: the batch is done once handed to the socket.
      conn.post(frame);
      this.complete(pl, b, -1);
      return;
    }
    pl.inFlight.push(b);
    conn.request(frame, (err, ack) => this.onAnswer(pl, conn, b, err, ack));
  }

  private onAnswer(pl: PartitionPipeline, conn: Connection, b: Batch, err: TickbusError | null, ack: Frame | null): void {
    const i = pl.inFlight.indexOf(b);
    if (i >= 0) pl.inFlight.splice(i, 1);
    if (b.done) return; // abort() answered it already
    if (!err && ack?.type === 'ProduceAck') {
      if (ack.duplicate) this.stats.duplicates++;
      if (ack.throttleMs !== undefined && ack.throttleMs > 0) {
        const until = Date.now() + ack.throttleMs;
        if (until > (this.throttledUntil.get(conn) ?? 0)) this.throttledUntil.set(conn, until);
        this.everThrottled = true;
      }
      this.complete(pl, b, ack.baseOffset);
    } else {
      b.error = err ?? new TickbusError(ErrorCode.MALFORMED_FRAME, `Produce was answered with ${ack?.type ?? 'nothing'}`);
      pl.failed.push(b);
      if (!pl.blocked) {
        pl.blocked = true;
        // An unanswered request leaves the broker's state unknown for everything sent after it on
        // this socket: close it, so all of them fail now and are resent in order.
        if (b.error.code === ErrorCode.TIMEOUT) conn.close('produce request timed out');
      }
    }
    if (pl.blocked) {
      if (pl.inFlight.length === 0 && !pl.retryTimer) this.settle(pl);
    } else this.pump(pl);
    this.checkIdle();
  }

  /** Every in-flight request of the partition has its answer: decide what the failures mean. */
  private settle(pl: PartitionPipeline): void {
    // DUPLICATE_SEQUENCE: the broker wrote the batch before and no longer knows its offset (it was
    // older than the broker's window). Written is written: the batch is done, and it says nothing
    // about the batches after it, which keep their session and sequences.
    let written = 0;
    const failed = pl.failed.filter((b) => {
      if (b.error?.code !== ErrorCode.DUPLICATE_SEQUENCE) return true;
      this.stats.duplicates++;
      this.stats.offsetsUnknown++;
      this.complete(pl, b, -1);
      written++;
      return false;
    });
    failed.sort((a, b) => seqOrder(a.baseSequence, b.baseSequence, pl.seq.peek));
    pl.failed = [];
    const first = failed[0];
    if (!first) {
      if (written > 0 && pl.conn && !pl.conn.closed) {
        // Nothing else failed and the connection is fine: go on at once.
        pl.blocked = false;
        this.pump(pl);
      } else this.retryLater(pl);
      return;
    }
    const err = first.error!;
    const expired = Date.now() - first.createdAt >= this.opts.deliveryTimeoutMs;
    // UNKNOWN_TOPIC included (retriedAfterRefresh): nothing was written, and the retry asks metadata first.
    const retryable = retriedAfterRefresh(err);
    if (retryable && !expired) {
      // Resend all of them as they were, before anything not yet sent.
      pl.queue.unshift(...failed);
      this.retryLater(pl);
      return;
    }
    if (!retryable) {
      // Refused: not written, and so no later batch of this session either. Those go again, re-encoded.
      this.fail(first, withPartition(err, pl));
      this.newSession(pl, failed.slice(1));
    } else {
      const timeout = new TickbusError(
        ErrorCode.TIMEOUT,
        `no acknowledgement for ${pl.topic}/${pl.partition} within deliveryTimeoutMs (${this.opts.deliveryTimeoutMs} ms); ` +
          `last error: ${err.message}. The records may or may not have been written`,
        { topic: pl.topic, partition: pl.partition, cause: err, retryable: false },
      );
      for (const b of failed) this.fail(b, timeout);
      this.newSession(pl, []);
    }
    pl.blocked = false;
    pl.backoff.reset();
    this.pump(pl);
  }

  /** A fresh producer id for the partition: sequences restart at 0; `requeue` are encoded again. */
  private newSession(pl: PartitionPipeline, requeue: Batch[]): void {
    this.stats.sessionResets++;
    pl.producerId = randomProducerId(this.random);
    pl.seq = new SequenceCounter();
    pl.window = [];
    for (const b of requeue) {
      b.bytes = null;
      b.baseSequence = -1;
    }
    pl.queue.unshift(...requeue);
  }

  private retryLater(pl: PartitionPipeline): void {
    if (this.closedHard) return;
    const delay = pl.backoff.next();
    pl.retryTimer = setTimeout(() => {
      pl.retryTimer = null;
      this.expire(pl);
      this.connect(pl, true);
    }, delay);
  }

  /**
   * Enforces deliveryTimeoutMs on batches waiting to be (re)sent. A batch sent before has an unknown
   * fate: it and every other sent one fail with TIMEOUT, and the unsent ones continue in a new
   * session (their sequences must not depend on batches the broker may never have seen).
   * A batch never sent was never written: it fails alone.
   */
  private expire(pl: PartitionPipeline): void {
    const now = Date.now();
    const head = pl.queue[0];
    if (head && head.bytes !== null && now - head.createdAt >= this.opts.deliveryTimeoutMs) {
      const err = new TickbusError(
        ErrorCode.TIMEOUT,
        `no acknowledgement for ${pl.topic}/${pl.partition} within deliveryTimeoutMs (${this.opts.deliveryTimeoutMs} ms); the records may or may not have been written`,
        { topic: pl.topic, partition: pl.partition, retryable: false },
      );
      const sent = pl.queue.filter((b) => b.bytes !== null);
      pl.queue = pl.queue.filter((b) => b.bytes === null);
      for (const b of sent) this.fail(b, err);
      this.newSession(pl, []);
    }
    while (pl.queue.length > 0) {
      const b = pl.queue[0]!;
      if (b.bytes !== null || now - b.createdAt < this.opts.deliveryTimeoutMs) break;
      pl.queue.shift();
      this.fail(
        b,
        new TickbusError(ErrorCode.TIMEOUT, `could not send to ${pl.topic}/${pl.partition} within deliveryTimeoutMs (${this.opts.deliveryTimeoutMs} ms); nothing was written`, {
          topic: pl.topic,
          partition: pl.partition,
          retryable: false,
        }),
      );
    }
    this.checkIdle();
  }

  /**
   * Finds the partition's owner (fresh metadata after a failure) and opens the connection. The
   * attempt is cut short when the oldest waiting batch reaches its delivery timeout.
   */
  private connect(pl: PartitionPipeline, refresh: boolean): void {
    pl.blocked = true;
    pl.conn = null;
    if (pl.queue.length === 0) {
      pl.blocked = false;
      this.checkIdle();
      return;
    }
    const attempt = ++pl.connectAttempt;
    const oldest = Math.min(...pl.queue.map((b) => b.createdAt));
    const budget = Math.max(1, oldest + this.opts.deliveryTimeoutMs - Date.now());
    let timer: ReturnType<typeof setTimeout> | null = null;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TickbusError(ErrorCode.TIMEOUT, `no owner of ${pl.topic}/${pl.partition} reachable in time`)), budget);
    });
    const metaP = refresh ? this.metadata.refresh(pl.topic) : this.metadata.get(pl.topic);
    const connP = metaP.then((meta) => {
      const pm = meta.partitions[pl.partition];
      if (!pm) {
        throw new TickbusError(ErrorCode.UNKNOWN_PARTITION, `topic '${pl.topic}' now has ${meta.partitions.length} partitions; partition ${pl.partition} does not exist`, {
          topic: pl.topic,
          partition: pl.partition,
        });
      }
      return this.links.get(leaderEndpoint(pl.topic, pm)).then((conn) => ({ conn, epoch: pm.leaderEpoch }));
    });
    connP.catch(() => undefined); // a late failure after the deadline is nobody's business
    Promise.race([connP, deadline])
      .finally(() => {
        if (timer) clearTimeout(timer);
      })
      .then(
        ({ conn, epoch }) => {
          if (attempt !== pl.connectAttempt) return;
          pl.conn = conn;
          pl.leaderEpoch = epoch;
          pl.blocked = false;
          pl.backoff.reset();
          this.pump(pl);
        },
        (err: unknown) => {
          if (attempt !== pl.connectAttempt) return;
          const e = err instanceof TickbusError ? err : new TickbusError(ErrorCode.INTERNAL, String(err), { cause: err });
          if (!e.retryable || this.closedHard) {
            // The topic is gone or the client closed: nothing queued can ever be sent.
            for (const b of pl.queue.splice(0)) this.fail(b, withPartition(e, pl));
            pl.blocked = false;
            this.checkIdle();
            return;
          }
          this.retryLater(pl);
        },
      );
  }

  private complete(pl: PartitionPipeline, b: Batch, baseOffset: number): void {
    if (b.done) return;
    b.done = true;
    const slots = b.cut.slots;
    for (let j = 0; j < slots.length; j++) {
      const s = slots[j]!;
      s.req.ack(s.index, pl.partition, baseOffset < 0 ? -1 : baseOffset + j);
    }
    this.release(b.cut.bytes - BATCH_HEADER_SIZE);
  }

  private fail(b: Batch, err: TickbusError): void {
    if (b.done) return;
    b.done = true;
    for (const s of b.cut.slots) s.req.fail(err);
    this.release(b.cut.bytes - BATCH_HEADER_SIZE);
  }

  private release(bytes: number): void {
    this.bufferedBytes -= bytes;
  }

  private checkIdle(): void {
    if (this.idleWaiters.length === 0 || this.waitingForMetadata.size > 0) return;
    // for-of visits a sparse array's holes (partitions never sent to) as undefined.
    for (const byPartition of this.pipelines.values()) for (const pl of byPartition as (PartitionPipeline | undefined)[]) if (pl && !pl.idle) return;
    const ws = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of ws) w();
  }

  /** Sends everything open now and resolves when every batch is acknowledged or failed. */
  flush(): Promise<void> {
    this.flushDirty();
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      this.checkIdle();
    });
  }

  private closedHard = false;

  /** Flushes, then refuses further sends. Batches still failing after deliveryTimeoutMs reject. */
  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
  }

  /** Stops at once: everything pending fails with CONNECTION_CLOSED. */
  abort(): void {
    this.closed = true;
    this.closedHard = true;
    const err = new TickbusError(ErrorCode.CONNECTION_CLOSED, 'the client was closed before the records were acknowledged', { retryable: false });
    // flat() skips the holes (partitions never sent to).
    for (const pl of [...this.pipelines.values()].flat()) {
      if (pl.retryTimer) clearTimeout(pl.retryTimer);
      pl.retryTimer = null;
      if (pl.throttleTimer) clearTimeout(pl.throttleTimer);
      pl.throttleTimer = null;
      const open = pl.acc.cut();
      if (open) {
        for (const s of open.slots) s.req.fail(err);
        this.release(open.bytes - BATCH_HEADER_SIZE);
      }
      for (const b of [...pl.queue, ...pl.inFlight, ...pl.failed]) this.fail(b, err);
      pl.queue = [];
      pl.inFlight = [];
      pl.failed = [];
      pl.window = [];
    }
    this.checkIdle();
  }
}

/** Orders sequences of one session, wrap-around aware (u32), relative to the next sequence to hand out. */
function seqOrder(a: number, b: number, next: number): number {
  const M = 0x1_0000_0000;
  return ((a - next + M) % M) - ((b - next + M) % M);
}

function withPartition(err: TickbusError, pl: PartitionPipeline): TickbusError {
  if (err.topic !== undefined && err.partition !== undefined) return err;
  return new TickbusError(err.code, err.message, { topic: pl.topic, partition: pl.partition, retryable: err.retryable, cause: err.cause });
}
