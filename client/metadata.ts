// What the client knows about topics: partitions and the owner endpoint serving each (in a cluster,
// the partition leader's owner endpoint and its leader epoch). Filled from MetadataResult, refreshed
// on demand (a retryable error, a reconnect), never on a timer: metadata only changes when an owner
// restarts, a leader fails over, or a topic is created or deleted, and every such change shows up
// first as an error (NOT_OWNER, NOT_LEADER, FENCED_LEADER_EPOCH...) or a closed socket.
import type { TopicConfigWire, TopicInfoWire } from '../schemas/frames.js';
import { ErrorCode, TickbusError } from './errors.js';

export interface PartitionMeta {
  partition: number;
  ownerId: number;
  /** ws:// URL of the owner endpoint serving this partition (the leader's); '' while it has no leader (failover). */
  endpoint: string;
  /** Carried in Produce and Subscribe so a deposed leader refuses them (FENCED_LEADER_EPOCH). */
  leaderEpoch: number;
  logStartOffset: number;
  highWatermark: number;
  /** Cluster only: the leader's broker id (-1: offline), replicas in preference order, the ISR, zones by replica. */
  leaderId?: number;
  replicas?: number[];
  isr?: number[];
  replicaZones?: string[];
  /** Cluster only: each replica's owner endpoint for this partition (same order as replicas; '' while its broker is down). */
  replicaEndpoints?: string[];
}

export interface TopicMeta {
  name: string;
  /** Indexed by partition number. */
  partitions: PartitionMeta[];
  config: TopicConfigWire | null;
  replicationFactor?: number;
  minInsync?: number;
}

export function topicMetaFrom(t: TopicInfoWire): TopicMeta {
  const partitions: PartitionMeta[] = [];
  for (const p of t.partitions) partitions[p.partition] = { ...p };
  for (let i = 0; i < partitions.length; i++) {
    if (!partitions[i]) throw new TickbusError(ErrorCode.MALFORMED_FRAME, `metadata for '${t.name}' misses partition ${i}`);
  }
  const meta: TopicMeta = { name: t.name, partitions, config: t.config };
  if (t.replicationFactor !== undefined) meta.replicationFactor = t.replicationFactor;
  if (t.minInsync !== undefined) meta.minInsync = t.minInsync;
  return meta;
}

/**
 * The owner endpoint to send a partition's requests to, or a retryable OWNER_UNAVAILABLE while the
 * partition has no leader (endpoint '' during a failover): the caller backs off and refreshes, the same
 * path as NOT_OWNER / NOT_LEADER.
 */
export function leaderEndpoint(topic: string, pm: PartitionMeta): string {
  if (pm.endpoint !== '') return pm.endpoint;
  throw new TickbusError(ErrorCode.OWNER_UNAVAILABLE, `${topic}/${pm.partition} has no leader right now (failover in progress); retrying with fresh metadata`, {
    topic,
    partition: pm.partition,
  });
}

/**
 * Whether an owner's refusal of a produce or subscribe is retried after a metadata refresh: the
 * retryable errors, and UNKNOWN_TOPIC, which from an owner can mean it has not opened a topic the
 * cluster just created (or it restarted and was not told yet). The refresh asks the bootstrap broker,
 * which fails the request for good if the topic is really gone (test/client/producer-unknown-topic.test.ts).
 */
export function retriedAfterRefresh(err: TickbusError): boolean {
  return err.retryable || err.code === ErrorCode.UNKNOWN_TOPIC;
}

export type MetadataFetcher = (topics: string[]) => Promise<TopicInfoWire[]>;

export class MetadataCache {
  private readonly topics = new Map<string, TopicMeta>();
  private readonly inFlight = new Map<string, Promise<TopicMeta>>();

  constructor(private readonly fetch: MetadataFetcher) {}

  /** Cached metadata, if any: the hot path of send() needs no await. */
  peek(topic: string): TopicMeta | undefined {
    return this.topics.get(topic);
  }

  /** Cached metadata, or fetched when missing. */
  get(topic: string): Promise<TopicMeta> {
    const t = this.topics.get(topic);
    return t ? Promise.resolve(t) : this.refresh(topic);
  }

  /** Fetches fresh metadata; concurrent refreshes of one topic share one request. */
  refresh(topic: string): Promise<TopicMeta> {
    let p = this.inFlight.get(topic);
    if (p) return p;
    p = this.fetch([topic]).then(
      (infos) => {
        this.inFlight.delete(topic);
        const info = infos.find((t) => t.name === topic);
        if (!info || info.partitions.length === 0) {
          this.topics.delete(topic);
          throw new TickbusError(ErrorCode.UNKNOWN_TOPIC, `topic '${topic}' does not exist: create it first (tickbus topics create ${topic} --partitions N)`, { topic });
        }
        const meta = topicMetaFrom(info);
        this.topics.set(topic, meta);
        return meta;
      },
      (err: unknown) => {
        this.inFlight.delete(topic);
        if (err instanceof TickbusError && (err.code === ErrorCode.UNKNOWN_TOPIC || err.code === ErrorCode.TOPIC_DELETED)) this.topics.delete(topic);
        throw err;
      },
    );
    this.inFlight.set(topic, p);
    return p;
  }

  /** Records what an admin answer said (CreateTopic, DescribeTopic). */
  put(info: TopicInfoWire): void {
    if (info.partitions.length > 0) this.topics.set(info.name, topicMetaFrom(info));
  }

  forget(topic: string): void {
    this.topics.delete(topic);
  }
}
