// What the cluster's control plane stores, and where. Every record is JSON under one prefix per
// cluster, so `etcdctl get --prefix /tickbus/<cluster>/` shows the whole cluster:
//
//   brokers/<id>               BrokerRecord, bound to the broker's lease: present = alive
//   controller                 the id of the elected controller, bound to its lease
//   topics/<name>              TopicRecord
//   partitions/<name>/<p>      PartitionRecord: replicas, leader, leader epoch, ISR
//   requests/create/<name>     a CreateTopic any broker received, for the controller to carry out
//   requests/delete/<name>     likewise for DeleteTopic
//   requests/reassign/<t>/<p>  ReassignRequest: a manual target replica list for one partition
//   drains/<id>                DrainRecord: move every replica and leadership off broker <id> (no lease:
//                              a drain outlives the broker's restarts until `cluster undrain`)
//   acls                       AclsRecord: every ACL rule of the cluster in one record, so `tickbus acl`
//                              changes it with one compare-and-swap on its mod revision (no lost update)
import type { LogConfig } from '../log/log-config.js';
import type { AclRule } from '../security/acl.js';
import type { Versioned } from './cluster-view.js';

export interface BrokerRecord {
  id: number;
  zone: string;
  /**
   * This process's registration (its lease id). A broker restarted within its old lease's TTL registers
   * again under the same id: the new incarnation tells the controller the old process is gone anyway.
   */
  incarnation: string;
  /**
   * The etcd revision of this process's first registration: the same in every registration of one process
   * (a lease lost and taken again, as every broker does after an etcd outage, keeps it; the log is intact),
   * a new one when the process starts again (it may have lost an unsynced tail or come back with a damaged
   * segment cut on open). Absent from a process's first record, whose own mod revision it is:
   * `processRevisionOf`.
   */
  processRevision?: number;
  /** Bootstrap WebSocket URL (metadata, admin, groups). */
  bootstrap: string;
  /** Owner endpoints, indexed by owner id: partition p of topic t is served by owners[ownerOf(t, p, owners.length)]. */
  owners: string[];
}

export interface TopicRecord {
  name: string;
  /** Incarnation: a topic deleted and created again is another topic. */
  id: number;
  partitions: number;
  replicationFactor: number;
  minInsync: number;
  config: LogConfig;
  createdAt: number;
}

export interface PartitionRecord {
  topic: string;
  topicId: number;
  partition: number;
  /** Broker ids in preference order; the first is the preferred leader. */
  replicas: number[];
  /** -1 while no replica can lead (offline). */
  leader: number;
  /** The leader's incarnation when it was elected: leadership does not survive a restart of its process. */
  leaderIncarnation: string;
  /** Fencing token: +1 on every leader change. Every produce, subscribe and replication request carries it. */
  leaderEpoch: number;
  isr: number[];
  /**
   * For each ISR member (by broker id), the process (`processRevisionOf`) its broker ran when the ISR took
   * it in: KIP-966's broker epoch. A member whose broker runs another process now has restarted since it
   * was in sync, and may have come back without an unsynced tail or with a segment cut on open. Each
   * member keeps its entry through every rewrite of the record (a leader's ISR change, an election), so no
   * later write hides the restart (docs/faults.md, bug 7). A member without one (a record written before
   * this field, or a member not registered when it was written) is judged by the record's last write.
   */
  isrProcesses?: Record<string, number>;
  /**
   * A reassignment in progress (KIP-455): replicas being added as learners (in `replicas`, not yet in
   * the ISR) and replicas to drop once every target replica is in the ISR. The target is
   * `replicas` minus `removingReplicas`. Absent (records written before reassignment existed) = none.
   */
  addingReplicas?: number[];
  removingReplicas?: number[];
}

/** The target replica list of a partition: what it will be once its move (if any) completes. */
export function targetReplicas(p: Pick<PartitionRecord, 'replicas' | 'removingReplicas'>): number[] {
  const removing = p.removingReplicas ?? [];
  return p.replicas.filter((r) => !removing.includes(r));
}

/** The replicas a partition had before its move (if any) began: its replicas without the learners being added. */
export function originalReplicas(p: Pick<PartitionRecord, 'replicas' | 'addingReplicas'>): number[] {
  const adding = p.addingReplicas ?? [];
  return p.replicas.filter((r) => !adding.includes(r));
}

/** Whether a partition has a reassignment in progress. */
export function isMoving(p: Pick<PartitionRecord, 'addingReplicas' | 'removingReplicas'>): boolean {
  return (p.addingReplicas?.length ?? 0) > 0 || (p.removingReplicas?.length ?? 0) > 0;
}

export interface ReassignRequest {
  topic: string;
  partition: number;
  /** The wanted replica list, preferred leader first. */
  replicas: number[];
}

export interface DrainRecord {
  id: number;
  /** Wall-clock ms when the drain was asked for (for status). */
  since: number;
}

export interface CreateRequest {
  name: string;
  partitions: number;
  replicationFactor: number;
  minInsync: number;
  config: LogConfig;
  /** Which broker asked (for logs). */
  from: number;
}

/** The cluster's ACL rules, the same document as a single node's `<data>/acls.json`. */
export interface AclsRecord {
  acls: AclRule[];
}

export class Keys {
  readonly root: string;
  constructor(cluster: string) {
    this.root = `/tickbus/${cluster}/`;
  }
  get brokers(): string {
    return `${this.root}brokers/`;
  }
  broker(id: number): string {
    return `${this.root}brokers/${id}`;
  }
  get controller(): string {
    return `${this.root}controller`;
  }
  get topics(): string {
    return `${this.root}topics/`;
  }
  topic(name: string): string {
    return `${this.root}topics/${name}`;
  }
  get nextTopicId(): string {
    return `${this.root}next-topic-id`;
  }
  get partitions(): string {
    return `${this.root}partitions/`;
  }
  partitionsOf(topic: string): string {
    return `${this.root}partitions/${topic}/`;
  }
  partition(topic: string, p: number): string {
    return `${this.root}partitions/${topic}/${p}`;
  }
  get createRequests(): string {
    return `${this.root}requests/create/`;
  }
  createRequest(name: string): string {
    return `${this.root}requests/create/${name}`;
  }
  get deleteRequests(): string {
    return `${this.root}requests/delete/`;
  }
  deleteRequest(name: string): string {
    return `${this.root}requests/delete/${name}`;
  }
  get reassignRequests(): string {
    return `${this.root}requests/reassign/`;
  }
  reassignRequest(topic: string, p: number): string {
    return `${this.root}requests/reassign/${topic}/${p}`;
  }
  get drains(): string {
    return `${this.root}drains/`;
  }
  drain(id: number): string {
    return `${this.root}drains/${id}`;
  }
  get acls(): string {
    return `${this.root}acls`;
  }
}

/** When a broker's process registered first (BrokerRecord.processRevision), from its versioned record. */
export function processRevisionOf(b: Versioned<BrokerRecord>): number {
  return b.value.processRevision ?? b.modRevision;
}

/** An isrProcesses entry no process matches: a restart found on a record older than the field. */
const RESTARTED = -1;

/** Whether ISR member `id`, now registered as `b`, runs another process than the one the ISR took in. */
export function restartedSinceIsr(rec: Versioned<PartitionRecord>, id: number, b: Versioned<BrokerRecord>): boolean {
  const joined = rec.value.isrProcesses?.[id];
  // No entry: a process that first registered after the record's last write started since the ISR was decided.
  return joined === undefined ? processRevisionOf(b) > rec.modRevision : processRevisionOf(b) !== joined;
}

/** `next` with its isrProcesses filled in: how every writer of a partition record makes it. */
export function withIsrProcesses(
  next: PartitionRecord,
  prev: Versioned<PartitionRecord> | null,
  broker: (id: number) => Versioned<BrokerRecord> | undefined,
): PartitionRecord {
  return { ...next, isrProcesses: isrProcessesFor(next, prev, broker) };
}

/**
 * The isrProcesses of `next`, a record written over `prev` (null: a new partition). A member already in
 * prev's ISR keeps its process; one joining takes its broker's current one, as does the leader under the
 * registration `next` names (from its epoch on, its log is the partition's). Only members registered now
 * (`broker`) get an entry when they have none.
 */
function isrProcessesFor(
  next: Pick<PartitionRecord, 'isr' | 'leader' | 'leaderIncarnation'>,
  prev: Versioned<PartitionRecord> | null,
  broker: (id: number) => Versioned<BrokerRecord> | undefined,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const id of next.isr) {
    const b = broker(id);
    if (b !== undefined && id === next.leader && b.value.incarnation === next.leaderIncarnation) {
      out[id] = processRevisionOf(b);
      continue;
    }
    if (prev?.value.isr.includes(id)) {
      const joined = prev.value.isrProcesses?.[id];
      if (joined !== undefined) out[id] = joined;
      // A kept member without an entry (older record): what prev's last write says of it, made explicit so
      // that this write does not hide a restart that came before it.
      else if (b !== undefined) out[id] = restartedSinceIsr(prev, id, b) ? RESTARTED : processRevisionOf(b);
    } else if (b !== undefined) out[id] = processRevisionOf(b);
  }
  return out;
}
