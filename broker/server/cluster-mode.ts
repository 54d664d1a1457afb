// Cluster mode's catalogue, on the main thread: joins the control plane (ClusterNode), turns every
// change of the cluster's records into messages to this broker's owners (open/delete topics, replica
// roles), carries the owners' ISR proposals to etcd, and answers metadata and admin from the view.
//
// Roles reach an owner only when they changed (role, leader, epoch, ISR, endpoint), except that an owner
// that (re)started, or whose ISR proposal was answered, gets its roles again: an owner's state does not
// outlive its thread, and after a proposal the leader must learn which ISR is committed.
//
// Consumer groups stay with the bootstrap broker a client talks to (the coordinator is local): in cluster
// mode, all members of one group must use the same bootstrap broker.
import { ErrorCode, TickbusError } from '../../schemas/errors.js';
import type { Frame, PartitionInfoWire, TopicInfoWire } from '../../schemas/frames.js';
import type { BrokerConfig, ClusterConfig } from '../config.js';
import { CLUSTER_DEFAULTS, ClusterNode } from '../control/cluster-node.js';
import type { TopicRecord } from '../control/records.js';
import { logLine } from '../logger.js';
import { ownerOf, validatePartitionCount, validateTopicName } from '../metadata/topic-store.js';
import type { FromOwner, OwnedTopic, PartitionStats, ReplicaRole } from '../owner/messages.js';
import { type AdminFrame, type Catalogue, topicLogConfig, toWireConfig } from './catalogue.js';
import { leaderEndpoint, ownedTopics, ownerEndpointOf, replicaRole, type RoleContext, sameRole } from './replica-roles.js';
import type { ClusterMetricsSource } from './metrics.js';
import type { Supervisor } from './supervisor.js';

/** After a failed message to an owner, try again this much later (every change also retries at once). */
const RETRY_MS = 1_000;

function positiveOr(v: number | undefined, fallback: number): number {
  return v !== undefined && v > 0 ? v : fallback;
}

/** What this broker last told one owner, as far as the owner confirmed it. */
class OwnerState {
  /**
   * Topics the owner has open: name → topic id (incarnation) and the partitions of it the owner holds
   * ('0,2,5': a reassignment adds or drops some).
   */
  readonly opened = new Map<string, { id: number; parts: string }>();
  /** Roles the owner confirmed, by `${topic}/${partition}`. */
  readonly sent = new Map<string, ReplicaRole>();
  running = false;
  again = false;
  /** Whether a change came during the pass that just ended (and forget it). */
  takeAgain(): boolean {
    const again = this.again;
    this.again = false;
    return again;
  }
  retry: NodeJS.Timeout | null = null;
  /** Forgets the confirmed roles of `topic`'s partitions, except those in `keep`. */
  forgetRoles(topic: string, keep: readonly number[] = []): void {
    for (const key of [...this.sent.keys()]) {
      if (key.startsWith(`${topic}/`) && !keep.includes(Number(key.slice(topic.length + 1)))) this.sent.delete(key);
    }
  }
}

export class ClusterCatalogue implements Catalogue {
  private node: ClusterNode | null = null;
  private readonly owners: OwnerState[] = [];
  /** Zones of every broker seen, so metadata names a replica's zone while its broker is down. */
  private readonly zones = new Map<number, string>();
  /** Owners whose endpoint is being written to our broker record. */
  private readonly publishing = new Set<number>();
  private closed = false;

  constructor(
    private readonly config: BrokerConfig,
    private readonly cluster: ClusterConfig,
    private readonly supervisor: Supervisor,
  ) {
    for (let i = 0; i < config.owners; i++) this.owners.push(new OwnerState());
  }

  /** Registers this broker (its owners and bootstrap are listening by now) and starts following the cluster. */
  async join(bootstrap: string, ownerUrls: string[]): Promise<void> {
    const k = this.cluster;
    this.node = await ClusterNode.start(
      {
        ...CLUSTER_DEFAULTS,
        etcd: k.etcd,
        cluster: k.name,
        nodeId: k.nodeId,
        zone: k.zone,
        leaseTtlMs: k.leaseTtlMs,
        fenceMarginMs: k.fenceMarginMs,
        uncleanLeaderElection: k.uncleanLeaderElection,
        topicLimits: this.config.limits,
        maxConcurrentMoves: k.maxConcurrentMoves,
        replaceAfterMs: k.replaceAfterMs,
        preferredLeaderDelayMs: k.preferredLeaderDelayMs,
        autoBalance: k.autoBalance,
      },
      { id: k.nodeId, zone: k.zone, bootstrap, owners: ownerUrls },
    );
    this.node.onChange(() => this.changed());
    this.changed();
  }

  get clusterNode(): ClusterNode | null {
    return this.node;
  }

  // ------------------------------------------------------------------ owners

  topicsFor(ownerId: number): OwnedTopic[] {
    const st = this.owners[ownerId];
    if (!this.node || !st) return [];
    // The owner being spawned opens exactly these; it has no roles until it says ready (then all are sent).
    const topics = [...ownedTopics(this.node.localReplicas(), ownerId, this.config.owners).values()];
    st.opened.clear();
    for (const t of topics) st.opened.set(t.name, { id: t.id, parts: t.partitions.join(',') });
    st.sent.clear();
    return topics;
  }

  ownerReady(ownerId: number): void {
    this.publishEndpoint(ownerId);
    this.owners[ownerId]?.sent.clear();
    this.poke(ownerId);
  }

  /**
   * Followers on other brokers and every client find an owner through our broker record: when the owner
   * is up at another endpoint than the record says (restarted with ephemeral owner ports, or a write that
   * failed before), write the new one. Called when an owner is ready and on every change of the view, so
   * a write that failed (etcd away, lease being renewed) is tried again with the next change.
   */
  private publishEndpoint(ownerId: number): void {
    const node = this.node;
    const now = this.supervisor.endpoint(ownerId);
    if (!node || now === '' || this.publishing.has(ownerId)) return;
    const registered = node.broker(this.cluster.nodeId)?.owners[ownerId];
    if (registered === now) return;
    this.publishing.add(ownerId);
    node
      .setOwnerEndpoint(ownerId, now)
      .then(
        (ok) => {
          // Not in the view yet (joining, or registering again): the write only confirmed what is there.
          if (ok && registered !== undefined) logLine('cluster: owner endpoint published', { owner: ownerId, was: registered, now });
        },
        (err: unknown) => logLine('cluster: cannot publish owner endpoint yet', { owner: ownerId, now, error: String(err) }),
      )
      .finally(() => this.publishing.delete(ownerId));
  }

  proposeIsr(m: Extract<FromOwner, { type: 'proposeIsr' }>): void {
    const node = this.node;
    if (!node) return;
    const key = `${m.topic}/${m.partition}`;
    node.proposeIsr(m.topic, m.partition, m.leaderEpoch, m.isr, m.processes, m.base).then(
      (ok) => {
        if (!ok) logLine('cluster: ISR proposal refused (the record changed or we no longer lead)', { topic: m.topic, partition: m.partition, epoch: m.leaderEpoch, isr: m.isr });
      },
      (err: unknown) => logLine('cluster: ISR proposal failed', { topic: m.topic, partition: m.partition, error: String(err) }),
    ).finally(() => {
      // Either way the leader learns the committed ISR: forget what we sent, so the role goes again.
      this.owners[m.ownerId]?.sent.delete(key);
      this.poke(m.ownerId);
    });
  }

  private changed(): void {
    const node = this.node;
    if (!node) return;
    for (const b of node.view.brokers.values()) this.zones.set(b.value.id, b.value.zone);
    for (let i = 0; i < this.owners.length; i++) {
      this.publishEndpoint(i);
      this.poke(i);
    }
  }

  /** One sync pass per owner at a time; a change during a pass runs another after it. */
  private poke(ownerId: number): void {
    const st = this.owners[ownerId];
    if (!st || !this.node || this.closed) return;
    if (st.running) {
      st.again = true;
      return;
    }
    st.running = true;
    void (async () => {
      try {
        st.again = false;
        do await this.sync(ownerId, st);
        while (st.takeAgain() && !this.closed);
      } catch (err) {
        // Owner down, restarting or slow: its ready hook syncs it again; a slow one is retried here.
        logLine('cluster: owner not in sync yet; retrying', { owner: ownerId, error: String(err) });
        if (!st.retry && !this.closed) {
          st.retry = setTimeout(() => {
            st.retry = null;
            this.poke(ownerId);
          }, RETRY_MS);
          st.retry.unref();
        }
      } finally {
        st.running = false;
      }
    })();
  }

  private roleContext(node: ClusterNode): RoleContext {
    return { nodeId: node.nodeId, live: node.live, process: node.process, broker: (id) => node.broker(id) };
  }

  private async sync(ownerId: number, st: OwnerState): Promise<void> {
    const node = this.node;
    if (!node || !this.supervisor.status()[ownerId]?.up) return;
    const replicas = node.localReplicas().filter((r) => ownerOf(r.topic.name, r.partition.partition, this.config.owners) === ownerId);
    const want = ownedTopics(replicas, ownerId, this.config.owners);

    for (const [name, { id, parts }] of [...st.opened]) {
      if (want.get(name)?.id === id) continue;
      // Deleted (or this broker no longer holds a replica of it here). A new incarnation under the same
      // name needs no delete: opening it drops the old one and its files (partition-registry.ts).
      const live = node.view.topics.get(name)?.value;
      if (!want.has(name) && live?.id === id) {
        // Still a topic, but no replica of it here any more (a reassignment moved them away): the owner
        // closes and deletes our partitions and answers NOT_OWNER (retryable), not TOPIC_DELETED. It stays
        // open with no partitions, so that deleting the topic later still reaches the owner.
        if (parts === '') continue;
        const none: OwnedTopic = { name, id, partitionCount: live.partitions, partitions: [], config: live.config };
        await this.supervisor.request(ownerId, { type: 'openTopic', topic: none });
        st.opened.set(name, { id, parts: '' });
        st.forgetRoles(name);
        logLine('cluster: no replica of topic left on owner', { owner: ownerId, topic: name, id });
        continue;
      } else if (!want.has(name)) await this.supervisor.request(ownerId, { type: 'deleteTopic', name });
      st.opened.delete(name);
      st.forgetRoles(name);
      logLine('cluster: topic removed from owner', { owner: ownerId, topic: name, id });
    }
    for (const t of want.values()) {
      const parts = t.partitions.join(',');
      const was = st.opened.get(t.name);
      if (was?.id === t.id && was.parts === parts) continue;
      // The same incarnation with other partitions (a reassignment added or removed a replica here): the
      // registry opens the new ones and closes and deletes the ones no longer listed.
      await this.supervisor.request(ownerId, { type: 'openTopic', topic: t });
      st.opened.set(t.name, { id: t.id, parts });
      st.forgetRoles(t.name, t.partitions);
    }

    const ctx = this.roleContext(node);
    const changed: ReplicaRole[] = [];
    for (const r of replicas) {
      const role = replicaRole(ctx, r);
      const before = st.sent.get(`${role.topic}/${role.partition}`);
      if (!before || !sameRole(before, role)) changed.push(role);
    }
    if (changed.length === 0) return;
    await this.supervisor.request(ownerId, { type: 'replicaRoles', roles: changed });
    for (const role of changed) st.sent.set(`${role.topic}/${role.partition}`, role);
    logLine('cluster: replica roles sent', {
      owner: ownerId,
      roles: changed.map((r) => `${r.topic}/${r.partition}:${r.role}@${r.leaderEpoch}`).join(' '),
    });
  }

  /** The role this broker last had confirmed by an owner for a partition (for /metrics). */
  roleOf(topic: string, partition: number): ReplicaRole | undefined {
    return this.owners[ownerOf(topic, partition, this.config.owners)]?.sent.get(`${topic}/${partition}`);
  }

  /** What /metrics shows of the cluster: per-partition roles as the owners confirmed them, controller counters. */
  metricsSource(): ClusterMetricsSource {
    const node = this.node;
    return {
      role: (topic, partition) => this.roleOf(topic, partition),
      leaderElections: node?.controllerStats.leaderElections ?? 0,
      uncleanLeaderElections: node?.controllerStats.uncleanElections ?? 0,
      live: node?.live ?? false,
      controller: node?.isController ?? false,
    };
  }

  // ------------------------------------------------------------------ metadata and admin

  partitionsOf(topic: string): number | undefined {
    return this.node?.view.topics.get(topic)?.value.partitions;
  }

  health(): { ok: boolean; fields: Record<string, unknown> } {
    const node = this.node;
    const live = node?.live ?? false;
    return {
      ok: live,
      fields: {
        cluster: {
          name: this.cluster.name,
          nodeId: this.cluster.nodeId,
          zone: this.cluster.zone,
          live,
          controller: node?.isController ?? false,
          controllerId: node?.view.controller?.id ?? null,
          brokers: node ? [...node.view.brokers.keys()].sort((a, b) => a - b) : [],
        },
      },
    };
  }

  private requireNode(): ClusterNode {
    if (!this.node) throw new TickbusError(ErrorCode.CONTROL_PLANE_UNAVAILABLE, 'broker is joining the cluster; retry shortly');
    return this.node;
  }

  private topicInfo(node: ClusterNode, t: TopicRecord, stats: Map<string, PartitionStats>): TopicInfoWire {
    const partitions: PartitionInfoWire[] = [];
    for (let p = 0; p < t.partitions; p++) {
      const rec = node.view.partition(t.name, p)?.value;
      const replicas = rec?.replicas ?? [];
      const leader = rec ? leaderEndpoint(node, { partition: rec }) : { ownerId: -1, endpoint: '' };
      // Offsets come from this broker's own replica; a follower's trail the leader's a little (fine for
      // metadata: clients learn the leader's from ProduceAck/SubscribeOk).
      const s = rec?.topicId === t.id ? stats.get(`${t.name}/${p}`) : undefined;
      partitions.push({
        partition: p,
        ownerId: leader.ownerId,
        endpoint: leader.endpoint,
        leaderEpoch: rec?.leaderEpoch ?? 0,
        logStartOffset: s?.logStartOffset ?? -1,
        highWatermark: s?.highWatermark ?? -1,
        leaderId: leader.endpoint ? (rec?.leader ?? -1) : -1,
        replicas,
        isr: rec?.isr ?? [],
        replicaZones: replicas.map((id) => this.zones.get(id) ?? ''),
        // Zone-aware reads: each replica's owner for this partition; '' while its broker is not registered (down).
        replicaEndpoints: replicas.map((id) => ownerEndpointOf(node.broker(id), t.name, p).endpoint),
      });
    }
    return { name: t.name, config: toWireConfig(t.config), partitions, replicationFactor: t.replicationFactor, minInsync: t.minInsync };
  }

  private async statsByPartition(): Promise<Map<string, PartitionStats>> {
    const { stats } = await this.supervisor.stats();
    return new Map(stats.map((s) => [`${s.topic}/${s.partition}`, s]));
  }

  private topic(node: ClusterNode, name: string): TopicRecord {
    const t = node.view.topics.get(name)?.value;
    if (!t) throw new TickbusError(ErrorCode.UNKNOWN_TOPIC, `topic '${name}' does not exist`, { topic: name });
    return t;
  }

  async admin(frame: AdminFrame): Promise<Frame> {
    const node = this.requireNode();
    switch (frame.type) {
      case 'Metadata': {
        const names = frame.topics.length ? frame.topics : [...node.view.topics.keys()].sort();
        const records = names.map((n) => this.topic(node, n));
        const stats = await this.statsByPartition();
        return { type: 'MetadataResult', requestId: frame.requestId, topics: records.map((t) => this.topicInfo(node, t, stats)) };
      }
      case 'DescribeTopic': {
        const t = this.topic(node, frame.name);
        return { type: 'MetadataResult', requestId: frame.requestId, topics: [this.topicInfo(node, t, await this.statsByPartition())] };
      }
      case 'CreateTopic': {
        validateTopicName(frame.name);
        validatePartitionCount(frame.partitions);
        // 0 (or absent) on the wire means "the broker's default".
        const replicationFactor = positiveOr(frame.replicationFactor, this.cluster.defaultReplicationFactor);
        const minInsync = positiveOr(frame.minInsync, Math.min(this.cluster.defaultMinInsync, replicationFactor));
        const t = await node.createTopic({ name: frame.name, partitions: frame.partitions, replicationFactor, minInsync, config: topicLogConfig(this.config, frame.config) });
        logLine('topic created', { topic: t.name, partitions: t.partitions, replicationFactor, minInsync, fsync: t.config.fsync });
        return { type: 'MetadataResult', requestId: frame.requestId, topics: [this.topicInfo(node, t, new Map())] };
      }
      case 'DeleteTopic': {
        const t = await node.deleteTopic(frame.name);
        logLine('topic deleted', { topic: t.name });
        return { type: 'MetadataResult', requestId: frame.requestId, topics: [this.topicInfo(node, t, new Map())] };
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const st of this.owners) if (st.retry) clearTimeout(st.retry);
    const node = this.node;
    this.node = null;
    // Revoking our lease now lets the others elect new leaders at once instead of a TTL later.
    await node?.close();
  }
}
