// One broker's membership in a cluster, on its main thread: its lease and registration, its bid for
// the controller role, its mirror of the cluster's records, and the requests it makes of etcd
// (create/delete topic, ISR changes of partitions it leads). Owners never talk to etcd: this module
// tells them what they lead and follow, and carries their ISR proposals.
//
// Fencing: the broker stops acting as leader (and as controller) once `last successful keepalive
// sent + TTL − margin` has passed on its own monotonic clock (HeldLease), well before etcd3's `lost`
// event, and before etcd itself can have expired the lease and let another broker be elected.
import { ErrorCode, TickbusError } from '../../schemas/errors.js';
import type { LogConfig } from '../log/log-config.js';
import { checkTopicLimits, type TopicLimits } from '../limits/topic-limits.js';
import { logLine } from '../logger.js';
import { ClusterView } from './cluster-view.js';
import { Controller } from './controller.js';
import { EtcdClient, type HeldLease } from './etcd.js';
import { type BrokerRecord, type CreateRequest, Keys, type PartitionRecord, processRevisionOf, type TopicRecord, withIsrProcesses } from './records.js';

export interface ClusterOptions {
  /** etcd client URLs, e.g. ['http://127.0.0.1:2379']. */
  etcd: string[];
  cluster: string;
  nodeId: number;
  zone: string;
  /** Broker lease TTL; a silent broker loses its partitions' leadership about this long after it went silent. */
  leaseTtlMs: number;
  /** Stop leading this long before the lease can have expired in etcd (clock rate differences, GC pauses). */
  fenceMarginMs: number;
  uncleanLeaderElection: boolean;
  /** How long an admin request waits for the controller to carry it out. */
  adminTimeoutMs: number;
  /** Balancing and reassignment knobs of this broker's controller (controller.ts CONTROLLER_DEFAULTS). */
  maxConcurrentMoves?: number;
  replaceAfterMs?: number;
  preferredLeaderDelayMs?: number;
  autoBalance?: boolean;
  /** Topics and partitions the cluster may hold (config.limits); absent = no limit. */
  topicLimits?: TopicLimits;
}

export const CLUSTER_DEFAULTS = { cluster: 'default', zone: 'default', leaseTtlMs: 3_000, fenceMarginMs: 1_000, uncleanLeaderElection: false, adminTimeoutMs: 10_000 };

/** A partition this broker holds a replica of, with the records that say what it should do. */
export interface LocalReplica {
  topic: TopicRecord;
  partition: PartitionRecord;
}

export class ClusterNode {
  readonly keys: Keys;
  readonly view: ClusterView;
  private lease: HeldLease | null = null;
  private registration: { incarnation: string; modRevision: number } | null = null;
  /** Test hook (goSilent): registers no more. */
  private frozen = false;
  /** The revision of this process's first registration; kept across leases (BrokerRecord.processRevision). */
  private processRevision: number | null = null;
  private controllerRevision = 0;
  private readonly controller: Controller;
  private stopFollow: (() => Promise<void>) | null = null;
  private closed = false;
  private readonly changeListeners = new Set<() => void>();
  /** Writes of this broker's own record (setOwnerEndpoint), one at a time, each with the latest `self`. */
  private selfWrites: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly etcd: EtcdClient,
    readonly options: ClusterOptions,
    /** What this broker registers; owner endpoints change when an owner thread restarts on another port. */
    private self: Omit<BrokerRecord, 'incarnation'>,
  ) {
    this.keys = new Keys(options.cluster);
    this.view = new ClusterView(this.keys);
    this.controller = new Controller(etcd, this.keys, this.view, () => this.controllerRevision, {
      uncleanLeaderElection: options.uncleanLeaderElection,
      ...(options.maxConcurrentMoves !== undefined && { maxConcurrentMoves: options.maxConcurrentMoves }),
      ...(options.replaceAfterMs !== undefined && { replaceAfterMs: options.replaceAfterMs }),
      ...(options.preferredLeaderDelayMs !== undefined && { preferredLeaderDelayMs: options.preferredLeaderDelayMs }),
      ...(options.autoBalance !== undefined && { autoBalance: options.autoBalance }),
    });
    this.view.onChange(() => this.onViewChange());
  }

  static async start(options: ClusterOptions, self: Omit<BrokerRecord, 'incarnation'>): Promise<ClusterNode> {
    const etcd = new EtcdClient(options.etcd);
    const node = new ClusterNode(etcd, options, self);
    try {
      node.stopFollow = await etcd.follow(
        node.keys.root,
        (entries) => node.view.reset(entries),
        (ev) => node.view.apply(ev),
      );
      await node.register();
    } catch (err) {
      await node.close();
      throw err;
    }
    return node;
  }

  get nodeId(): number {
    return this.options.nodeId;
  }

  /** This process (BrokerRecord.processRevision): -1 until its first registration. */
  get process(): number {
    return this.processRevision ?? -1;
  }

  /** True while this broker's lease is valid on its own clock: only then may it lead. */
  get live(): boolean {
    return this.lease?.isValid() === true && this.registration !== null;
  }

  get isController(): boolean {
    return this.controllerRevision !== 0 && this.live;
  }

  get controllerStats(): Controller['stats'] {
    return this.controller.stats;
  }

  /** Called (once per batch of changes) when the view or this broker's liveness changes. */
  onChange(fn: () => void): void {
    this.changeListeners.add(fn);
  }

  /** The replicas this broker should hold, with what the cluster says of each. */
  localReplicas(): LocalReplica[] {
    const out: LocalReplica[] = [];
    for (const t of this.view.topics.values()) {
      for (const p of this.view.partitionsOf(t.value.name)) {
        if (p.value.replicas.includes(this.nodeId) && p.value.topicId === t.value.id) out.push({ topic: t.value, partition: p.value });
      }
    }
    return out;
  }

  broker(id: number): BrokerRecord | undefined {
    return this.view.brokers.get(id)?.value;
  }

  // ------------------------------------------------------------------ membership

  private async register(): Promise<void> {
    const lease = await this.etcd.grantLease(this.options.leaseTtlMs, this.options.fenceMarginMs);
    const record: BrokerRecord = { ...this.self, incarnation: lease.id, ...this.processField() };
    const { revision } = await this.etcd.txn(
      [{ key: this.keys.broker(this.nodeId), modRevision: this.view.brokers.get(this.nodeId)?.modRevision ?? 0 }],
      [{ key: this.keys.broker(this.nodeId), value: JSON.stringify(record), lease: lease.id }],
    ).then(async (r) => {
      if (r.ok) return r;
      // Our own previous incarnation's key (a restart within its TTL) changed under us: overwrite it anyway,
      // the new incarnation is what tells the controller that process is gone.
      const cur = await this.etcd.get(this.keys.broker(this.nodeId));
      const again = await this.etcd.txn(
        [{ key: this.keys.broker(this.nodeId), modRevision: cur?.modRevision ?? 0 }],
        [{ key: this.keys.broker(this.nodeId), value: JSON.stringify(record), lease: lease.id }],
      );
      if (!again.ok) throw new TickbusError(ErrorCode.CONTROL_PLANE_UNAVAILABLE, `broker ${this.nodeId}: registration raced twice; is another broker running with --node-id ${this.nodeId}?`);
      return again;
    });
    this.lease = lease;
    this.registration = { incarnation: lease.id, modRevision: revision };
    this.processRevision ??= revision;
    lease.onLost(() => this.onLeaseLost(lease));
    logLine('cluster: registered', { node: this.nodeId, zone: this.self.zone, lease: lease.id });
    this.onViewChange();
  }

  /**
   * Points this broker's record at an owner's new endpoint (its thread restarted on another port): other
   * brokers' followers and every client find owners through this record, which join wrote once. The
   * write keeps the lease and compares the record's mod revision, and is made only over the record of
   * this very incarnation, so it can never bring back the key of a lost lease or overwrite a newer
   * registration. Resolves true once etcd holds the endpoint, false when it cannot be written now
   * (not registered, etcd unreachable, raced three times): the next registration writes it anyway,
   * and a later call tries again.
   */
  async setOwnerEndpoint(ownerId: number, url: string): Promise<boolean> {
    if (!Number.isInteger(ownerId) || ownerId < 0 || ownerId >= this.self.owners.length) {
      throw new RangeError(`owner id must be an integer from 0 to ${this.self.owners.length - 1}, got ${ownerId}`);
    }
    if (url === '') throw new TypeError('an owner endpoint is a non-empty URL');
    if (this.self.owners[ownerId] !== url) {
      const owners = [...this.self.owners];
      owners[ownerId] = url;
      this.self = { ...this.self, owners };
    }
    const write = this.selfWrites.then(() => this.writeSelf());
    this.selfWrites = write.catch(() => undefined);
    return write;
  }

  /** Every record after this process's first carries the revision of that first one (records.ts). */
  private processField(): { processRevision?: number } {
    return this.processRevision === null ? {} : { processRevision: this.processRevision };
  }

  private async writeSelf(): Promise<boolean> {
    const key = this.keys.broker(this.nodeId);
    for (let attempt = 0; attempt < 3; attempt++) {
      const reg = this.registration;
      const lease = this.lease;
      if (this.closed || !reg || !lease?.isValid()) return false;
      const record: BrokerRecord = { ...this.self, incarnation: reg.incarnation, ...this.processField() };
      const value = JSON.stringify(record);
      const cur = await this.etcd.get(key);
      // Gone (the lease expired in etcd) or another incarnation's: registering again writes `self`.
      if (!cur || (JSON.parse(cur.value) as BrokerRecord).incarnation !== reg.incarnation) return false;
      if (cur.value === value) return true;
      const { ok, revision } = await this.etcd.txn([{ key, modRevision: cur.modRevision }], [{ key, value, lease: lease.id }]);
      if (ok) {
        if (this.registration === reg) reg.modRevision = revision;
        logLine('cluster: broker record updated', { node: this.nodeId, owners: record.owners.join(' ') });
        return true;
      }
    }
    return false;
  }

  private onLeaseLost(lease: HeldLease): void {
    if (this.lease !== lease) return;
    this.lease = null;
    this.registration = null;
    this.controllerRevision = 0;
    logLine('cluster: lease presumed lost on our own clock; fenced (no leadership) until registered again', { node: this.nodeId });
    this.notify();
    if (!this.closed && !this.frozen) void this.reregister();
  }

  private async reregister(): Promise<void> {
    for (let delay = 200; !this.closed && !this.lease; delay = Math.min(2_000, delay * 2)) {
      try {
        await this.register();
        return;
      } catch (err) {
        logLine('cluster: cannot register yet', { node: this.nodeId, error: String(err) });
        await new Promise((r) => setTimeout(r, delay).unref());
      }
    }
  }

  private onViewChange(): void {
    const c = this.view.controller;
    if (c?.id === this.nodeId && c.modRevision === this.controllerRevision) {
      // still ours
    } else if (c?.id === this.nodeId && c.lease === this.lease?.id && this.live) {
      // Our campaign's transaction committed but its answer was lost (etcd restarting): the key is bound
      // to our current lease, so it is ours.
      this.controllerRevision = c.modRevision;
      logLine('cluster: elected controller (confirmed from the watch)', { node: this.nodeId, revision: c.modRevision });
    } else if (this.controllerRevision !== 0) {
      this.controllerRevision = 0;
      logLine('cluster: no longer controller', { node: this.nodeId });
    }
    if (!c && this.live) void this.campaign();
    if (this.isController) this.controller.poke();
    this.notify();
  }

  private campaigning = false;
  private async campaign(): Promise<void> {
    const lease = this.lease;
    if (this.campaigning || !lease) return;
    this.campaigning = true;
    try {
      const { ok, revision } = await this.etcd.txn(
        [{ key: this.keys.controller, modRevision: 0 }],
        [{ key: this.keys.controller, value: JSON.stringify(this.nodeId), lease: lease.id }],
      );
      if (ok && this.lease === lease) {
        this.controllerRevision = revision;
        logLine('cluster: elected controller', { node: this.nodeId, revision });
        this.controller.poke();
      }
    } catch (err) {
      logLine('cluster: controller campaign failed', { node: this.nodeId, error: String(err) });
    } finally {
      this.campaigning = false;
    }
  }

  private notify(): void {
    for (const fn of this.changeListeners) fn();
  }

  // ------------------------------------------------------------------ requests

  /** Asks the controller to create a topic and waits until its partitions exist. */
  async createTopic(req: Omit<CreateRequest, 'from'>): Promise<TopicRecord> {
    if (this.view.topics.has(req.name)) throw new TickbusError(ErrorCode.TOPIC_EXISTS, `topic '${req.name}' already exists`, { topic: req.name });
    if (this.options.topicLimits) {
      let partitions = 0;
      for (const t of this.view.topics.values()) partitions += t.value.partitions;
      checkTopicLimits(this.options.topicLimits, { topics: this.view.topics.size, partitions }, req.name, req.partitions);
    }
    const live = this.view.brokers.size;
    if (req.replicationFactor > live) {
      throw new TickbusError(ErrorCode.INVALID_CONFIG, `replication factor ${req.replicationFactor} needs ${req.replicationFactor} live brokers; the cluster has ${live}`);
    }
    if (req.minInsync < 1 || req.minInsync > req.replicationFactor) {
      throw new TickbusError(ErrorCode.INVALID_CONFIG, `min in-sync replicas must be from 1 to the replication factor ${req.replicationFactor}, got ${req.minInsync}`);
    }
    const key = this.keys.createRequest(req.name);
    await this.etcd.txn([{ key, modRevision: 0 }, { key: this.keys.topic(req.name), modRevision: 0 }], [{ key, value: JSON.stringify({ ...req, from: this.nodeId }) }]);
    await this.waitFor(() => {
      const t = this.view.topics.get(req.name);
      return this.view.partitionsOf(req.name).length === t?.value.partitions;
    }, `the controller did not create topic '${req.name}'`);
    return this.view.topics.get(req.name)!.value;
  }

  async deleteTopic(name: string): Promise<TopicRecord> {
    const t = this.view.topics.get(name);
    if (!t) throw new TickbusError(ErrorCode.UNKNOWN_TOPIC, `topic '${name}' does not exist`, { topic: name });
    const key = this.keys.deleteRequest(name);
    await this.etcd.txn([{ key, modRevision: 0 }], [{ key, value: JSON.stringify({ name }) }]);
    await this.waitFor(() => this.view.topics.get(name)?.value.id !== t.value.id, `the controller did not delete topic '${name}'`);
    return t.value;
  }

  /**
   * A leader's ISR change, written only if the partition record is still the one it leads at `epoch`
   * and this broker is still registered (its key is bound to its lease): a deposed or fenced leader
   * cannot change the ISR. A member it adds must be registered, under the registration this view
   * holds, until the write (KIP-903): a follower that caught up, then restarted and lost an unsynced
   * tail before the write, comes back under a new registration and is not let into the ISR on the
   * strength of what its previous process had. `processes` names, for the members it adds, the process
   * whose fetches caught up (the leader's ReplicaFetch.processRevision); each must be the one registered
   * now, and is what the record keeps for the member (isrProcesses). `base`, the committed ISR the leader
   * proposed from, must be the record's: the controller changes the ISR without a new epoch (a restarted
   * follower taken out), and a proposal made before the leader heard of it would take that follower back
   * in, unnamed in `processes`, under its new process.
   */
  async proposeIsr(topic: string, partition: number, epoch: number, isr: number[], processes: Record<string, number>, base: readonly number[]): Promise<boolean> {
    const rec = this.view.partition(topic, partition);
    const reg = this.view.brokers.get(this.nodeId);
    if (!rec || !reg || !this.live || rec.value.leader !== this.nodeId || rec.value.leaderEpoch !== epoch) return false;
    if (base.length !== rec.value.isr.length || base.some((id) => !rec.value.isr.includes(id))) return false;
    if (reg.value.incarnation !== this.registration?.incarnation) return false;
    const guards = [
      { key: this.keys.partition(topic, partition), modRevision: rec.modRevision },
      { key: this.keys.broker(this.nodeId), modRevision: reg.modRevision },
    ];
    for (const id of isr) {
      if (rec.value.isr.includes(id)) continue;
      const member = this.view.brokers.get(id);
      if (!member) return false;
      // The process whose fetches caught up, when the follower named it, must be the one registered now:
      // a follower that restarted after catching up, and registered again before this write, is refused
      // here rather than taken in on the strength of its previous process's log.
      const fetched = processes[id];
      if (fetched !== undefined && fetched !== processRevisionOf(member)) return false;
      guards.push({ key: this.keys.broker(id), modRevision: member.modRevision });
    }
    // A member joining is recorded under the process its registration (guarded above) names.
    const next = withIsrProcesses({ ...rec.value, isr }, rec, (id) => this.view.brokers.get(id));
    const { ok } = await this.etcd.txn(guards, [{ key: this.keys.partition(topic, partition), value: JSON.stringify(next) }]);
    return ok;
  }

  private waitFor(cond: () => boolean, what: string): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (done || !cond()) return;
        done = true;
        this.changeListeners.delete(check);
        clearTimeout(timer);
        resolve();
      };
      let done = false;
      const timer = setTimeout(() => {
        done = true;
        this.changeListeners.delete(check);
        reject(new TickbusError(ErrorCode.TIMEOUT, `${what} within ${this.options.adminTimeoutMs} ms: is a controller elected and etcd reachable?`));
      }, this.options.adminTimeoutMs);
      this.changeListeners.add(check);
    });
  }

  /**
   * Test hook: stop keepalives (the lease then expires in etcd). `frozen`: and do not register again, as a
   * SIGSTOPped process could not; otherwise the broker registers again once it has fenced itself, as a
   * running process that lost its lease does.
   */
  goSilent(frozen = false): void {
    if (frozen) this.frozen = true;
    this.lease?.release();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const lease = this.lease;
    this.lease = null;
    this.controllerRevision = 0;
    await this.stopFollow?.();
    // Revoking deletes our registration (and the controller key if we held it) at once, so the others
    // elect new leaders now rather than a TTL later.
    await lease?.revoke();
    await this.etcd.close();
  }
}

export type { LogConfig };
