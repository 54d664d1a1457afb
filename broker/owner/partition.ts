// One partition as its owner sees it: the log it is the single writer of, the high watermark that says
// how much of that log is committed, and the live stream its subscribers receive.
//
// Appended vs committed. `log.nextOffset` is the log end offset: everything appended. `highWatermark`
// is the committed end: records below it are visible to consumers, records at or above it are not.
//   Invariant: log.logStartOffset ≤ highWatermark ≤ log.nextOffset, and highWatermark never decreases.
//   Every offset a consumer is told about or served — ProduceAck/SubscribeOk/Deliver/FetchResult
//   highWatermark, `latest` subscriptions, catch-up reads, Fetch, stats — is bounded by highWatermark.
// On one node a batch is committed as soon as it is appended (acks=leader semantics: the log is the
// only replica), so appendAndPublish calls commitUpTo(log end) right after the append and nothing
// changes for users. With replication, the leader calls commitUpTo() when the in-sync replicas have
// the records (the high watermark is the lowest log end offset across them), and publishes then.
//
// Append, commit and publish happen in the same synchronous step, so a subscriber that joins the live
// stream at `highWatermark` can never miss or repeat a batch.
import type { TemplatedApp } from 'uWebSockets.js';
import { encodeFrameView } from '../../schemas/frames.js';
import { batchLastOffset, batchLength } from '../../schemas/record-batch.js';
import type { AppendResult, PartitionLog } from '../log/partition-log.js';
import type { Subscription } from './subscription.js';

export class Partition {
  /** uWS pub/sub topic of the live stream; carries the topic incarnation so a re-created topic is a new stream. */
  readonly liveKey: string;
  /** Fencing token for replication; one node keeps epoch 0. */
  leaderEpoch = 0;
  /**
   * Committed end offset (exclusive): consumers see records below it only. Everything recovered from
   * disk at open is committed on one node (it was acknowledged or it is the node's only copy).
   */
  private hw: number;
  readonly subscriptions = new Set<Subscription>();
  /** Live subscriptions with a credit window: the only ones publish() must account per subscriber. */
  readonly creditLimited = new Set<Subscription>();

  constructor(
    readonly topic: string,
    readonly topicId: number,
    readonly partition: number,
    readonly log: PartitionLog,
    /** The owner's app; it must have a WebSocket route (numSubscribers() segfaults without one). */
    private readonly app: TemplatedApp,
  ) {
    this.liveKey = `${topicId}/${topic}/${partition}`;
    this.hw = log.nextOffset;
  }

  /** Committed end offset: what every "high watermark" told to a client is. */
  get highWatermark(): number {
    return this.hw;
  }

  /** Appended end offset (may run ahead of the high watermark while replicas catch up). */
  get logEndOffset(): number {
    return this.log.nextOffset;
  }

  /**
   * Marks records below `offset` committed. Never moves backwards and never past the log end (a replica
   * cannot confirm what was not appended). The one way the high watermark moves.
   */
  commitUpTo(offset: number): void {
    const end = this.log.nextOffset;
    const to = offset < end ? offset : end;
    if (to > this.hw) this.hw = to;
  }

  /** Appends one producer batch (stamped in place inside `batch`); it is not committed yet. */
  append(batch: Uint8Array, appendTimeUs: number): AppendResult {
    return this.log.append(batch, 0, batch.length, this.leaderEpoch, appendTimeUs);
  }

  /**
   * One node's live path: append, commit at once, publish to the live stream. The Deliver frame is
   * built once; uWS copies it to every subscriber in C++.
   */
  appendAndPublish(batch: Uint8Array, appendTimeUs: number): AppendResult {
    const res = this.append(batch, appendTimeUs);
    if (res.duplicate) return res;
    this.commitUpTo(this.log.nextOffset);
    if (this.app.numSubscribers(this.liveKey) > 0) {
      const frame = encodeFrameView({
        type: 'Deliver',
        topic: this.topic,
        partition: this.partition,
        highWatermark: this.hw,
        live: true,
        batches: batch,
      });
      this.app.publish(this.liveKey, frame, true, false);
      if (this.creditLimited.size > 0) for (const sub of this.creditLimited) sub.spendLiveCredit(frame.length);
    }
    return res;
  }

  /**
   * Whole committed batches from `offset`, up to about maxBytes (at least one batch): a view, no copy.
   * Empty at or past the high watermark. Throws OFFSET_OUT_OF_RANGE below the log start.
   */
  readCommitted(offset: number, maxBytes: number): Uint8Array {
    if (offset >= this.hw) return new Uint8Array(0);
    const bytes = this.log.read(offset, maxBytes);
    // One node: the high watermark is the log end, so the read cannot pass it.
    if (this.hw === this.log.nextOffset) return bytes;
    // The high watermark falls on a batch boundary (replicas append and confirm whole batches), so
    // cutting at the first batch that ends at or past it drops no committed record.
    let end = 0;
    while (end < bytes.length && batchLastOffset(bytes, end) < this.hw) end += batchLength(bytes, end);
    return end === bytes.length ? bytes : bytes.subarray(0, end);
  }
}
