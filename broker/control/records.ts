// What the cluster's control plane stores, and where. Every record is JSON under one prefix per
// cluster, so `etcdctl get --prefix /tickbus/<cluster>/` shows the whole cluster:
//
//   brokers/<id>               BrokerRecord, bound to the broker's lease: present = alive
//   controller                 the id of the elected controller, bound to its lease
//   topics/<name>              TopicRecord
//   partitions/<name>/<p>      PartitionRecord: replicas, leader, leader epoch, ISR
//   requests/create/<name>     a CreateTopic any broker received, for the controller to carry out
//   requests/delete/<name>     likewise for DeleteTopic
import type { LogConfig } from '../log/log-config.js';

export interface BrokerRecord {
  id: number;
  zone: string;
  /**
   * This process's registration (its lease id). A broker restarted within its old lease's TTL registers
   * again under the same id: the new incarnation tells the controller the old process is gone anyway.
   */
  incarnation: string;
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
}
