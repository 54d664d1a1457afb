// The controller: one broker at a time (whoever holds the `controller` key, bound to its lease)
// turns requests and broker deaths into partition records. Every write is one etcd transaction
// guarded by the controller key's mod revision as this controller created it — a deposed controller,
// whose key expired with its lease, can no longer write anything — and by the mod revision of every
// record it read, so it never overwrites a change it did not see (e.g. a leader's ISR update).
import { logLine } from '../logger.js';
import { electLeader } from '../replication/leader-election.js';
import type { ClusterView } from './cluster-view.js';
import type { EtcdClient, Guard, Put } from './etcd.js';
import { placeReplicas } from './placement.js';
import type { CreateRequest, Keys, PartitionRecord, TopicRecord } from './records.js';

export interface ControllerOptions {
  /** Elect an out-of-sync replica when no in-sync one is alive (loses committed records; off by default). */
  uncleanLeaderElection: boolean;
}

export class Controller {
  private running = false;
  private again = false;
  /** Counters for /metrics. */
  readonly stats = { leaderElections: 0, uncleanElections: 0, topicsCreated: 0, topicsDeleted: 0 };

  constructor(
    private readonly etcd: EtcdClient,
    private readonly keys: Keys,
    private readonly view: ClusterView,
    private readonly controllerRevision: () => number,
    private readonly options: ControllerOptions,
  ) {}

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
    for (const rec of [...this.view.partitions.values()]) await this.electIfLeaderGone(rec.value, rec.modRevision);
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
      const rec: PartitionRecord = { topic: name, topicId: id, partition: p, replicas: r, leader, leaderIncarnation, leaderEpoch: 1, isr: [...r] };
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
   * A partition whose leader's broker is gone (its lease expired) gets a new leader from the ISR,
   * with epoch + 1 — the fencing token that makes the old leader's writes fail everywhere.
   */
  private async electIfLeaderGone(rec: PartitionRecord, modRevision: number): Promise<void> {
    const alive = (id: number): boolean => this.view.brokers.has(id);
    const leaderBroker = this.view.brokers.get(rec.leader);
    if (leaderBroker?.value.incarnation === rec.leaderIncarnation) return;
    // A leader that restarted (new incarnation) may have lost its unsynced tail: it leads again only if
    // no other in-sync replica is alive, as a last ISR member coming back would in Kafka.
    const isr = leaderBroker && rec.isr.some((id) => id !== rec.leader && alive(id)) ? rec.isr.filter((id) => id !== rec.leader) : rec.isr;
    const choice = electLeader({ replicas: rec.replicas, isr, isAlive: alive, unclean: this.options.uncleanLeaderElection });
    const leader = choice.leader ?? -1;
    if (leader === -1 && rec.leader === -1) return; // still offline: nothing to write
    const next: PartitionRecord = {
      ...rec,
      leader,
      leaderIncarnation: leader === -1 ? '' : (this.view.brokers.get(leader)?.value.incarnation ?? ''),
      leaderEpoch: rec.leaderEpoch + 1,
      isr: choice.isr,
    };
    const { ok } = await this.etcd.txn(
      [this.guard(), { key: this.keys.partition(rec.topic, rec.partition), modRevision }],
      [{ key: this.keys.partition(rec.topic, rec.partition), value: JSON.stringify(next) }],
    );
    if (!ok) return;
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
