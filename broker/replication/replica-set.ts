// The leader's view of a partition's replicas for one leader epoch: their log end offsets, who is in
// sync, the high watermark, and which ISR change to propose. A pure state machine in the manner of
// etcd-io/raft's Ready: the owner feeds it appends, follower fetches and clock ticks (time is passed
// in; no timers here) and carries out what each call returns — advance the high watermark (release
// acks=all, publish to read-committed consumers), or write a proposed ISR to etcd with a
// compare-and-swap and report the outcome through onIsrCommitted. A new epoch gets a new ReplicaSet.
//
// Rules, with the Kafka source that set each (Partition.scala, Replica.scala):
// - HW = min log end offset over the ISR, leader included; it never moves back (Kafka
//   maybeIncrementLeaderHW).
// - HW is computed over the "maximal ISR": the committed ISR plus pending additions; pending removals
//   still count (KIP-497 / KAFKA-8836 AlterPartition). So an unconfirmed shrink never advances HW: if
//   the compare-and-swap fails, the replica we meant to drop is still in the ISR, and it has every
//   record below HW.
// - Product choice (stricter than Kafka): HW advances only while the ISR (committed, minus pending
//   removals) has at least minInsync members. Below that, nothing commits, not even acks=leader writes;
//   a record visible to read-committed consumers is always on minInsync replicas.
// - A follower is caught up at a fetch if its log end ≥ our log end at that time, or ≥ our log end at
//   its previous fetch, which is then the time it caught up (Kafka Replica.updateFetchState,
//   lastCaughtUpTimeMs, KIP-16 / KAFKA-1546 replica.lag.time.max.ms). Not caught up for
//   replicaLagTimeMs: propose removing it.
// - A follower outside the ISR is proposed for addition once it has fetched in this epoch with a log
//   end ≥ HW and ≥ the offset this epoch started at (Kafka isFollowerInSync, KAFKA-7128: a follower
//   with a lagging HW view must not rejoin below the previous leader's committed records).
// - Product choice (stricter than Kafka): an ISR member whose log end is below the high watermark has lost
//   records it once held (every ISR member had HW before HW could move there): an unsynced tail lost in a
//   crash, or a damaged segment cut on open. It is proposed for removal at that fetch, not replicaLagTimeMs
//   later: until then a clean election could pick it and lose committed records.
// - One ISR proposal in flight at a time (Kafka's single pending AlterPartition).

export interface ReplicaSetOptions {
  readonly leaderId: number;
  readonly leaderEpoch: number;
  /** All replicas of the partition, in preference order, leader included. */
  readonly replicas: readonly number[];
  /** The committed ISR, leader included. */
  readonly isr: readonly number[];
  readonly minInsync: number;
  readonly replicaLagTimeMs: number;
  /** The leader's log end offset when the epoch starts: the epoch's start offset. */
  readonly logEndOffset: number;
  /** The leader's local high watermark when the epoch starts. */
  readonly highWatermark: number;
  readonly nowMs: number;
}

/** What the owner must do after a call; both fields absent means nothing. */
export interface ReplicaSetDecision {
  /** The high watermark advanced to this offset. */
  highWatermark?: number;
  /** Write this ISR (full list, preference order) with a compare-and-swap; then call onIsrCommitted. */
  proposeIsr?: number[];
}

interface FollowerState {
  /** -1 until the follower fetches in this epoch: its log end is unknown, so HW cannot count it. */
  logEndOffset: number;
  lastCaughtUpTimeMs: number;
  lastFetchTimeMs: number;
  lastFetchLeaderLogEndOffset: number;
}

const UNKNOWN = -1;

function checkInt(name: string, v: number, min: number): void {
  if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`${name} must be an integer ≥ ${min}, got ${v}`);
}

export class ReplicaSet {
  readonly leaderId: number;
  readonly leaderEpoch: number;
  readonly replicas: readonly number[];
  readonly minInsync: number;
  readonly replicaLagTimeMs: number;
  readonly epochStartOffset: number;
  private committedIsr: number[];
  private pending: number[] | null = null;
  private leaderLogEnd: number;
  private hw: number;
  private readonly followers = new Map<number, FollowerState>();

  constructor(o: ReplicaSetOptions) {
    checkInt('leaderEpoch', o.leaderEpoch, 0);
    checkInt('minInsync', o.minInsync, 1);
    checkInt('replicaLagTimeMs', o.replicaLagTimeMs, 1);
    checkInt('logEndOffset', o.logEndOffset, 0);
    checkInt('highWatermark', o.highWatermark, 0);
    if (o.highWatermark > o.logEndOffset) {
      throw new RangeError(`highWatermark ${o.highWatermark} is past the log end offset ${o.logEndOffset}`);
    }
    if (new Set(o.replicas).size !== o.replicas.length) throw new RangeError(`replicas has duplicates: [${o.replicas.join(', ')}]`);
    if (!o.replicas.includes(o.leaderId)) throw new RangeError(`leader ${o.leaderId} is not a replica: [${o.replicas.join(', ')}]`);
    if (!o.isr.includes(o.leaderId)) throw new RangeError(`leader ${o.leaderId} is not in the ISR: [${o.isr.join(', ')}]`);
    for (const r of o.isr) if (!o.replicas.includes(r)) throw new RangeError(`ISR member ${r} is not a replica`);
    this.leaderId = o.leaderId;
    this.leaderEpoch = o.leaderEpoch;
    this.replicas = o.replicas.slice();
    this.minInsync = o.minInsync;
    this.replicaLagTimeMs = o.replicaLagTimeMs;
    this.epochStartOffset = o.logEndOffset;
    this.leaderLogEnd = o.logEndOffset;
    this.hw = o.highWatermark;
    this.committedIsr = this.ordered(o.isr);
    // Kafka resetReplicaState on becoming leader: an ISR follower gets the benefit of the doubt from
    // now (it has replicaLagTimeMs to show up); one outside the ISR starts never caught up.
    for (const r of this.replicas) {
      if (r === this.leaderId) continue;
      const inSync = this.committedIsr.includes(r);
      this.followers.set(r, {
        logEndOffset: UNKNOWN,
        lastCaughtUpTimeMs: inSync ? o.nowMs : 0,
        lastFetchTimeMs: o.nowMs,
        lastFetchLeaderLogEndOffset: o.logEndOffset,
      });
    }
  }

  get highWatermark(): number {
    return this.hw;
  }

  get logEndOffset(): number {
    return this.leaderLogEnd;
  }

  /** The committed ISR (as last written to the control plane). */
  get isr(): readonly number[] {
    return this.committedIsr;
  }

  /** The proposal waiting for onIsrCommitted, if any. */
  get pendingIsr(): readonly number[] | null {
    return this.pending;
  }

  hasReplica(id: number): boolean {
    return this.replicas.includes(id);
  }

  followerLogEndOffset(id: number): number {
    return this.follower(id).logEndOffset;
  }

  /**
   * acks=all may be accepted: the ISR we can count on has minInsync members (Kafka
   * Partition.appendRecordsToLeader; otherwise answer NOT_ENOUGH_REPLICAS and append nothing).
   * An acks=all batch is acknowledged once highWatermark > its last offset.
   */
  canAppendAcksAll(): boolean {
    return this.countedIsr.length >= this.minInsync;
  }

  /** The leader appended; its log end is now `logEndOffset`. */
  onLeaderAppend(logEndOffset: number, _nowMs: number): ReplicaSetDecision {
    // nowMs: the leader is always caught up with itself; the parameter keeps one call shape for every event.
    if (logEndOffset < this.leaderLogEnd) {
      throw new RangeError(`the leader's log end went back from ${this.leaderLogEnd} to ${logEndOffset} within epoch ${this.leaderEpoch}`);
    }
    this.leaderLogEnd = logEndOffset;
    return this.decide();
  }

  /**
   * A follower fetched with `followerLogEndOffset` as its fetch offset, and validateFetch said
   * 'serve' (call this only then: a diverging follower's log end says nothing about what it shares).
   */
  onFollowerFetch(replicaId: number, followerLogEndOffset: number, nowMs: number): ReplicaSetDecision {
    const f = this.follower(replicaId);
    checkInt('followerLogEndOffset', followerLogEndOffset, 0);
    if (followerLogEndOffset > this.leaderLogEnd) {
      throw new RangeError(`follower ${replicaId} log end ${followerLogEndOffset} is past the leader's ${this.leaderLogEnd}: validateFetch must answer first`);
    }
    // Kafka Replica.updateFetchState.
    if (followerLogEndOffset >= this.leaderLogEnd) f.lastCaughtUpTimeMs = Math.max(f.lastCaughtUpTimeMs, nowMs);
    else if (followerLogEndOffset >= f.lastFetchLeaderLogEndOffset) f.lastCaughtUpTimeMs = Math.max(f.lastCaughtUpTimeMs, f.lastFetchTimeMs);
    f.lastFetchLeaderLogEndOffset = this.leaderLogEnd;
    f.lastFetchTimeMs = nowMs;
    f.logEndOffset = followerLogEndOffset;
    const d = this.decide();
    if (!this.pending) {
      const change = this.committedIsr.includes(replicaId) ? this.maybeDropShort(replicaId, f) : this.maybeExpand(replicaId, f);
      if (change) d.proposeIsr = change;
    }
    return d;
  }

  /** Time passed: propose removing followers that have not caught up for replicaLagTimeMs. */
  tick(nowMs: number): ReplicaSetDecision {
    if (this.pending) return {};
    const out = this.committedIsr.filter((r) => {
      if (r === this.leaderId) return false;
      const f = this.follower(r);
      // Kafka Partition.getOutOfSyncReplicas: lagging for too long, unless it has nothing to fetch.
      return f.logEndOffset !== this.leaderLogEnd && nowMs - f.lastCaughtUpTimeMs > this.replicaLagTimeMs;
    });
    if (out.length === 0) return {};
    this.pending = this.committedIsr.filter((r) => !out.includes(r));
    return { proposeIsr: this.pending.slice() };
  }

  /**
   * The control plane's ISR now (our proposal committed, or the compare-and-swap lost and this is
   * what etcd holds). Clears the pending proposal; HW may advance (a removal now counts).
   */
  onIsrCommitted(isr: readonly number[]): ReplicaSetDecision {
    for (const r of isr) if (!this.replicas.includes(r)) throw new RangeError(`ISR member ${r} is not a replica`);
    if (!isr.includes(this.leaderId)) {
      // The controller moved leadership or fenced us; this ReplicaSet's epoch is over.
      throw new RangeError(`ISR [${isr.join(', ')}] does not contain leader ${this.leaderId}: start a new epoch instead`);
    }
    this.committedIsr = this.ordered(isr);
    this.pending = null;
    return this.decide();
  }

  // ---------------------------------------------------------------- rules

  private follower(id: number): FollowerState {
    const f = this.followers.get(id);
    if (!f) throw new RangeError(`replica ${id} is not a follower of this partition (replicas [${this.replicas.join(', ')}], leader ${this.leaderId})`);
    return f;
  }

  private ordered(ids: readonly number[]): number[] {
    return this.replicas.filter((r) => ids.includes(r));
  }

  /** KIP-497: committed ∪ pending; a pending removal is still in the committed list. */
  private maximalIsr(): number[] {
    if (!this.pending) return this.committedIsr;
    const pend = this.pending;
    return this.replicas.filter((r) => this.committedIsr.includes(r) || pend.includes(r));
  }

  /** The ISR members acks=all and the high watermark count on: the committed ISR minus pending removals. */
  get countedIsr(): readonly number[] {
    const pend = this.pending;
    return pend ? this.committedIsr.filter((r) => pend.includes(r)) : this.committedIsr;
  }

  private logEndOf(id: number): number {
    return id === this.leaderId ? this.leaderLogEnd : this.follower(id).logEndOffset;
  }

  private decide(): ReplicaSetDecision {
    if (this.countedIsr.length < this.minInsync) return {};
    let min = Infinity;
    for (const r of this.maximalIsr()) min = Math.min(min, this.logEndOf(r));
    if (min === UNKNOWN || min <= this.hw) return {};
    this.hw = min;
    return { highWatermark: min };
  }

  private maybeDropShort(id: number, f: FollowerState): number[] | null {
    if (f.logEndOffset >= this.hw) return null;
    this.pending = this.committedIsr.filter((r) => r !== id);
    return this.pending.slice();
  }

  private maybeExpand(id: number, f: FollowerState): number[] | null {
    if (f.logEndOffset < this.hw || f.logEndOffset < this.epochStartOffset) return null;
    this.pending = this.ordered([...this.committedIsr, id]);
    return this.pending.slice();
  }
}
