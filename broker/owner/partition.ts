// One partition as its owner sees it: the log it is the single writer of, the high watermark that says
// how much of that log is committed, and the two live streams its subscribers receive.
//
// Appended vs committed. `log.nextOffset` is the log end offset: everything appended. `highWatermark`
// is the committed end: records below it are visible to consumers, records at or above it are not.
//   Invariant: log.logStartOffset ≤ highWatermark ≤ log.nextOffset, and highWatermark never decreases.
//   Every offset a committed-read consumer is told about or served — ProduceAck/SubscribeOk/Deliver/
//   FetchResult highWatermark, `latest` subscriptions, catch-up reads, Fetch, stats — is bounded by it.
// On one node (`replica === null`) a batch is committed as soon as it is appended (the log is the only
// replica): appendAndPublish commits right after the append. In a cluster the leader commits when the
// in-sync replicas have the records (broker/replication/replica-set.ts decides), and followers learn
// the leader's high watermark from its Deliver frames.
//
// Two live streams, each frame built once and the same bytes sent to every live subscriber:
//   committed  committed records, sent when the high watermark advances: consumers (default).
//   append     every batch as it is appended, before it is committed: followers replicating, and
//              consumers that chose isolation 'leader' (lowest latency; a failover may truncate what
//              they saw, and they are told). Empty on one node, where both would carry the same bytes.
//
// Append, commit and publish happen in one synchronous step, so a subscriber that joins a stream at its
// head (highWatermark or log end) can never miss or repeat a batch.
//
// Natural batching (one node, Aeron/LMAX-style smart batching). The first batch appended in an event-loop
// turn is committed and published at once: an idle partition adds no delay. Batches appended later in
// the same turn (a busy owner reading many Produce frames from its sockets) are appended but held: the
// turn's end (setImmediate, after the turn's I/O callbacks) commits them together
// and publishes them as ONE Deliver frame per subscriber instead of one per batch. Held batches are not
// committed yet, so the high watermark and the published stream still move in one step and the join-at-
// head rule above holds. Measured effect in docs/latency.md.
//
// Sending. Each live subscriber is sent each frame with ws.send, from the step that commits it, rather
// than through a uWS topic (app.publish), for two reasons, both measured (docs/latency.md):
// - Loss. uWS skips a topic subscriber whose socket holds more than maxBackpressure and says nothing
//   (App.h publish ignores the send's DROPPED), so that subscriber would resume past the records it never
//   got. ws.send says DROPPED, and the subscriber goes back to catch-up reads from that frame's first offset.
// - Latency. uWS sends a topic's small publishes after the message handler returns, behind the producer's
//   ack; ws.send writes at once, so the Deliver is on the wire first (delivery p50 −6..−16 µs, ack +4 µs).
// A JavaScript loop over the subscribers cost nothing measurable against uWS's C++ one at 1 → 1,000 (both
// write one frame per socket per send).
import { encodeFrameView, type FrameOf } from '../../schemas/frames.js';
import { batchBaseOffset, batchLastOffset, batchLength } from '../../schemas/record-batch.js';
import type { AppendResult, PartitionLog } from '../log/partition-log.js';
import type { EpochHistory } from '../replication/epoch-history.js';
import type { Subscription } from './subscription.js';

/** What a replicated partition does in its role (owner/leader-role.ts, owner/follower-role.ts). */
export interface ReplicaRoleState {
  readonly kind: 'leader' | 'follower' | 'offline';
  readonly leaderEpoch: number;
  /** Called after every leader append (not a duplicate): replicate, maybe commit. */
  onAppended?(res: AppendResult, batch: Uint8Array): void;
  /** Ends the role (role change, topic deleted, owner closing). */
  stop(): void;
}

/** A replica that serves nobody: the control plane says so, or has not said what it is yet (epoch -1). */
export function offlineRole(leaderEpoch: number): ReplicaRoleState {
  return { kind: 'offline', leaderEpoch, stop: () => undefined };
}

/** Largest committed range published in one Deliver frame; a bigger jump goes out in several. */
const COMMIT_FRAME_BYTES = 1024 * 1024;

/** A live subscriber of one of the partition's streams (owner/subscription.ts). */
export interface LiveListener {
  /** Sends one live Deliver frame; `from` is the first offset it carries (the stream's end when it carries none). */
  sendLive(frame: Uint8Array, from: number): void;
}

// Every live Deliver is encoded at once from this one object: no frame object per publish on the live path.
const liveDeliver: FrameOf<'Deliver'> = { type: 'Deliver', topic: '', partition: 0, highWatermark: 0, live: true, batches: new Uint8Array(0) };

// Partitions holding batches for the end of this turn: one setImmediate per turn for all of them.
const holding: Partition[] = [];
function endTurnSoon(p: Partition): void {
  if (holding.push(p) === 1) setImmediate(endTurn);
}
function endTurn(): void {
  // A partition's end of turn may publish, never append: nothing joins `holding` while this runs.
  for (const p of holding.splice(0)) p.releaseHeld();
}

export class Partition {
  /** Names the committed stream; carries the topic incarnation so a re-created topic is a new stream. */
  readonly liveKey: string;
  /** Names the append (uncommitted) stream: followers and isolation-'leader' consumers. */
  readonly appendKey: string;
  /** Live subscribers of the committed stream. */
  readonly committedListeners = new Set<LiveListener>();
  /** Live subscribers of the append stream. */
  readonly appendListeners = new Set<LiveListener>();
  /** Fencing token stamped into every appended batch; one node keeps epoch 0. */
  leaderEpoch = 0;
  /** Cluster mode: this replica's role; null on one node. */
  replica: ReplicaRoleState | null = null;
  /** Cluster mode: leader epoch → start offset of this log (KIP-101), loaded with the first role. */
  epochs: EpochHistory | null = null;
  /** Committed end offset (exclusive): consumers see records below it only. */
  private hw: number;
  readonly subscriptions = new Set<Subscription>();
  /** Live subscriptions with a credit window or a quota: the only ones a send must account per subscriber. */
  readonly creditLimited = new Set<Subscription>();
  /** Subscriptions waiting for the high watermark to reach their start (a new leader still catching up its HW). */
  readonly awaitingCommit = new Set<Subscription>();
  /** Natural batching: a batch of this turn was published already (later ones are held). */
  private turnOpen = false;
  /** Copies of the batches held this turn (the producers' views die with their uWS handler), in log order. */
  private held = new Uint8Array(0);
  private heldBytes = 0;

  constructor(
    readonly topic: string,
    readonly topicId: number,
    readonly partition: number,
    readonly log: PartitionLog,
    /**
     * Where the high watermark starts: the log end on one node (everything recovered is the node's only
     * copy); in a cluster the log start, until the leader says more (a restarted replica cannot know
     * which of its records were committed).
     */
    initialHighWatermark: number = log.nextOffset,
  ) {
    this.liveKey = `${topicId}/${topic}/${partition}`;
    this.appendKey = `${this.liveKey}/append`;
    this.hw = Math.max(log.logStartOffset, Math.min(initialHighWatermark, log.nextOffset));
  }

  /** Committed end offset: what every "high watermark" told to a client is. */
  get highWatermark(): number {
    return this.hw;
  }

  /** The live subscribers of the stream `key` names (liveKey or appendKey). */
  listenersOf(key: string): Set<LiveListener> {
    return key === this.appendKey ? this.appendListeners : this.committedListeners;
  }

  /** Appended end offset (may run ahead of the high watermark while replicas catch up). */
  get logEndOffset(): number {
    return this.log.nextOffset;
  }

  /**
   * Marks records below `offset` committed and publishes them to the committed stream. Never moves
   * backwards and never past the log end (a replica cannot confirm what was not appended). The one way
   * the high watermark moves. `justAppended` is the batch that was appended in this same step, if it is
   * exactly the newly committed range: then its bytes go out without a read.
   */
  commitUpTo(offset: number, justAppended: Uint8Array | null = null): void {
    const end = this.log.nextOffset;
    const to = offset < end ? offset : end;
    const from = this.hw;
    if (to <= from) return;
    this.hw = to;
    if (this.committedListeners.size > 0) {
      // One node: the batches just appended (the log's tail) are exactly what became committed, so their bytes go out as they are.
      if (justAppended !== null && batchBaseOffset(justAppended) === from && to === end) this.publishCommitted(justAppended);
      else this.publishCommittedRange(from, to);
    }
    if (this.awaitingCommit.size > 0) {
      for (const sub of this.awaitingCommit) sub.onCommitted();
    }
  }

  /** Reads [from, to) from the log and publishes it as few frames as the frame limit allows. */
  private publishCommittedRange(from: number, to: number): void {
    let at = from;
    while (at < to) {
      const bytes = this.log.read(at, COMMIT_FRAME_BYTES);
      if (bytes.length === 0) return;
      let end = 0;
      let next = at;
      while (end < bytes.length && batchLastOffset(bytes, end) < to) {
        next = batchLastOffset(bytes, end) + 1;
        end += batchLength(bytes, end);
      }
      if (end === 0) return; // the HW is always on a batch boundary; nothing whole to send
      this.publishCommitted(end === bytes.length ? bytes : bytes.subarray(0, end));
      at = next;
    }
  }

  private publishCommitted(batches: Uint8Array): void {
    const frame = this.liveFrame(batches);
    this.send(this.committedListeners, this.liveKey, frame, batchBaseOffset(batches));
  }

  /** A live Deliver of `batches` at the current high watermark, encoded into the shared frame buffer (valid until the next encode). */
  private liveFrame(batches: Uint8Array): Uint8Array {
    const f = liveDeliver;
    f.topic = this.topic;
    f.partition = this.partition;
    f.highWatermark = this.hw;
    f.batches = batches;
    const frame = encodeFrameView(f);
    f.batches = EMPTY; // holds no producer's buffer past this call
    return frame;
  }

  private send(listeners: Set<LiveListener>, key: string, frame: Uint8Array, from: number): void {
    for (const l of listeners) l.sendLive(frame, from);
    if (this.creditLimited.size > 0) for (const sub of this.creditLimited) if (sub.key === key) sub.spendLiveCredit(frame.length);
  }

  /** Keeps a copy of an appended batch for the end of this turn (natural batching); the frame stays under the limit. */
  private hold(batch: Uint8Array): void {
    if (this.heldBytes + batch.length > COMMIT_FRAME_BYTES) this.releaseHeld(true);
    if (this.heldBytes + batch.length > this.held.length) {
      const grown = new Uint8Array(Math.max(this.heldBytes + batch.length, this.held.length * 2, 4096));
      grown.set(this.held.subarray(0, this.heldBytes));
      this.held = grown;
    }
    this.held.set(batch, this.heldBytes);
    this.heldBytes += batch.length;
  }

  /**
   * End of turn: commits and publishes what was held, as one frame. `keepOpen` when called mid-turn
   * because the held bytes reached the frame limit.
   */
  releaseHeld(keepOpen = false): void {
    this.turnOpen = keepOpen;
    if (this.heldBytes === 0) return;
    const bytes = this.held.subarray(0, this.heldBytes);
    this.heldBytes = 0;
    // Everything appended since the last commit is held, so the held bytes are the log's tail. A role
    // that arrived meanwhile (cluster mode) decides commits itself.
    if (this.replica === null) this.commitUpTo(this.log.nextOffset, bytes);
    // A burst's buffer is not kept for ever: an idle partition holds no memory.
    if (this.held.length > 64 * 1024) this.held = new Uint8Array(0);
  }

  /** Tells the append stream (followers) the high watermark when no batch carries it. */
  publishHighWatermark(): void {
    if (this.appendListeners.size === 0) return;
    const frame = this.liveFrame(EMPTY);
    for (const l of this.appendListeners) l.sendLive(frame, this.log.nextOffset);
  }

  /** Appends one producer batch (stamped in place inside `batch`); it is not committed yet. */
  append(batch: Uint8Array, appendTimeUs: number): AppendResult {
    return this.log.append(batch, 0, batch.length, this.leaderEpoch, appendTimeUs);
  }

  /**
   * The live path: append, then on one node commit and publish at once; in a cluster publish to the
   * append stream (followers get it now) and let the leader role decide when it commits.
   */
  appendAndPublish(batch: Uint8Array, appendTimeUs: number): AppendResult {
    const res = this.append(batch, appendTimeUs);
    if (res.duplicate) return res;
    const role = this.replica;
    if (role === null) {
      if (this.turnOpen) this.hold(batch);
      else {
        this.commitUpTo(this.log.nextOffset, batch);
        // Only a stream someone listens to is worth batching (and costs a setImmediate per turn).
        if (this.committedListeners.size > 0) {
          this.turnOpen = true;
          endTurnSoon(this);
        }
      }
      return res;
    }
    if (this.appendListeners.size > 0) {
      const frame = this.liveFrame(batch);
      this.send(this.appendListeners, this.appendKey, frame, res.baseOffset);
    }
    role.onAppended?.(res, batch);
    return res;
  }

  /**
   * Whole batches from `offset` below `end` (the high watermark for committed reads, the log end for
   * isolation 'leader' and followers), up to about maxBytes (at least one batch): a view, no copy.
   * Empty at or past `end`. Throws OFFSET_OUT_OF_RANGE below the log start.
   */
  readUpTo(offset: number, end: number, maxBytes: number): Uint8Array {
    if (offset >= end) return EMPTY;
    const bytes = this.log.read(offset, maxBytes);
    if (end === this.log.nextOffset) return bytes;
    // `end` falls on a batch boundary (replicas append and confirm whole batches), so cutting at the
    // first batch that ends at or past it drops nothing below it.
    let cut = 0;
    while (cut < bytes.length && batchLastOffset(bytes, cut) < end) cut += batchLength(bytes, cut);
    return cut === bytes.length ? bytes : bytes.subarray(0, cut);
  }

  /** Whole committed batches from `offset`, up to about maxBytes. */
  readCommitted(offset: number, maxBytes: number): Uint8Array {
    return this.readUpTo(offset, this.hw, maxBytes);
  }
}

const EMPTY = new Uint8Array(0);
