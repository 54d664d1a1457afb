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
