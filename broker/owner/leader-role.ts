// A partition this broker leads (cluster mode). The owner's live path stays one synchronous step:
// append → publish to the append stream (followers replicate the very frame, built once) → ReplicaSet
// decides whether the high watermark moves → commit publishes to committed consumers and releases
// acks=all. Followers subscribe to the append stream like any client (ReplicaFetch) and answer with
// their log end (ReplicaAck); that is what moves the high watermark on a replicated partition.
//
// The rules (HW = min log end over the maximal ISR, only while the ISR has min.insync members; ISR
// shrink/expand proposals; divergence answers) live in broker/replication/, pure and model-tested;
// this file feeds them and carries out what they decide.
import { ErrorCode, TickbusError } from '../../schemas/errors.js';
import { encodeFrameView, type FrameOf } from '../../schemas/frames.js';
import { monotonicMs } from '../clock.js';
import type { AppendResult } from '../log/partition-log.js';
import { validateFetch } from '../replication/divergence.js';
import { ReplicaSet, type ReplicaSetDecision } from '../replication/replica-set.js';
import type { OwnerContext } from './context.js';
import { Counter } from './counters.js';
import { assignEpoch, epochsOf } from './epochs.js';
import { LearnerThrottle } from './learner-throttle.js';
import type { ReplicaRole } from './messages.js';
import type { Partition, ReplicaRoleState } from './partition.js';
import { type ConnState, Subscription, subKey } from './subscription.js';

/** An acks=all produce waiting for the high watermark to pass its batch. */
interface PendingAck {
  conn: ConnState;
  lastOffset: number;
  deadline: number;
  ack: FrameOf<'ProduceAck'>;
}

export interface LeaderHooks {
  /**
   * The leader proposes an ISR change; the main thread writes it to etcd and sends the role again.
   * `processes`: for each follower it adds, the process whose fetches caught up (ReplicaFetch.processRevision),
   * when that follower said; the write is refused if its broker is registered under another one (KIP-903).
   * `base`: the committed ISR the proposal was made from; the write is refused if the record has another.
   */
  proposeIsr(topic: string, partition: number, leaderEpoch: number, isr: number[], processes: Record<string, number>, base: number[]): void;
}

/** One reassignment throttle per owner (every learner of every partition it leads shares it). */
const throttles = new WeakMap<OwnerContext, LearnerThrottle | null>();

function learnerThrottle(ctx: OwnerContext): LearnerThrottle | null {
  let t = throttles.get(ctx);
  if (t === undefined) {
    const rate = ctx.config.cluster?.reassignThrottleBytesPerSec ?? 0;
    // The broker's rate is split between its owner threads, each pacing its own learners.
    t = rate > 0 ? new LearnerThrottle(Math.max(1, Math.floor(rate / Math.max(1, ctx.config.owners)))) : null;
    throttles.set(ctx, t);
  }
  return t;
}

export class LeaderRole implements ReplicaRoleState {
  readonly kind = 'leader' as const;
  readonly leaderEpoch: number;
  private readonly set: ReplicaSet;
  private readonly pending: PendingAck[] = [];
  /** Each follower's last served fetch: the connection it came on, and the process it named (-1: not said). */
  private readonly fetchedBy = new Map<number, { conn: ConnState; process: number }>();
  private stopped = false;

  constructor(
    private readonly ctx: OwnerContext,
    private readonly p: Partition,
    role: ReplicaRole,
    private readonly hooks: LeaderHooks,
  ) {
    this.leaderEpoch = role.leaderEpoch;
    // KIP-101: the new epoch starts at this log's end; every batch appended from now on carries it.
    assignEpoch(p, role.leaderEpoch, p.logEndOffset);
    p.leaderEpoch = role.leaderEpoch;
    this.set = new ReplicaSet({
      leaderId: ctx.config.cluster!.nodeId,
      leaderEpoch: role.leaderEpoch,
      replicas: role.replicas,
      isr: role.isr.includes(ctx.config.cluster!.nodeId) ? role.isr : [...role.isr, ctx.config.cluster!.nodeId],
      minInsync: role.minInsync,
      replicaLagTimeMs: ctx.config.cluster!.replicaLagTimeMs,
      logEndOffset: p.logEndOffset,
      highWatermark: p.highWatermark,
      nowMs: monotonicMs(),
    });
    this.apply(this.set.onLeaderAppend(p.logEndOffset, monotonicMs()));
  }

  get isrSize(): number {
    return this.set.isr.length;
  }

  /** Largest follower lag in records (-1 while a follower has not fetched in this epoch). */
  get maxFollowerLag(): number {
    let max = 0;
    for (const r of this.set.replicas) {
      if (r === this.set.leaderId) continue;
      const leo = this.set.followerLogEndOffset(r);
      if (leo < 0) return -1;
      max = Math.max(max, this.set.logEndOffset - leo);
    }
    return max;
  }

  /** acks=all may be taken now (ISR ≥ min.insync), else NOT_ENOUGH_REPLICAS before anything is appended. */
  checkAcksAll(): void {
    if (!this.set.canAppendAcksAll()) {
      throw new TickbusError(
        ErrorCode.NOT_ENOUGH_REPLICAS,
        `${this.p.topic}/${this.p.partition} counts ${this.set.countedIsr.length} in-sync replica(s) [${this.set.countedIsr.join(', ')}] (a pending ISR change removes any others), fewer than min.insync ${this.set.minInsync}; nothing was written`,
        { topic: this.p.topic, partition: this.p.partition },
      );
    }
  }

  onAppended(_res: AppendResult, _batch: Uint8Array): void {
    this.apply(this.set.onLeaderAppend(this.p.logEndOffset, monotonicMs()));
  }

  /** The ISR committed in etcd (our proposal, or what the compare-and-swap found instead). */
  onIsrCommitted(isr: number[]): void {
    if (!isr.includes(this.set.leaderId)) return; // a new epoch will come with the role; nothing to do here
    this.apply(this.set.onIsrCommitted(isr));
  }

  /** Waits for the high watermark to pass `lastOffset`, then sends `ack` (after the leader's fsync per policy). */
  awaitCommit(conn: ConnState, lastOffset: number, ack: FrameOf<'ProduceAck'>): void {
    if (this.p.highWatermark > lastOffset) return this.sendAck(conn, ack);
    this.pending.push({ conn, lastOffset, deadline: monotonicMs() + this.ctx.config.cluster!.ackTimeoutMs, ack });
  }

  /** A follower asks to replicate: validate its position (KIP-279/320), then stream from there. */
  onReplicaFetch(conn: ConnState, f: FrameOf<'ReplicaFetch'>): void {
    if (!this.set.hasReplica(f.replicaId) || f.replicaId === this.set.leaderId) {
      throw new TickbusError(ErrorCode.INVALID_REQUEST, `broker ${f.replicaId} is not a follower of ${this.p.topic}/${this.p.partition}`, {
        topic: this.p.topic,
        partition: this.p.partition,
      });
    }
    const p = this.p;
    const v = validateFetch(
      { currentLeaderEpoch: f.leaderEpoch, fetchOffset: f.fetchOffset, lastFetchedEpoch: f.lastFetchedEpoch },
      { leaderEpoch: this.leaderEpoch, history: epochsOf(p), logStartOffset: p.log.logStartOffset, logEndOffset: p.logEndOffset },
    );
    const ok: FrameOf<'ReplicaFetchOk'> = {
      type: 'ReplicaFetchOk',
      requestId: f.requestId,
      topic: p.topic,
      partition: p.partition,
      divergingEpoch: -1,
      divergingEndOffset: -1,
      highWatermark: p.highWatermark,
      logStartOffset: p.log.logStartOffset,
    };
    switch (v.kind) {
      case 'fenced-epoch':
        throw new TickbusError(ErrorCode.FENCED_LEADER_EPOCH, `replica fetch at epoch ${f.leaderEpoch}; ${p.topic}/${p.partition} is at epoch ${v.leaderEpoch}`, { topic: p.topic, partition: p.partition });
      case 'unknown-epoch':
        throw new TickbusError(ErrorCode.UNKNOWN_LEADER_EPOCH, `replica fetch at epoch ${f.leaderEpoch}; this leader is at ${v.leaderEpoch}`, { topic: p.topic, partition: p.partition });
      case 'out-of-range':
        throw new TickbusError(ErrorCode.OFFSET_OUT_OF_RANGE, `replica fetch from ${f.fetchOffset}; the leader's log holds ${v.logStartOffset} to ${v.logEndOffset}`, { topic: p.topic, partition: p.partition });
      case 'diverging':
        conn.ws?.send(encodeFrameView({ ...ok, divergingEpoch: v.divergingEpoch, divergingEndOffset: v.divergingEndOffset }), true, false);
        return;
      case 'serve': {
        const key = subKey(p.topicId, p.partition);
        conn.subs.get(key)?.close();
        const sub = new Subscription(conn, p, f.fetchOffset, Infinity, this.ctx.pump, 'leader', f.replicaId);
        // A learner (outside the ISR: being added by a reassignment, or back after falling behind) catches
        // up under the reassignment throttle so the copy does not starve live traffic; ISR members never wait.
        if (!this.set.isr.includes(f.replicaId)) sub.throttle = learnerThrottle(this.ctx);
        conn.subs.set(key, sub);
        conn.ws?.send(encodeFrameView(ok), true, false);
        sub.start();
        this.fetchedBy.set(f.replicaId, { conn, process: f.processRevision });
        this.apply(this.set.onFollowerFetch(f.replicaId, f.fetchOffset, monotonicMs()));
        return;
      }
    }
  }

  /**
   * A follower appended up to `logEndOffset`. Counted only from the connection of its last served fetch:
   * an ack from an earlier one (a process that has since restarted and fetched again) speaks for a log that
   * is gone, and must not count for the process now named.
   */
  onReplicaAck(conn: ConnState, f: FrameOf<'ReplicaAck'>): void {
    if (f.leaderEpoch !== this.leaderEpoch || !this.set.hasReplica(f.replicaId) || f.replicaId === this.set.leaderId) return;
    if (this.fetchedBy.get(f.replicaId)?.conn !== conn) return;
    const leo = Math.min(f.logEndOffset, this.p.logEndOffset);
    this.apply(this.set.onFollowerFetch(f.replicaId, leo, monotonicMs()));
  }

  /** Every sweep: ISR shrink for followers that fell behind; acks=all that waited too long time out. */
  tick(now: number): void {
    this.apply(this.set.tick(now));
    while (this.pending.length > 0 && this.pending[0]!.deadline <= now) {
      const a = this.pending.shift()!;
      if (a.conn.open) {
        this.ctx.edge.sendError(
          a.conn,
          new TickbusError(ErrorCode.TIMEOUT, `${this.p.topic}/${this.p.partition}: not replicated to the in-sync replicas within ${this.ctx.config.cluster!.ackTimeoutMs} ms; it may still commit (the producer's retry is recognised)`, {
            topic: this.p.topic,
            partition: this.p.partition,
          }),
          a.ack.requestId,
        );
      }
    }
  }

  private apply(d: ReplicaSetDecision): void {
    if (this.stopped) return;
    if (d.proposeIsr) {
      this.ctx.counters.add(d.proposeIsr.length < this.set.isr.length ? Counter.isrShrinks : Counter.isrExpands);
      const processes: Record<string, number> = {};
      for (const id of d.proposeIsr) {
        const process = this.fetchedBy.get(id)?.process ?? -1;
        if (process >= 0 && !this.set.isr.includes(id)) processes[id] = process;
      }
      this.hooks.proposeIsr(this.p.topic, this.p.partition, this.leaderEpoch, d.proposeIsr, processes, [...this.set.isr]);
    }
    if (d.highWatermark !== undefined) {
      this.p.commitUpTo(d.highWatermark);
      this.p.publishHighWatermark();
      this.releaseAcks();
    }
  }

  private releaseAcks(): void {
    const hw = this.p.highWatermark;
    let n = 0;
    while (n < this.pending.length && this.pending[n]!.lastOffset < hw) n++;
    if (n === 0) return;
    // Each pending ack is this request's own object (built in onProduce): updated in place, not copied.
    for (const a of this.pending.splice(0, n)) {
      a.ack.highWatermark = hw;
      this.sendAck(a.conn, a.ack);
    }
  }

  private sendAck(conn: ConnState, ack: FrameOf<'ProduceAck'>): void {
    // fsync 'always': the leader's own copy is on disk before the ack, as the followers' are before theirs.
    if (this.p.log.config.fsync !== 'always') {
      if (conn.open) conn.ws?.send(encodeFrameView(ack), true, false);
      return;
    }
    this.p.log.flush().then(
      () => {
        if (conn.open) conn.ws?.send(encodeFrameView(ack), true, false);
      },
      (err: unknown) => {
        if (conn.open) this.ctx.edge.sendError(conn, new TickbusError(ErrorCode.STORAGE_ERROR, String(err)), ack.requestId);
      },
    );
  }

  /** Leadership ends: waiting acks=all fail with NOT_LEADER (the producer retries on the new leader). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    const err = new TickbusError(ErrorCode.NOT_LEADER, `this broker no longer leads ${this.p.topic}/${this.p.partition}: refresh metadata`, {
      topic: this.p.topic,
      partition: this.p.partition,
    });
    for (const a of this.pending.splice(0)) if (a.conn.open) this.ctx.edge.sendError(a.conn, err, a.ack.requestId);
  }
}
