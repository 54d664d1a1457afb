// One consumer group on one topic: its live members, what each was told it owns, and the
// two-step (cooperative) rebalance that moves partitions without ever letting two members own one.
//
// The invariant: a member HOLDS a partition from the assignment that gives it the partition until
// it acknowledges (AssignmentAck) an assignment without it, or dies. A partition is given to a new
// member only while no live member holds it. So a rebalance that moves partition p from A to B is:
//   1. A is sent an assignment without p (A still holds p: it stops reading, commits, acks);
//   2. on A's ack (or A's death) p is free, and B is sent an assignment with p.
// Partitions that do not move are never revoked: only moved partitions pause.
//
// Pure state: no I/O, no clock of its own (callers pass `now`), so it is tested without sockets.
import { ErrorCode, TickbusError } from '../../schemas/errors.js';
import { assignPartitions } from './assignor.js';

export interface SentAssignment {
  generation: number;
  partitions: number[];
}

export interface Member {
  readonly id: string;
  connId: number;
  readonly sessionTimeoutMs: number;
  lastSeen: number;
  /**
   * Assignments sent to the member: [0] is the last one it acknowledged (or its first), later ones
   * await its ack. What it holds is the union of all of them: it may still read any of these.
   */
  sent: SentAssignment[];
  /** Generation of the assignment that gave it each partition it holds (fences older commits). */
  readonly grantedAt: Map<number, number>;
  /** When an ack of a revoking assignment is due (then the member is dropped); 0 = none awaited. */
  ackDueAt: number;
}

/** An assignment to push to a member. */
export interface AssignmentOut {
  member: Member;
  generation: number;
  partitions: number[];
}

export type DeathReason = 'left' | 'connection closed' | 'session timeout' | 'no AssignmentAck in time' | 'topic deleted';

export class ConsumerGroup {
  /** Increases on every assignment change; every assignment carries the generation it was made in. */
  generation = 0;
  /** Live members in join order (seniority: earlier members win ties in the assignor). */
  readonly members = new Map<string, Member>();
  private target = new Map<string, number[]>();
  private targetStale = false;

  constructor(
    readonly name: string,
    readonly topic: string,
    private partitionCount: number,
  ) {}

  get partitions(): number {
    return this.partitionCount;
  }

  add(id: string, connId: number, sessionTimeoutMs: number, now: number): Member {
    const m: Member = {
      id,
      connId,
      sessionTimeoutMs,
      lastSeen: now,
      sent: [{ generation: this.generation, partitions: [] }],
      grantedAt: new Map(),
      ackDueAt: 0,
    };
    this.members.set(id, m);
    this.targetStale = true;
    return m;
  }

  /** The member dies: whatever it held is free at once (it can no longer commit it). */
  remove(id: string): Member | undefined {
    const m = this.members.get(id);
    if (!m) return undefined;
    this.members.delete(id);
    this.target.delete(id);
    this.targetStale = true;
    return m;
  }

  /** Partitions the topic has now (a topic could grow); the next step rebalances onto them. */
  resize(partitions: number): void {
    if (partitions === this.partitionCount) return;
    this.partitionCount = partitions;
    this.targetStale = true;
  }

  /** The member's latest assignment: what it should be reading. */
  current(m: Member): SentAssignment {
    return m.sent[m.sent.length - 1]!;
  }

  /** Everything the member may still be reading (latest assignment plus unacknowledged revocations). */
  holds(m: Member): Set<number> {
    const out = new Set<number>();
    for (const s of m.sent) for (const p of s.partitions) out.add(p);
    return out;
  }

  /**
   * The member confirms it applied the assignment of `generation` (and so every earlier one):
   * partitions that neither it nor a later assignment gives it are released. Returns true when
   * something was released (the caller then runs step() to hand it on). Unknown generations
   * (older than the last ack, or never sent) are ignored: acks may cross assignments on the wire.
   */
  ack(m: Member, generation: number): boolean {
    const i = m.sent.findIndex((s) => s.generation === generation);
    if (i < 0) return false;
    const before = this.holds(m);
    m.sent = m.sent.slice(i);
    const after = this.holds(m);
    let released = false;
    for (const p of before) {
      if (!after.has(p)) {
        m.grantedAt.delete(p);
        released = true;
      }
    }
    if (after.size === this.current(m).partitions.length) m.ackDueAt = 0;
    return released;
  }

  /**
   * Moves the group one step toward a balanced assignment: members are told to drop partitions
   * that go elsewhere, and are given partitions nobody holds. Returns the assignments to push (all
   * with one new generation), empty when nothing changes.
   */
  step(now: number): AssignmentOut[] {
    if (this.targetStale) {
      this.target = assignPartitions(this.partitionCount, [...this.members.keys()], this.target);
      this.targetStale = false;
    }
    const holder = new Map<number, string>();
    for (const m of this.members.values()) for (const p of this.holds(m)) holder.set(p, m.id);

    const changes: { m: Member; next: number[]; revokes: boolean }[] = [];
    for (const m of this.members.values()) {
      const cur = this.current(m).partitions;
      const desired = new Set(this.target.get(m.id) ?? []);
      const next = cur.filter((p) => desired.has(p));
      const revokes = next.length < cur.length;
      const curSet = new Set(cur);
      for (const p of desired) {
        const h = holder.get(p);
        if (!curSet.has(p) && (h === undefined || h === m.id)) next.push(p);
      }
      next.sort((a, b) => a - b);
      if (next.length !== cur.length || next.some((p, i) => p !== cur[i])) changes.push({ m, next, revokes });
    }
    if (changes.length === 0) return [];

    const generation = ++this.generation;
    return changes.map(({ m, next, revokes }) => {
      const held = this.holds(m);
      for (const p of next) if (!held.has(p)) m.grantedAt.set(p, generation);
      m.sent.push({ generation, partitions: next });
      if (revokes) m.ackDueAt = now + m.sessionTimeoutMs;
      // Nothing left to confirm (only grants since the last ack): keep the history short.
      if (this.holds(m).size === next.length) {
        m.sent = [m.sent[m.sent.length - 1]!];
        m.ackDueAt = 0;
      }
      return { member: m, generation, partitions: next };
    });
  }

  /** Members whose session ran out (no heartbeat) or who did not ack a revocation in time. */
  expired(now: number): { member: Member; reason: DeathReason }[] {
    const out: { member: Member; reason: DeathReason }[] = [];
    for (const m of this.members.values()) {
      if (now - m.lastSeen > m.sessionTimeoutMs) out.push({ member: m, reason: 'session timeout' });
      else if (m.ackDueAt > 0 && now > m.ackDueAt) out.push({ member: m, reason: 'no AssignmentAck in time' });
    }
    return out;
  }

  /**
   * Throws unless `m` may commit offsets of `partitions` under `generation`: it must hold each one,
   * and the generation must not predate the assignment that gave it the partition (a commit sent
   * before the partition was moved away and back is from a stale generation).
   */
  checkCommit(m: Member, generation: number, partitions: readonly number[]): void {
    const latest = this.current(m).generation;
    if (generation > latest) {
      throw new TickbusError(ErrorCode.INVALID_REQUEST, `generation ${generation} was never given to member '${m.id}' of group '${this.name}' (its latest is ${latest})`, {
        topic: this.topic,
      });
    }
    const held = this.holds(m);
    for (const p of partitions) {
      if (!Number.isInteger(p) || p < 0 || p >= this.partitionCount) {
        throw new TickbusError(ErrorCode.UNKNOWN_PARTITION, `topic '${this.topic}' has ${this.partitionCount} partitions; partition ${p} does not exist`, {
          topic: this.topic,
          partition: p,
        });
      }
      if (!held.has(p)) {
        throw new TickbusError(
          ErrorCode.STALE_GENERATION,
          `member '${m.id}' of group '${this.name}' does not own partition ${p} of '${this.topic}' (generation ${latest}): a rebalance gave it to another member, which commits it now`,
          { topic: this.topic, partition: p },
        );
      }
      const since = m.grantedAt.get(p) ?? 0;
      if (generation < since) {
        throw new TickbusError(
          ErrorCode.STALE_GENERATION,
          `commit for partition ${p} of '${this.topic}' carries generation ${generation}, but member '${m.id}' was given the partition in generation ${since}: the commit predates a rebalance`,
          { topic: this.topic, partition: p },
        );
      }
    }
  }
}
