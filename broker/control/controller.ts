// The controller: one broker at a time (whoever holds the `controller` key, bound to its lease)
// turns requests and broker deaths into partition records. Every write is one etcd transaction
// guarded by the controller key's mod revision as this controller created it — a deposed controller,
// whose key expired with its lease, can no longer write anything — and by the mod revision of every
// record it read, so it never overwrites a change it did not see (e.g. a leader's ISR update).
import { logLine } from '../logger.js';
import { electLeader, isrWithoutDead } from '../replication/leader-election.js';
import { type BalancerPartition, planMoves } from './balancer.js';
import type { ClusterView, Versioned } from './cluster-view.js';
import type { EtcdClient, Guard, Put } from './etcd.js';
import { placeReplicas } from './placement.js';
import { type CreateRequest, isMoving, type Keys, originalReplicas, type PartitionRecord, type ReassignRequest, restartedSinceIsr, targetReplicas, type TopicRecord, withIsrProcesses } from './records.js';

export interface ControllerOptions {
  /** Elect an out-of-sync replica when no in-sync one is alive (loses committed records; off by default). */
  uncleanLeaderElection: boolean;
  /** Reassignments the balancer keeps in progress at once (manual plans are not bounded by it). */
  maxConcurrentMoves?: number;
  /** A broker named as a replica and not registered for this long has its replicas placed on others; 0 = never. */
  replaceAfterMs?: number;
  /** Leadership returns to the preferred replica after it has been eligible this long (hysteresis). */
  preferredLeaderDelayMs?: number;
  /** Move partitions to brokers that join, and away from brokers that left or are drained. */
  autoBalance?: boolean;
}

export const CONTROLLER_DEFAULTS = { maxConcurrentMoves: 2, replaceAfterMs: 0, preferredLeaderDelayMs: 3_000, autoBalance: true };

export class Controller {
  private running = false;
  private again = false;
  /** Counters for /metrics. */
  readonly stats = { leaderElections: 0, uncleanElections: 0, topicsCreated: 0, topicsDeleted: 0, movesStarted: 0, movesCompleted: 0, preferredLeaderMoves: 0, restartedOutOfIsr: 0 };
  private readonly opts: Required<ControllerOptions>;
  /** Broker ids named as replicas but not registered, since when (monotonic ms, this controller's memory). */
  private readonly goneSince = new Map<number, number>();
  /** Partitions whose preferred replica is eligible to lead but does not, since when. */
  private readonly preferredWaiting = new Map<string, number>();
  private wake: { at: number; timer: NodeJS.Timeout } | null = null;

  constructor(
    private readonly etcd: EtcdClient,
    private readonly keys: Keys,
    private readonly view: ClusterView,
    private readonly controllerRevision: () => number,
    options: ControllerOptions,
  ) {
    this.opts = { ...CONTROLLER_DEFAULTS, ...options };
  }

  /** Runs one reconcile pass at a time; a change during a pass runs another after it. */
  poke(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void (async () => {
      try {
        do {
          this.again = false;
          if (this.controllerRevision() === 0) return;
          await this.reconcile();
          // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- poke() sets it during the await
        } while (this.again);
      } catch (err) {
        logLine('controller pass failed; retrying on the next change', { error: String(err) });
        setTimeout(() => this.poke(), 500).unref();
      } finally {
        this.running = false;
      }
    })();
  }

  private guard(): Guard {
    return { key: this.keys.controller, modRevision: this.controllerRevision() };
  }

  private async reconcile(): Promise<void> {
    for (const [name, req] of [...this.view.createRequests]) await this.createTopic(name, req.value, req.modRevision);
    for (const [name, req] of [...this.view.deleteRequests]) await this.deleteTopic(name, req.modRevision);
    for (const rec of [...this.view.partitions.values()]) await this.electIfLeaderGone(rec);
    await this.restartedFollowersOutOfIsr();
    for (const [key, req] of [...this.view.reassignRequests]) await this.reassignFromRequest(key, req);
    for (const rec of [...this.view.partitions.values()]) {
      if (isMoving(rec.value)) await this.completeMoveIfReady(rec);
      else await this.preferredLeader(rec);
    }
    if (this.opts.autoBalance) await this.balance();
  }

  /** Runs another pass at `delayMs` from now (one timer, at the earliest time asked). */
  private wakeIn(delayMs: number): void {
    const at = performance.now() + delayMs;
    if (this.wake && this.wake.at <= at) return;
    if (this.wake) clearTimeout(this.wake.timer);
    const timer = setTimeout(() => {
      this.wake = null;
      this.poke();
    }, Math.max(1, delayMs));
    timer.unref();
    this.wake = { at, timer };
  }

  private alive(id: number): boolean {
    return this.view.brokers.has(id);
  }

  private draining(id: number): boolean {
    return this.view.drains.has(id);
  }

  /**
   * An ISR member may be handed leadership by choice (preferred leader, end of a move) only if its broker
   * runs the process the ISR took in (PartitionRecord.isrProcesses): a restarted broker may have lost an
   * unsynced tail while the record still lists it in the ISR, until its leader takes it in again. A lease
   * lost and taken again (every broker after an etcd outage) is the same process with its log intact.
   */
  private caughtUpSinceRestart(id: number, rec: Versioned<PartitionRecord>): boolean {
    const b = this.view.brokers.get(id);
    return b !== undefined && !restartedSinceIsr(rec, id, b);
  }

  /** Writes `next` over `rec` if neither changed meanwhile. */
  private async writePartition(rec: Versioned<PartitionRecord>, next: PartitionRecord): Promise<boolean> {
    const { ok } = await this.etcd.txn([this.guard(), { key: this.keys.partition(rec.value.topic, rec.value.partition), modRevision: rec.modRevision }], [this.partitionPut(rec, next)]);
    return ok;
  }

  /** The put of `next` over `rec`, the way every controller write of a partition makes it: each ISR member keeps the process it joined under. */
  private partitionPut(rec: Versioned<PartitionRecord>, next: PartitionRecord): Put {
    const value = withIsrProcesses(next, rec, (id) => this.view.brokers.get(id));
    return { key: this.keys.partition(rec.value.topic, rec.value.partition), value: JSON.stringify(value) };
  }

  // ------------------------------------------------------------------ reassignment (KIP-455)

  private async reassignFromRequest(key: string, req: Versioned<ReassignRequest>): Promise<void> {
    const { topic, partition, replicas } = req.value;
    const requestKey = this.keys.reassignRequest(topic, partition);
    const rec = this.view.partition(topic, partition);
    const problem = !rec
      ? `partition ${topic}/${partition} does not exist`
      : !Array.isArray(replicas) || replicas.length === 0 || new Set(replicas).size !== replicas.length
        ? `target replicas must be a non-empty list of distinct broker ids, got ${JSON.stringify(replicas)}`
        : replicas.find((id) => !this.alive(id)) !== undefined
          ? `broker ${replicas.find((id) => !this.alive(id))} is not registered`
          : null;
    if (problem || !rec) {
      logLine('controller: reassignment refused', { partition: key, error: problem });
      await this.etcd.txn([this.guard(), { key: requestKey, modRevision: req.modRevision }], [], [requestKey]);
      return;
    }
    const next = this.withTarget(rec.value, replicas);
    const { ok } = await this.etcd.txn(
      [this.guard(), { key: requestKey, modRevision: req.modRevision }, { key: this.keys.partition(topic, partition), modRevision: rec.modRevision }],
      next ? [this.partitionPut(rec, next)] : [],
      [requestKey],
    );
    if (ok && next) this.logMoveStarted(rec.value, next, 'manual');
  }

  /**
   * The record that starts moving a partition to `target` (null: nothing to change). Learners are
   * added to `replicas` outside the ISR; the old replicas stay until every target one is in the ISR.
   * A new target for a partition already moving starts again from its original replicas: learners
   * the new target does not name are dropped. The leader epoch goes up whenever the replica set
   * changes, because the leader's ISR bookkeeping (ReplicaSet) is per epoch; producers see one
   * retryable NOT_LEADER and carry on. A reorder of the same replicas changes only the preference.
   */
  private withTarget(rec: PartitionRecord, target: number[]): PartitionRecord | null {
    const base = originalReplicas(rec);
    const adding = target.filter((r) => !base.includes(r));
    const removing = base.filter((r) => !target.includes(r));
    const replicas = [...target, ...removing];
    const same = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((x, i) => b[i] === x);
    if (same(replicas, rec.replicas) && same(adding, rec.addingReplicas ?? []) && same(removing, rec.removingReplicas ?? [])) return null;
    const next: PartitionRecord = { ...rec, replicas, isr: rec.isr.filter((r) => replicas.includes(r)) };
    delete next.addingReplicas;
    delete next.removingReplicas;
    if (adding.length > 0) next.addingReplicas = adding;
    if (removing.length > 0) next.removingReplicas = removing;
    const setChanged = replicas.length !== rec.replicas.length || replicas.some((r) => !rec.replicas.includes(r));
    if (setChanged) next.leaderEpoch = rec.leaderEpoch + 1;
    return next;
  }

  private logMoveStarted(rec: PartitionRecord, next: PartitionRecord, reason: string): void {
    if (!isMoving(next)) {
      logLine('controller: replicas reordered', { partition: `${rec.topic}/${rec.partition}`, replicas: JSON.stringify(next.replicas), reason });
      return;
    }
    this.stats.movesStarted++;
    logLine('controller: reassignment started', {
      partition: `${rec.topic}/${rec.partition}`,
      from: JSON.stringify(targetReplicas(rec)),
      to: JSON.stringify(targetReplicas(next)),
      adding: JSON.stringify(next.addingReplicas ?? []),
      removing: JSON.stringify(next.removingReplicas ?? []),
      epoch: next.leaderEpoch,
      reason,
    });
  }

  /**
   * Every target replica is in the ISR: the move completes in one write. Leadership moves if the
   * leader is being removed (or is gone), to the first target replica in the ISR that is alive;
   * removed replicas leave `replicas` and the ISR, and their brokers close and delete the partition.
   */
  private async completeMoveIfReady(rec: Versioned<PartitionRecord>): Promise<void> {
    const p = rec.value;
    const target = targetReplicas(p);
    if (!target.every((r) => p.isr.includes(r))) return;
    const leaderStays = target.includes(p.leader) && this.view.brokers.get(p.leader)?.value.incarnation === p.leaderIncarnation && !this.draining(p.leader);
    const leader = leaderStays ? p.leader : target.find((r) => this.alive(r) && !this.draining(r) && this.caughtUpSinceRestart(r, rec));
    // No target replica can lead cleanly now: wait (the partition keeps its old replicas meanwhile).
    if (leader === undefined) return;
    const next: PartitionRecord = {
      ...p,
      replicas: target,
      isr: target.filter((r) => p.isr.includes(r)),
      leader,
      leaderIncarnation: this.view.brokers.get(leader)?.value.incarnation ?? '',
      leaderEpoch: p.leaderEpoch + 1,
    };
    delete next.addingReplicas;
    delete next.removingReplicas;
    if (!(await this.writePartition(rec, next))) return;
    this.stats.movesCompleted++;
    if (leader !== p.leader) this.stats.leaderElections++;
    logLine('controller: reassignment completed', {
      partition: `${p.topic}/${p.partition}`,
      replicas: JSON.stringify(target),
      leader,
      epoch: next.leaderEpoch,
      removed: JSON.stringify(p.removingReplicas ?? []),
    });
  }

  // ------------------------------------------------------------------ preferred leaders

  /**
   * Leadership returns to the first replica (in preference order) that is alive, in the ISR, not being
   * drained and known to be caught up since its restart, once it has been so for preferredLeaderDelayMs
   * (Kafka's auto.leader.rebalance, with hysteresis so a flapping broker does not drag leadership back
   * and forth). A leader on a draining broker hands over at once.
   */
  private async preferredLeader(rec: Versioned<PartitionRecord>): Promise<void> {
    const p = rec.value;
    const key = `${p.topic}/${p.partition}`;
    const leaderLive = p.leader >= 0 && this.view.brokers.get(p.leader)?.value.incarnation === p.leaderIncarnation;
    const want = p.replicas.find((r) => p.isr.includes(r) && this.alive(r) && !this.draining(r) && (r === p.leader || this.caughtUpSinceRestart(r, rec)));
    if (!leaderLive || want === undefined || want === p.leader) {
      this.preferredWaiting.delete(key);
      return;
    }
    const now = performance.now();
    if (!this.draining(p.leader)) {
      const since = this.preferredWaiting.get(key);
      if (since === undefined) this.preferredWaiting.set(key, now);
      const waited = now - (since ?? now);
      if (waited < this.opts.preferredLeaderDelayMs) {
        this.wakeIn(this.opts.preferredLeaderDelayMs - waited);
        return;
      }
    }
    const next: PartitionRecord = { ...p, leader: want, leaderIncarnation: this.view.brokers.get(want)?.value.incarnation ?? '', leaderEpoch: p.leaderEpoch + 1 };
    if (!(await this.writePartition(rec, next))) return;
    this.preferredWaiting.delete(key);
    this.stats.leaderElections++;
    this.stats.preferredLeaderMoves++;
    logLine('controller: leadership moved to the preferred replica', { partition: key, from: p.leader, to: want, epoch: next.leaderEpoch, draining: this.draining(p.leader) });
  }

  // ------------------------------------------------------------------ balancing

  /** Brokers whose replicas must move: drained ones, and ones gone longer than replaceAfterMs. */
  private excludedBrokers(): number[] {
    const now = performance.now();
    const named = new Set<number>();
    for (const rec of this.view.partitions.values()) for (const r of rec.value.replicas) named.add(r);
    for (const id of [...this.goneSince.keys()]) if (!named.has(id) || this.alive(id)) this.goneSince.delete(id);
    const out = new Set<number>(this.view.drains.keys());
    for (const id of named) {
      if (this.alive(id)) continue;
      const since = this.goneSince.get(id) ?? now;
      this.goneSince.set(id, since);
      if (this.opts.replaceAfterMs <= 0) continue;
      const left = this.opts.replaceAfterMs - (now - since);
      if (left <= 0) out.add(id);
      else this.wakeIn(left);
    }
    return [...out];
  }

  private async balance(): Promise<void> {
    const excluded = this.excludedBrokers();
    const eligible = [...this.view.brokers.values()].filter((b) => !this.draining(b.value.id)).map((b) => ({ id: b.value.id, zone: b.value.zone }));
    const partitions: BalancerPartition[] = [];
    let moving = 0;
    for (const t of this.view.topics.values()) {
      for (const rec of this.view.partitionsOf(t.value.name)) {
        if (rec.value.topicId !== t.value.id) continue;
        const m = isMoving(rec.value);
        if (m) moving++;
        partitions.push({ topic: rec.value.topic, partition: rec.value.partition, replicas: targetReplicas(rec.value), moving: m });
      }
    }
    const budget = this.opts.maxConcurrentMoves - moving;
    if (budget <= 0 || eligible.length === 0) return;
    for (const m of planMoves({ eligible, excluded, partitions, maxMoves: budget })) {
      const rec = this.view.partition(m.topic, m.partition);
      if (!rec) continue;
      const next = this.withTarget(rec.value, m.replicas);
      if (next && (await this.writePartition(rec, next))) this.logMoveStarted(rec.value, next, m.reason);
    }
  }

  private async createTopic(name: string, req: CreateRequest, reqRevision: number): Promise<void> {
    const requestKey = this.keys.createRequest(name);
    if (this.view.topics.has(name)) {
      await this.etcd.txn([this.guard(), { key: requestKey, modRevision: reqRevision }], [], [requestKey]);
      return;
    }
    const brokers = [...this.view.brokers.values()].map((b) => ({ id: b.value.id, zone: b.value.zone }));
    let replicas: number[][];
    try {
      replicas = placeReplicas(brokers, req.partitions, req.replicationFactor, this.view.topics.size);
    } catch (err) {
      // The requesting broker checked the live count; brokers left since. Drop the request: it times out there.
      logLine('create topic: cannot place replicas', { topic: name, error: String(err) });
      await this.etcd.txn([this.guard(), { key: requestKey, modRevision: reqRevision }], [], [requestKey]);
      return;
    }
    const next = this.view.nextTopicId;
    const id = next ? next.value : 1;
    const topic: TopicRecord = {
      name,
      id,
      partitions: req.partitions,
      replicationFactor: req.replicationFactor,
      minInsync: req.minInsync,
      config: req.config,
      createdAt: Date.now(),
    };
    const puts: Put[] = [
      { key: this.keys.topic(name), value: JSON.stringify(topic) },
      { key: this.keys.nextTopicId, value: JSON.stringify(id + 1) },
    ];
    replicas.forEach((r, p) => {
      const leader = r[0]!;
      const leaderIncarnation = this.view.brokers.get(leader)?.value.incarnation ?? '';
      const rec = withIsrProcesses({ topic: name, topicId: id, partition: p, replicas: r, leader, leaderIncarnation, leaderEpoch: 1, isr: [...r] }, null, (b) => this.view.brokers.get(b));
      puts.push({ key: this.keys.partition(name, p), value: JSON.stringify(rec) });
    });
    const { ok } = await this.etcd.txn(
      [this.guard(), { key: requestKey, modRevision: reqRevision }, { key: this.keys.topic(name), modRevision: 0 }, { key: this.keys.nextTopicId, modRevision: next?.modRevision ?? 0 }],
      puts,
      [requestKey],
    );
    if (ok) {
      this.stats.topicsCreated++;
      logLine('controller: topic created', { topic: name, partitions: req.partitions, replicas: JSON.stringify(replicas) });
    }
  }

  private async deleteTopic(name: string, reqRevision: number): Promise<void> {
    const requestKey = this.keys.deleteRequest(name);
    const t = this.view.topics.get(name);
    const deletes = [requestKey];
    const guards: Guard[] = [this.guard(), { key: requestKey, modRevision: reqRevision }];
    if (t) {
      guards.push({ key: this.keys.topic(name), modRevision: t.modRevision });
      deletes.push(this.keys.topic(name));
      for (let p = 0; p < t.value.partitions; p++) deletes.push(this.keys.partition(name, p));
    }
    const { ok } = await this.etcd.txn(guards, [], deletes);
    if (ok && t) {
      this.stats.topicsDeleted++;
      logLine('controller: topic deleted', { topic: name });
    }
  }

  /**
   * A follower whose broker's process restarted since the ISR took it in leaves that ISR: it may have come
   * back without an unsynced tail or with a damaged segment cut on open, and until it fetches its leader
   * cannot tell. It rejoins once it has caught up (replica-set.ts). Judged from the record alone
   * (isrProcesses), so neither a rewrite of the record after the restart (a leader's ISR write, an
   * election) nor a new controller that never saw the old process hides it. A lease lost and taken again
   * by the same process is not a restart (its log is intact): after an etcd outage every broker does
   * that, and taking them all out left each ISR to its leader alone, even when that leader was the one
   * replica that had lost records (docs/faults.md, seed 20261204). Offline partitions keep their ISR, so
   * their last member can lead when it returns; a leader that restarted is electIfLeaderGone's. A
   * compare-and-swap lost to the leader's own ISR write is retried on the pass that write causes.
   */
  private async restartedFollowersOutOfIsr(): Promise<void> {
    for (const rec of [...this.view.partitions.values()]) {
      const p = rec.value;
      if (p.leader < 0) continue;
      // Registered, under another process: one not registered is judged when it is back.
      const gone = p.isr.filter((id) => id !== p.leader && this.alive(id) && !this.caughtUpSinceRestart(id, rec));
      if (gone.length === 0) continue;
      if (!(await this.writePartition(rec, { ...p, isr: p.isr.filter((r) => !gone.includes(r)) }))) continue;
      this.stats.restartedOutOfIsr += gone.length;
      logLine('controller: restarted follower out of the ISR until it catches up', { partition: `${p.topic}/${p.partition}`, brokers: JSON.stringify(gone) });
    }
  }

  /**
   * The leader's process lost its lease and took another one (every broker does after an etcd outage; it
   * fenced itself meanwhile): its log is intact, so it leads again under its new registration, at epoch + 1.
   * Handing leadership to a follower instead would move every partition after each etcd outage, and drop
   * the leader's unreplicated tail, acknowledged to producers with acks 'leader'. Dead followers leave the
   * ISR, as at any election.
   */
  private async keepLeader(versioned: Versioned<PartitionRecord>, incarnation: string): Promise<void> {
    const rec = versioned.value;
    const next: PartitionRecord = { ...rec, leaderIncarnation: incarnation, leaderEpoch: rec.leaderEpoch + 1, isr: isrWithoutDead(rec.replicas, rec.isr, rec.leader, (id) => this.alive(id)) };
    if (!(await this.writePartition(versioned, next))) return;
    this.stats.leaderElections++;
    logLine('controller: leader kept under its new registration (same process)', { partition: `${rec.topic}/${rec.partition}`, leader: rec.leader, epoch: next.leaderEpoch, isr: JSON.stringify(next.isr) });
  }

  /**
   * A partition whose leader's broker is gone (its lease expired) gets a new leader from the ISR,
   * with epoch + 1 — the fencing token that makes the old leader's writes fail everywhere.
   */
  private async electIfLeaderGone(versioned: Versioned<PartitionRecord>): Promise<void> {
    const rec = versioned.value;
    const alive = (id: number): boolean => this.alive(id);
    const leaderBroker = this.view.brokers.get(rec.leader);
    if (leaderBroker?.value.incarnation === rec.leaderIncarnation) return;
    if (leaderBroker && rec.isr.includes(rec.leader) && !this.draining(rec.leader) && !restartedSinceIsr(versioned, rec.leader, leaderBroker)) {
      await this.keepLeader(versioned, leaderBroker.value.incarnation);
      return;
    }
    // A leader that restarted may have lost its unsynced tail: it leads again only if no other in-sync
    // replica is alive, as a last ISR member coming back would in Kafka.
    const isr = leaderBroker && rec.isr.some((id) => id !== rec.leader && alive(id)) ? rec.isr.filter((id) => id !== rec.leader) : rec.isr;
    // Followers whose process restarted since the ISR took them in are held to the same rule
    // (leader-election.ts, `restarted`): they lead only if no in-sync replica that kept running is alive.
    const restarted = (id: number): boolean => !this.caughtUpSinceRestart(id, versioned);
    const choice = electLeader({ replicas: rec.replicas, isr, isAlive: alive, unclean: this.opts.uncleanLeaderElection, restarted });
    const leader = choice.leader ?? -1;
    if (leader === -1 && rec.leader === -1) return; // still offline: nothing to write
    const next: PartitionRecord = {
      ...rec,
      leader,
      leaderIncarnation: leader === -1 ? '' : (this.view.brokers.get(leader)?.value.incarnation ?? ''),
      leaderEpoch: rec.leaderEpoch + 1,
      isr: choice.isr,
    };
    if (!(await this.writePartition(versioned, next))) return;
    this.stats.leaderElections++;
    if (choice.unclean) this.stats.uncleanElections++;
    logLine(choice.unclean ? 'controller: UNCLEAN leader election (committed records may be lost)' : 'controller: leader elected', {
      partition: `${rec.topic}/${rec.partition}`,
      leader,
      epoch: next.leaderEpoch,
      isr: JSON.stringify(next.isr),
    });
  }
}
