// What each of this broker's owners should hold and be, derived from the cluster's records: pure, so
// the rules read in one place and are tested without etcd or threads.
//
// A replica leads only while its broker is live (lease valid on its own clock) and the partition record
// names this very process (leader id and incarnation): leadership does not survive a restart. It
// follows a leader whose broker is registered under the incarnation the record was elected with; any
// other case is offline (no leader, leader gone, or we are fenced), and an offline replica serves nothing.
import type { LocalReplica } from '../control/cluster-node.js';
import type { BrokerRecord } from '../control/records.js';
import { ownerOf } from '../metadata/topic-store.js';
import type { OwnedTopic, ReplicaRole } from '../owner/messages.js';

export interface RoleContext {
  nodeId: number;
  /** This broker holds a valid lease: only then may it lead or follow. */
  live: boolean;
  /** This broker's process (ClusterNode.process). */
  process: number;
  broker(id: number): BrokerRecord | undefined;
}

/** The owner endpoint of a broker that serves a partition ('' when that broker is not registered). */
export function ownerEndpointOf(b: BrokerRecord | undefined, topic: string, partition: number): { ownerId: number; endpoint: string } {
  if (!b || b.owners.length === 0) return { ownerId: -1, endpoint: '' };
  const ownerId = ownerOf(topic, partition, b.owners.length);
  return { ownerId, endpoint: b.owners[ownerId] ?? '' };
}

/** The leader's owner endpoint, or '' when the record's leader is not the process registered now. */
export function leaderEndpoint(ctx: Pick<RoleContext, 'broker'>, rep: Pick<LocalReplica, 'partition'>): { ownerId: number; endpoint: string } {
  const p = rep.partition;
  if (p.leader < 0) return { ownerId: -1, endpoint: '' };
  const b = ctx.broker(p.leader);
  if (b?.incarnation !== p.leaderIncarnation) return { ownerId: -1, endpoint: '' };
  return ownerEndpointOf(b, p.topic, p.partition);
}

export function replicaRole(ctx: RoleContext, rep: LocalReplica): ReplicaRole {
  const p = rep.partition;
  const role: ReplicaRole = {
    topic: p.topic,
    partition: p.partition,
    role: 'offline',
    leaderEpoch: p.leaderEpoch,
    leaderId: p.leader,
    leaderEndpoint: '',
    replicas: p.replicas,
    isr: p.isr,
    minInsync: rep.topic.minInsync,
    process: ctx.process,
  };
  if (!ctx.live || p.leader < 0) return role;
  if (p.leader === ctx.nodeId) {
    if (ctx.broker(ctx.nodeId)?.incarnation === p.leaderIncarnation) role.role = 'leader';
    return role;
  }
  const { endpoint } = leaderEndpoint(ctx, rep);
  if (endpoint) {
    role.role = 'follower';
    role.leaderEndpoint = endpoint;
  }
  return role;
}

/** The topics one owner must have open: the local replicas it serves, grouped by topic. */
export function ownedTopics(replicas: LocalReplica[], ownerId: number, owners: number): Map<string, OwnedTopic> {
  const out = new Map<string, OwnedTopic>();
  for (const { topic, partition } of replicas) {
    if (ownerOf(topic.name, partition.partition, owners) !== ownerId) continue;
    let t = out.get(topic.name);
    if (!t) {
      t = { name: topic.name, id: topic.id, partitionCount: topic.partitions, partitions: [], config: topic.config };
      out.set(topic.name, t);
    }
    t.partitions.push(partition.partition);
  }
  for (const t of out.values()) t.partitions.sort((a, b) => a - b);
  return out;
}

/** Whether two roles differ in anything an owner acts on. */
export function sameRole(a: ReplicaRole, b: ReplicaRole): boolean {
  return (
    a.role === b.role &&
    a.leaderEpoch === b.leaderEpoch &&
    a.leaderId === b.leaderId &&
    a.leaderEndpoint === b.leaderEndpoint &&
    a.minInsync === b.minInsync &&
    a.process === b.process &&
    a.isr.length === b.isr.length &&
    a.isr.every((x, i) => b.isr[i] === x) &&
    a.replicas.length === b.replicas.length &&
    a.replicas.every((x, i) => b.replicas[i] === x)
  );
}
