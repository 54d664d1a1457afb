// A subscriber's place in one partition, on its owner. Two modes:
//   catch-up: the owner reads whole batches from the log at `nextOffset` and sends them while the
//             socket has room (and credit) left;
//   live:     the subscription is one of the partition's live listeners and is sent the one shared frame.
// The switch catch-up → live happens when nextOffset reaches the high watermark (the committed head:
// subscribers never see uncommitted records, see partition.ts), in the same synchronous
// step that makes it a live listener, so no append can fall between them: no gap, no duplicate.
// A live subscriber that falls behind (socket buffer past a threshold) or runs out of credit goes
// back to catch-up at the high watermark it has been sent up to.
import { asTickbusError, ErrorCode, TickbusError } from '../../schemas/errors.js';
import { encodeFrameView, errorFrame } from '../../schemas/frames.js';
import { batchLastOffset, batchLength } from '../../schemas/record-batch.js';
import { monotonicMs } from '../clock.js';
import type { Session } from '../edge/session.js';
import type { PrincipalQuotas, TokenBucket } from '../limits/quotas.js';
import { Counter, type OwnerCounters } from './counters.js';
import type { LearnerThrottle } from './learner-throttle.js';
import type { LiveListener, Partition } from './partition.js';

/** An owner connection: the edge's session plus what the owner keeps per socket. */
export interface ConnState extends Session {
  /** Subscriptions of this connection by partition key (`topicId/partition`). */
  subs: Map<string, Subscription>;
  /** When the socket's send buffer was first seen blocked (monotonic ms; 0 = not blocked). */
  stalledSince: number;
  /** Last time the socket drained some of its send buffer (monotonic ms): the consumer is reading. */
  lastDrain: number;
}

export interface CatchUpLimits {
  chunkBytes: number;
  /** Stop sending catch-up frames while the socket buffers this much. */
  highWaterBytes: number;
  /** Consumer subscriptions one connection may hold (followers' replica fetches are not counted). */
  maxSubscriptionsPerConnection?: number;
}

export type StepResult = 'more' | 'blocked' | 'done';

/** uWS ws.send's answer when the socket already holds maxBackpressure bytes: the frame was not queued (1: sent, 0: queued). */
const DROPPED = 2;

export class Subscription implements LiveListener {
  mode: 'catchup' | 'live' = 'catchup';
  closed = false;
  /** Names the stream this subscription joins when it reaches its head (Partition.liveKey or appendKey). */
  readonly key: string;
  /** A learner's catch-up (reassignment) is paced by this owner's bucket (learner-throttle.ts); null for everyone else. */
  throttle: LearnerThrottle | null = null;
  /** Set while a consume quota holds catch-up back: the pump takes the subscription again when it fires. */
  private quotaTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly conn: ConnState,
    readonly partition: Partition,
    public nextOffset: number,
    /** Bytes the subscriber may still be sent; Infinity without a credit window. */
    public credit: number,
    private readonly pump: CatchUpPump,
    /**
     * committed: records below the high watermark (the default). leader: every appended record, as
     * followers replicate them (and consumers that asked for the lowest latency). On one node the two
     * are the same stream.
     */
    readonly isolation: 'committed' | 'leader' = 'committed',
    /** A follower's broker id when this subscription replicates to it; -1 for consumers. */
    readonly replicaId = -1,
  ) {
    this.key = isolation === 'leader' && partition.replica !== null ? partition.appendKey : partition.liveKey;
    const max = pump.limits.maxSubscriptionsPerConnection ?? Infinity;
    if (replicaId < 0 && conn.subs.size >= max && !conn.subs.has(subKey(partition.topicId, partition.partition))) {
      throw new TickbusError(
        ErrorCode.LIMIT_EXCEEDED,
        `this connection holds ${conn.subs.size} partition subscriptions, the limit (maxSubscriptionsPerConnection): unsubscribe some or open another connection`,
        { topic: partition.topic, partition: partition.partition },
      );
    }
  }

  /** The consume quota of this subscriber's principal, when one is configured (never for followers). */
  private consumeQuota(now: number): TokenBucket | null {
    const q = this.pump.quotas;
    if (q === null || !q.enabled || this.replicaId >= 0) return null;
    return q.of(this.conn.principal, now)?.consume ?? null;
  }

  /** Where this subscription's stream ends now: the high watermark, or the log end for isolation 'leader'. */
  head(): number {
    return this.key === this.partition.appendKey ? this.partition.logEndOffset : this.partition.highWatermark;
  }

  get hasCreditWindow(): boolean {
    return this.credit !== Infinity;
  }

  start(): void {
    this.partition.subscriptions.add(this);
    if (this.nextOffset === this.head() && this.credit > 0) this.goLive();
    else if (this.nextOffset > this.head()) this.partition.awaitingCommit.add(this);
    else this.pump.add(this);
  }

  /** The high watermark moved while this subscription waited for it to reach its start. */
  onCommitted(): void {
    if (this.nextOffset > this.head()) return;
    this.partition.awaitingCommit.delete(this);
    this.pump.add(this);
  }

  private goLive(): void {
    const ws = this.conn.ws;
    if (!ws) return;
    this.partition.listenersOf(this.key).add(this);
    this.mode = 'live';
    // A consume quota counts each live frame too: such a subscriber is accounted per publish like a credit window.
    if (this.hasCreditWindow || this.consumeQuota(monotonicMs()) !== null) this.partition.creditLimited.add(this);
  }

  /**
   * Leaves the live stream at the head. Every live frame so far was handed to the socket by ws.send (none
   * waits in a uWS topic queue, which an unsubscribe used to cut: a gap), so catch-up starts at the head.
   */
  leaveLive(): void {
    if (this.mode !== 'live') return;
    this.partition.listenersOf(this.key).delete(this);
    this.toCatchUp(this.head());
  }

  private toCatchUp(from: number): void {
    this.partition.creditLimited.delete(this);
    this.mode = 'catchup';
    this.nextOffset = from;
    this.pump.add(this);
  }

  /** One live frame starting at offset `from` (Partition's streams call this). */
  sendLive(frame: Uint8Array, from: number): void {
    const ws = this.conn.ws;
    if (!ws || !this.conn.open) return;
    // Dropped at maxBackpressure: the frame never reached the socket, so catch-up resends it (no gap).
    if (ws.send(frame, true, false) !== DROPPED) return;
    this.partition.listenersOf(this.key).delete(this);
    this.toCatchUp(from);
  }

  /** Called by Partition.appendAndPublish for credit-limited live subscribers. */
  spendLiveCredit(bytes: number): void {
    this.credit -= bytes;
    // Over the consume quota: back to catch-up, which waits until the principal's balance recovers.
    if (this.credit > 0) {
      const now = monotonicMs();
      if ((this.consumeQuota(now)?.take(bytes, now) ?? 0) === 0) return;
    }
    this.leaveLive();
  }

  /** Committed records not yet sent to this subscriber (a live one is sent each batch as it commits). */
  get lag(): number {
    if (this.mode === 'live') return 0;
    const behind = this.head() - this.nextOffset;
    return behind > 0 ? behind : 0;
  }

  /** Back on the catch-up pump after a throttle wait. */
  resume(): void {
    if (!this.closed && this.mode === 'catchup') this.pump.add(this);
  }

  grant(bytes: number): void {
    if (!this.hasCreditWindow) return;
    this.credit += bytes;
    if (this.mode === 'catchup') this.pump.add(this);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.partition.listenersOf(this.key).delete(this);
    this.partition.creditLimited.delete(this);
    this.partition.awaitingCommit.delete(this);
    this.partition.subscriptions.delete(this);
    this.pump.delete(this);
    if (this.quotaTimer) clearTimeout(this.quotaTimer);
    this.quotaTimer = null;
  }

  /**
   * Sends up to `maxChunks` catch-up frames. 'blocked' waits for drain or credit; 'done' means live or closed.
   */
  catchUpStep(maxChunks: number, limits: CatchUpLimits, counters: OwnerCounters): StepResult {
    const ws = this.conn.ws;
    if (this.closed || !ws || !this.conn.open) return 'done';
    const p = this.partition;
    const log = p.log;
    for (let i = 0; i < maxChunks; i++) {
      if (this.nextOffset < log.logStartOffset) {
        this.fail(
          new TickbusError(
            ErrorCode.OFFSET_OUT_OF_RANGE,
            `offset ${this.nextOffset} of ${this.partition.topic}/${this.partition.partition} was deleted by retention; ` +
              `the log now starts at ${log.logStartOffset}`,
            { topic: this.partition.topic, partition: this.partition.partition },
          ),
        );
        return 'done';
      }
      const head = this.head();
      if (this.nextOffset >= head) {
        if (this.nextOffset > head) {
          // A new leader whose high watermark has not yet reached what the consumer already had.
          p.awaitingCommit.add(this);
          return 'blocked';
        }
        if (this.credit <= 0) return 'blocked';
        const quota = this.consumeQuota(monotonicMs());
        if (quota && this.heldByQuota(quota)) return 'blocked';
        this.goLive();
        return 'done';
      }
      if (this.credit <= 0 || ws.getBufferedAmount() >= limits.highWaterBytes) return 'blocked';
      const quota = this.consumeQuota(monotonicMs());
      if (quota && this.heldByQuota(quota)) return 'blocked';
      if (this.throttle && !this.throttle.admit(this)) return 'blocked';
      const bytes = p.readUpTo(this.nextOffset, head, Math.min(limits.chunkBytes, Math.max(1, this.credit), this.throttle?.available ?? Infinity));
      if (bytes.length === 0) return 'blocked';
      const frame = encodeFrameView({
        type: 'Deliver',
        topic: this.partition.topic,
        partition: this.partition.partition,
        highWatermark: p.highWatermark,
        live: false,
        batches: bytes,
      });
      if (ws.send(frame, true, false) === DROPPED) return 'blocked'; // dropped: nothing advanced, retry on drain
      this.nextOffset = lastOffsetIn(bytes) + 1;
      this.credit -= frame.length;
      this.throttle?.spend(bytes.length);
      quota?.take(frame.length, monotonicMs());
      counters.add(Counter.catchUpFrames);
      counters.add(Counter.catchUpBytes, bytes.length);
    }
    return 'more';
  }

  /** True while the principal is over its consume quota; the pump takes this subscription again once the balance is back. */
  private heldByQuota(quota: TokenBucket): boolean {
    const wait = quota.delayMs(monotonicMs());
    if (wait === 0) return false;
    // Delayed, not cut off.
    this.quotaTimer ??= setTimeout(() => {
      this.quotaTimer = null;
      if (!this.closed) this.pump.add(this);
    }, wait);
    return true;
  }

  fail(err: TickbusError): void {
    this.conn.ws?.send(encodeFrameView(errorFrame(err)), true, false);
    this.conn.subs.delete(subKey(this.partition.topicId, this.partition.partition));
    this.close();
  }
}

export function subKey(topicId: number, partition: number): string {
  return `${topicId}/${partition}`;
}

function lastOffsetIn(bytes: Uint8Array): number {
  let p = 0;
  let last = -1;
  while (p < bytes.length) {
    last = batchLastOffset(bytes, p);
    p += batchLength(bytes, p);
  }
  return last;
}

/**
 * Runs catch-up reads cooperatively: a few chunks per subscriber per turn, then yields to the
 * event loop so live traffic and other sockets are never starved by one long replay.
 */
export class CatchUpPump {
  private readonly pending = new Set<Subscription>();
  private scheduled = false;

  constructor(
    readonly limits: CatchUpLimits,
    private readonly counters: OwnerCounters,
    private readonly chunksPerTurn = 4,
    /** Consume quotas per principal: catch-up waits for the principal's balance (null: none). */
    readonly quotas: PrincipalQuotas | null = null,
  ) {}

  add(sub: Subscription): void {
    this.pending.add(sub);
    this.schedule();
  }

  delete(sub: Subscription): void {
    this.pending.delete(sub);
  }

  get size(): number {
    return this.pending.size;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.run);
  }

  private readonly run = (): void => {
    this.scheduled = false;
    for (const sub of this.pending) {
      const ws = sub.conn.ws;
      let r: StepResult;
      if (ws && sub.conn.open) {
        ws.cork(() => {
          try {
            r = sub.catchUpStep(this.chunksPerTurn, this.limits, this.counters);
          } catch (err) {
            // A failed read ends this subscription with a typed error; the owner and its other sockets go on.
            sub.fail(asTickbusError(err, ErrorCode.STORAGE_ERROR));
            r = 'done';
          }
        });
      } else r = 'done';
      // Blocked subscribers come back through add() on drain or on credit.
      if (r! !== 'more') this.pending.delete(sub);
    }
    if (this.pending.size > 0) this.schedule();
  };
}
