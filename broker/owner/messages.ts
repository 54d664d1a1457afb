// Every message between the main thread and a partition owner, typed in one place.
// Control only: records never cross this boundary (a thread hop costs ~100 µs here).
// Errors cross as data ({ code, message }): an Error subclass loses its class and code in postMessage.
import type { ErrorData } from '../../schemas/errors.js';
import type { BrokerConfig } from '../config.js';
import type { LogConfig } from '../log/partition-log.js';
import type { AclRule } from '../security/acl.js';

export interface OwnedTopic {
  name: string;
  id: number;
  /** The topic's partition count (to tell UNKNOWN_PARTITION from NOT_OWNER). */
  partitionCount: number;
  /** The partitions this owner serves. */
  partitions: number[];
  config: LogConfig;
}

/** Passed as workerData when an owner starts. */
export interface OwnerInit {
  ownerId: number;
  /** The owner slot's counters (counters.ts): the same buffer for every incarnation of this owner. */
  counters: SharedArrayBuffer;
  /** Port to listen on; 0 = any free port. */
  port: number;
  config: BrokerConfig;
  topics: OwnedTopic[];
  /** The ACL rules in force when the owner starts (auth on); later changes come as 'acls' messages. */
  acls?: AclRule[];
}

export interface PartitionStats {
  topic: string;
  partition: number;
  logStartOffset: number;
  /** Committed end offset: consumers see records below it. */
  highWatermark: number;
  /** Appended end offset (≥ highWatermark; equal on one node). */
  logEndOffset: number;
  sizeBytes: number;
  segments: number;
  subscribers: number;
  /** single: one-node mode; otherwise this replica's role in the cluster. */
  role: 'single' | 'leader' | 'follower' | 'offline';
  leaderEpoch: number;
  /** Leader: committed ISR size (0 elsewhere). */
  isrSize: number;
  /** Leader: the largest follower lag in records (leader log end − follower log end), -1 when unknown. */
  maxFollowerLag: number;
}

/** How far one subscription is behind the committed head, for /metrics. */
export interface SubscriptionLag {
  topic: string;
  partition: number;
  owner: number;
  /** The owner's connection id (unique per owner incarnation). */
  conn: number;
  /** The client id the connection gave in Hello. */
  clientId: string;
  /** Committed records not yet sent: high watermark − next offset to deliver (0 while live). */
  lag: number;
}

/**
 * Cluster mode: what this broker's replica of one partition should be, from the control plane's records.
 * The main thread sends the full role of a partition whenever its record changes (leader, epoch, ISR) and
 * after an owner (re)starts. An opened partition with no role yet serves nothing (NOT_LEADER).
 */
export interface ReplicaRole {
  topic: string;
  partition: number;
  /** offline: this broker is fenced (lease presumed lost) or the partition has no leader. */
  role: 'leader' | 'follower' | 'offline';
  leaderEpoch: number;
  leaderId: number;
  /** follower: the leader's owner endpoint for this partition (ws://host:port/); '' otherwise. */
  leaderEndpoint: string;
  replicas: number[];
  /** The committed ISR (from etcd). */
  isr: number[];
  minInsync: number;
  /** This broker's process (its record's processRevision; -1 before it first registered): a follower names it in its fetches. */
  process: number;
}

export type ToOwner =
  | { type: 'openTopic'; reqId: number; topic: OwnedTopic }
  | { type: 'deleteTopic'; reqId: number; name: string }
  /** Partition gauges, and the `maxLags` most lagging subscriptions. Counters are read from shared memory instead. */
  | { type: 'stats'; reqId: number; maxLags: number }
  | { type: 'shutdown'; reqId: number }
  /** Test hook (BrokerConfig.testHooks): throws an uncaught exception inside the owner. */
  | { type: 'injectFault'; reqId: number }
  /** Cluster mode: roles of partitions this owner serves (opened with openTopic first). */
  | { type: 'replicaRoles'; reqId: number; roles: ReplicaRole[] }
  /** The ACL rules changed (file or etcd): the whole new set. */
  | { type: 'acls'; reqId: number; rules: AclRule[] }
  /** SIGHUP: re-read the TLS certificate and key (the same paths as at start); new connections get them. */
  | { type: 'reloadTls'; reqId: number };

export type FromOwner =
  | { type: 'ready'; ownerId: number; port: number }
  | { type: 'reply'; reqId: number; ok: true; stats?: PartitionStats[]; lags?: SubscriptionLag[] }
  | { type: 'reply'; reqId: number; ok: false; error: ErrorData }
  /** The owner caught a fault it cannot continue after; it has closed its sockets and is exiting. */
  | { type: 'failed'; ownerId: number; error: ErrorData }
  /**
   * Cluster mode: the leader of a partition proposes a new ISR (a follower fell behind or caught up). The
   * main thread writes it to etcd (compare-and-swap on the record the leader was given) and sends the
   * partition's role again either way: the role's `isr` is then the committed one.
   */
  | { type: 'proposeIsr'; ownerId: number; topic: string; partition: number; leaderEpoch: number; isr: number[]; processes: Record<string, number>; base: number[] };
