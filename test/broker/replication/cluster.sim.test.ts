// Simulation of one partition on three replicas, driven by random command sequences (a seeded
// random walk: fast-check generates the command list, prints the seed and shrinks a failure). The
// real rules run — EpochHistory, validateFetch / followerTruncation, ReplicaSet, electLeader — and
// the simulation plays the owner and the controller around them: logs are arrays of
// { epoch, value }, the control plane is a variable, an ISR proposal is committed or lost by command.
//
// After every step:
//  (a) the high watermark never decreases within an epoch, and once a new leader advances it, it is
//      not below the highest high watermark any earlier leader reached;
//  (b) every entry below the high watermark is identical on every ISR member;
//  (c) every acknowledged acks=all write is on the leader, at the offset it was acknowledged at
//      (clean elections; in the tail-loss variant, until every ISR member has lost its tail);
//  (d) a follower that finished the divergence check and truncation holds a prefix of the leader's log;
// and a truncation below a follower's high watermark (followerTruncation's 'refuse') never happens.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { followerHighWatermark, followerTruncation, recoveredHighWatermark, validateFetch } from '../../../broker/replication/divergence.js';
import { EpochHistory } from '../../../broker/replication/epoch-history.js';
import { electLeader } from '../../../broker/replication/leader-election.js';
import { type ReplicaSetDecision, ReplicaSet } from '../../../broker/replication/replica-set.js';

const IDS = [1, 2, 3] as const;
const MIN_INSYNC = 2;
const LAG_MS = 100;
const MAX_FETCH = 3;

interface Entry {
  readonly epoch: number;
  readonly value: number;
}

interface Replica {
  readonly id: number;
  alive: boolean;
  log: Entry[];
  history: EpochHistory;
  hw: number;
  /** Entries below this survive a crash (the tail-loss variant's fsync point). */
  flushed: number;
  /** Its registration in the control plane: a restart registers anew. */
  incarnation: number;
  /** Control-plane revision of its registration (the broker key's modRevision). */
  registeredRev: number;
  /** Revision at which a crash last cut its log (the tail-loss variant); -1: never. */
  lostRev: number;
  /** Revision at which it last joined the ISR (0: in it from the start). */
  joinedRev: number;
}

interface Acked {
  readonly offset: number;
  readonly entry: Entry;
}

type Command =
  | { t: 'append' }
  | { t: 'fetch'; r: number }
  | { t: 'fetchAll' }
  | { t: 'crash'; r: number }
  | { t: 'crashLeader' }
  | { t: 'restart'; r: number }
  | { t: 'flush'; r: number }
  | { t: 'tick'; ms: number }
  | { t: 'commitIsr' }
  | { t: 'loseIsrProposal' };

const idx = fc.integer({ min: 0, max: 2 });
const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Command>({ t: 'append' }) },
  { weight: 6, arbitrary: idx.map((r): Command => ({ t: 'fetch', r })) },
  { weight: 3, arbitrary: fc.constant<Command>({ t: 'fetchAll' }) },
  { weight: 1, arbitrary: idx.map((r): Command => ({ t: 'crash', r })) },
  { weight: 1, arbitrary: fc.constant<Command>({ t: 'crashLeader' }) },
  { weight: 4, arbitrary: idx.map((r): Command => ({ t: 'restart', r })) },
  { weight: 2, arbitrary: idx.map((r): Command => ({ t: 'flush', r })) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 70 }).map((ms): Command => ({ t: 'tick', ms })) },
  { weight: 3, arbitrary: fc.constant<Command>({ t: 'commitIsr' }) },
  { weight: 1, arbitrary: fc.constant<Command>({ t: 'loseIsrProposal' }) },
);

class Cluster {
  readonly replicas: Replica[];
  epoch = 0;
  leader: number | null;
  isr: number[];
  rs: ReplicaSet | null;
  now = 1_000;
  nextValue = 0;
  /** acks=all writes waiting for HW > offset, on the current leader only. */
  pendingAcks: Acked[] = [];
  /** The registrations the pending ISR proposal was made under (the txn guards their keys). */
  private proposedUnder = new Map<number, number>();
  acked: Acked[] = [];
  /** Highest HW any leader reached, and the HW of each epoch (for invariant a). */
  maxHwEver = 0;
  private epochHw = 0;
  /** Control-plane revisions: every registration and partition-record write takes the next one. */
  private rev = 1;
  /** Revision of the partition record's last write (leader, epoch or ISR). */
  private recordRev = 1;
  /**
   * Tail-loss variant: an election had to pick a replica that lost its unflushed tail since the ISR was
   * last written (no in-sync replica that kept its log was alive), so (a) to (c) are void from then on.
   */
  lossy = false;
  stats = { appends: 0, acked: 0, elections: 0, truncations: 0, offline: 0, isrCommits: 0 };

  constructor(readonly loseTail: boolean) {
    this.replicas = IDS.map((id) => ({ id, alive: true, log: [], history: new EpochHistory(), hw: 0, flushed: 0, incarnation: 0, registeredRev: 0, lostRev: -1, joinedRev: 0 }));
    this.isr = [...IDS];
    this.leader = null;
    this.rs = null;
    this.elect();
  }

  rep(id: number): Replica {
    const r = this.replicas.find((x) => x.id === id);
    if (!r) throw new Error(`no replica ${id}`);
    return r;
  }

  private leaderReplica(): Replica | null {
    return this.leader === null ? null : this.rep(this.leader);
  }

  run(c: Command): void {
    switch (c.t) {
      case 'append':
        return this.append();
      case 'fetch':
        return this.fetch(IDS[c.r]!);
      case 'fetchAll':
        for (const id of IDS) this.fetch(id);
        return;
      case 'crash':
        return this.crash(IDS[c.r]!);
      case 'crashLeader':
        if (this.leader !== null) this.crash(this.leader);
        return;
      case 'restart':
        return this.restart(IDS[c.r]!);
      case 'flush': {
        const r = this.rep(IDS[c.r]!);
        if (r.alive) r.flushed = r.log.length;
        return;
      }
      case 'tick':
        this.now += c.ms;
        if (this.rs) this.apply(this.rs.tick(this.now));
        return;
      case 'commitIsr':
        return this.commitIsr();
      case 'loseIsrProposal':
        // The compare-and-swap lost (another controller write came first): the leader re-reads etcd.
        if (this.rs?.pendingIsr) this.apply(this.rs.onIsrCommitted(this.isr));
        return;
    }
  }

  private append(): void {
    const l = this.leaderReplica();
    if (!l || !this.rs?.canAppendAcksAll()) return; // NOT_ENOUGH_REPLICAS / no leader
    const entry = { epoch: this.epoch, value: this.nextValue++ };
    l.log.push(entry);
    this.pendingAcks.push({ offset: l.log.length - 1, entry });
    this.stats.appends++;
    this.apply(this.rs.onLeaderAppend(l.log.length, this.now));
  }

  private fetch(id: number): void {
    const l = this.leaderReplica();
    const f = this.rep(id);
    if (!l || !this.rs || id === this.leader || !f.alive) return;
    // Divergence check and truncation, as many rounds as the rules ask for (bounded).
    for (let round = 0; ; round++) {
      expect(round, 'divergence check converges').toBeLessThan(10);
      const v = validateFetch(
        { currentLeaderEpoch: this.epoch, fetchOffset: f.log.length, lastFetchedEpoch: f.history.latestEpoch() },
        { leaderEpoch: this.epoch, history: l.history, logStartOffset: 0, logEndOffset: l.log.length },
      );
      if (v.kind === 'serve') break;
      expect(v.kind, `fetch answer for replica ${id}`).toBe('diverging');
      if (v.kind !== 'diverging') return;
      const d = followerTruncation(v, {
        history: f.history,
        logEndOffset: f.log.length,
        highWatermark: f.hw,
        uncleanLeaderElection: this.lossy,
      });
      if (d.kind === 'refuse') {
        throw new Error(`replica ${id} would truncate to ${d.truncateTo} below its high watermark ${d.highWatermark}`);
      }
      expect(d.truncateTo).toBeLessThanOrEqual(f.log.length);
      f.log.length = d.truncateTo;
      f.history.truncateFromEnd(d.truncateTo);
      f.flushed = Math.min(f.flushed, d.truncateTo);
      f.hw = Math.min(f.hw, d.truncateTo);
      this.stats.truncations++;
    }
    // (d) after the check and truncation, a prefix of the leader's log.
    expect(f.log, `(d) replica ${id} is a prefix of leader ${l.id}`).toEqual(l.log.slice(0, f.log.length));
    const fetchOffset = f.log.length;
    const copy = l.log.slice(fetchOffset, fetchOffset + MAX_FETCH);
    // The leader records the fetch (Kafka: the fetch offset is the follower's log end), then serves.
    this.apply(this.rs.onFollowerFetch(id, fetchOffset, this.now));
    for (const e of copy) {
      if (e.epoch > f.history.latestEpoch()) f.history.assign(e.epoch, f.log.length);
      f.log.push(e);
    }
    // tickbus's follower answers with its log end once it appended (BRIEF: the leader advances HW
    // from those answers), so the leader hears of the copy without waiting for the next fetch.
    if (copy.length > 0) this.apply(this.rs.onFollowerFetch(id, f.log.length, this.now));
    f.hw = followerHighWatermark(this.rs.highWatermark, f.log.length);
  }

  private crash(id: number): void {
    const r = this.rep(id);
    if (!r.alive) return;
    r.alive = false;
    if (this.loseTail && r.log.length > r.flushed) {
      r.lostRev = ++this.rev;
      r.log.length = r.flushed;
      r.history.truncateFromEnd(r.flushed); // recovery cuts the epoch checkpoint to the log (Kafka loadSegments)
    }
    r.hw = recoveredHighWatermark(r.hw, 0, r.log.length);
    // A dead follower stays in the ISR, as with the real controller: the leader proposes it out once it
    // has not caught up for LAG_MS (tick), or at once when it fetches again below HW (it lost records).
    if (id === this.leader) this.elect();
  }

  private restart(id: number): void {
    const r = this.rep(id);
    if (r.alive) return;
    r.alive = true; // KIP-101: the log is kept whole; the first fetch decides what goes
    r.incarnation++;
    r.registeredRev = ++this.rev;
    if (this.leader === null) return this.elect();
    // The controller takes a restarted follower out of the ISR until it has caught up (a new registration
    // is all it sees: Controller.restartedFollowersOutOfIsr); a pending proposal of the leader loses its
    // compare-and-swap to that write.
    if (id !== this.leader && this.isr.includes(id)) {
      this.isr = this.isr.filter((b) => b !== id);
      this.recordRev = ++this.rev;
      this.apply(this.rs!.onIsrCommitted(this.isr));
    }
  }

  private elect(): void {
    // The old leader's pending acks=all requests fail (NOT_LEADER): their outcome is unknown, never acked.
    this.pendingAcks = [];
    const restarted = (b: number): boolean => this.rep(b).registeredRev > this.recordRev;
    const res = electLeader({ replicas: IDS, isr: this.isr, isAlive: (b) => this.rep(b).alive, unclean: false, restarted });
    // Accepted loss (as in Kafka before KIP-966): no in-sync replica that kept its log is alive, and the
    // one elected lost its tail since it joined the ISR.
    if (res.leader !== null && this.lostSinceJoining(this.rep(res.leader))) this.lossy = true;
    this.isr = res.isr;
    this.recordRev = ++this.rev;
    if (res.leader === null) {
      this.leader = null;
      this.rs = null;
      this.stats.offline++;
      return;
    }
    expect(res.unclean).toBe(false);
    this.epoch++;
    this.stats.elections++;
    const l = this.rep(res.leader);
    l.history.assign(this.epoch, l.log.length);
    this.leader = l.id;
    this.epochHw = l.hw;
    this.rs = new ReplicaSet({
      leaderId: l.id,
      leaderEpoch: this.epoch,
      replicas: IDS,
      isr: this.isr,
      minInsync: MIN_INSYNC,
      replicaLagTimeMs: LAG_MS,
      logEndOffset: l.log.length,
      highWatermark: l.hw,
      nowMs: this.now,
    });
  }

  private commitIsr(): void {
    const p = this.rs?.pendingIsr;
    if (!p) return;
    // KIP-903, as ClusterNode.proposeIsr writes it: the txn guards the registration of every member it
    // adds, so one that died, or restarted (and may have lost its tail) since the proposal, fails it.
    const stale = p.some((b) => !this.isr.includes(b) && (!this.rep(b).alive || this.rep(b).incarnation !== this.proposedUnder.get(b)));
    if (stale) return this.apply(this.rs!.onIsrCommitted(this.isr));
    this.recordRev = ++this.rev;
    for (const b of p) if (!this.isr.includes(b)) this.rep(b).joinedRev = this.recordRev;
    this.isr = [...p];
    this.stats.isrCommits++;
    this.apply(this.rs!.onIsrCommitted(this.isr));
  }

  private apply(d: ReplicaSetDecision): void {
    const l = this.leaderReplica()!;
    if (d.highWatermark !== undefined) {
      // (a) within an epoch HW only grows; a leader's first advance is already at or above every
      // earlier leader's committed HW.
      expect(d.highWatermark, '(a) HW grows within an epoch').toBeGreaterThan(this.epochHw);
      if (!this.lossy) expect(d.highWatermark, '(a) HW not below an earlier leader').toBeGreaterThanOrEqual(this.maxHwEver);
      this.epochHw = d.highWatermark;
      this.maxHwEver = Math.max(this.maxHwEver, d.highWatermark);
      l.hw = d.highWatermark;
      const done = this.pendingAcks.filter((a) => a.offset < d.highWatermark!);
      this.pendingAcks = this.pendingAcks.filter((a) => a.offset >= d.highWatermark!);
      this.acked.push(...done);
      this.stats.acked += done.length;
    }
    // Proposals stay in the ReplicaSet (pendingIsr) until a commitIsr / loseIsrProposal command.
    if (d.proposeIsr) this.proposedUnder = new Map(d.proposeIsr.map((b) => [b, this.rep(b).incarnation]));
  }

  private lostSinceJoining(r: Replica): boolean {
    return r.lostRev > r.joinedRev;
  }

  check(): void {
    const l = this.leaderReplica();
    if (!l || !this.rs) return;
    const hw = this.rs.highWatermark;
    expect(hw, 'HW within the leader log').toBeLessThanOrEqual(l.log.length);
    if (!this.lossy) {
      // (b) every ISR member holds exactly the leader's entries below HW (but one whose crash cut its log
      // since the ISR was written: the leader drops it when it fetches, elections pass it over).
      for (const id of this.isr) {
        const r = this.rep(id);
        if (this.lostSinceJoining(r)) continue;
        expect(r.log.slice(0, hw), `(b) ISR member ${id} below HW ${hw}`).toEqual(l.log.slice(0, hw));
      }
      // (c) no acknowledged write lost or moved.
      for (const a of this.acked) {
        expect(l.log[a.offset], `(c) acked write at ${a.offset} on leader ${l.id}`).toEqual(a.entry);
      }
    }
  }
}

function simulate(loseTail: boolean, commands: Command[]): Cluster {
  const c = new Cluster(loseTail);
  for (const cmd of commands) {
    c.run(cmd);
    c.check();
  }
  return c;
}

const RUNS = { numRuns: 200 };
const commands = fc.array(command, { minLength: 1, maxLength: 60, size: 'max' });

describe('replication rules in a simulated 3-replica cluster', () => {
  it('keeps acknowledged writes and identical committed prefixes through crashes and clean elections', () => {
    const totals = { appends: 0, acked: 0, elections: 0, truncations: 0, offline: 0, isrCommits: 0 };
    fc.assert(
      fc.property(commands, (cmds) => {
        const c = simulate(false, cmds);
        for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += c.stats[k];
      }),
      RUNS,
    );
    console.log('simulation totals over', RUNS.numRuns, 'runs:', JSON.stringify(totals));
    // The walk must reach the interesting states, or the invariants prove little.
    // Thresholds are about half of what a run reaches (acked ~500, failovers ~200, truncations ~40,
    // ISR commits ~50, offline ~70 over 200 runs).
    expect(totals.acked).toBeGreaterThan(250);
    expect(totals.elections - RUNS.numRuns).toBeGreaterThan(100);
    expect(totals.truncations).toBeGreaterThan(15);
    expect(totals.isrCommits).toBeGreaterThan(20);
    expect(totals.offline).toBeGreaterThan(20);
  });

  it('does not let a follower into the ISR on a proposal made before it restarted and lost its tail (KIP-903)', () => {
    // Found by the walk below (seed 1434331850): replica 1 catches up outside the ISR, the leader proposes
    // adding it, replica 1 crashes, loses its unflushed copy and restarts, and only then the proposal commits.
    const c = simulate(true, [
      { t: 'crashLeader' },
      { t: 'restart', r: 0 },
      { t: 'append' },
      { t: 'fetchAll' },
      { t: 'crash', r: 0 },
      { t: 'restart', r: 0 },
      { t: 'commitIsr' },
    ]);
    expect(c.isr).not.toContain(1);
    expect(c.rs?.pendingIsr).toBeNull();
    expect(c.acked).toHaveLength(1);
  });

  it('keeps the same guarantees when crashes lose unflushed tails, until every ISR member has lost one', () => {
    let lossyRuns = 0;
    let truncations = 0;
    fc.assert(
      fc.property(commands, (cmds) => {
        const c = simulate(true, cmds);
        if (c.lossy) lossyRuns++;
        truncations += c.stats.truncations;
      }),
      RUNS,
    );
    console.log('tail-loss variant:', lossyRuns, 'of', RUNS.numRuns, 'runs lost their last ISR member\'s tail;', truncations, 'truncations');
    expect(truncations).toBeGreaterThan(0);
    // Not asserted as a bound: how often the last ISR member loses its tail is a property of the walk.
    expect(lossyRuns).toBeLessThan(RUNS.numRuns);
  });
});
