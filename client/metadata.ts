// What the client knows about topics: partitions and the owner endpoint serving each. Filled from
// MetadataResult, refreshed on demand (a retryable error, a reconnect), never on a timer: metadata
// only changes when an owner restarts or a topic is created or deleted, and every such change shows
// up as an error or a closed socket first.
import type { TopicConfigWire, TopicInfoWire } from '../schemas/frames.js';
import { ErrorCode, TickbusError } from './errors.js';

export interface PartitionMeta {
  partition: number;
  ownerId: number;
  /** ws:// URL of the owner endpoint serving this partition. */
  endpoint: string;
  leaderEpoch: number;
  logStartOffset: number;
  highWatermark: number;
}

export interface TopicMeta {
  name: string;
  /** Indexed by partition number. */
  partitions: PartitionMeta[];
  config: TopicConfigWire | null;
}

export function topicMetaFrom(t: TopicInfoWire): TopicMeta {
  const partitions: PartitionMeta[] = [];
  for (const p of t.partitions) partitions[p.partition] = { ...p };
  for (let i = 0; i < partitions.length; i++) {
    if (!partitions[i]) throw new TickbusError(ErrorCode.MALFORMED_FRAME, `metadata for '${t.name}' misses partition ${i}`);
  }
  return { name: t.name, partitions, config: t.config };
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
