// Topic administration on the bootstrap endpoint: create, describe, list, delete.
// Used by applications and by the `tickbus topics` CLI.
import type { Frame, TopicConfigWire, TopicInfoWire } from '../schemas/frames.js';
import type { BootstrapLink } from './bootstrap.js';
import { ErrorCode, TickbusError } from './errors.js';
import type { MetadataCache } from './metadata.js';
import { int } from './options.js';

export type TopicConfig = TopicConfigWire;

export interface TopicConfigInput {
  /** 'always' | 'interval' | 'os' */
  fsync?: string;
  fsyncIntervalMs?: number;
  segmentBytes?: number;
  segmentMs?: number;
  /** -1 = unlimited */
  retentionBytes?: number;
  /** -1 = unlimited */
  retentionMs?: number;
}

export interface PartitionDescription {
  partition: number;
  ownerId: number;
  endpoint: string;
  leaderEpoch: number;
  logStartOffset: number;
  highWatermark: number;
  /** The leader's broker id; -1 while the partition has no leader (and on a single node). */
  leaderId: number;
  /** Broker ids holding a replica, in preference order (empty on a single node). */
  replicas: number[];
  /** The in-sync replicas: those an acks 'all' write waits for. */
  isr: number[];
  /** The zone of each replica, in the order of `replicas`. */
  replicaZones: string[];
}

export interface TopicDescription {
  name: string;
  partitions: PartitionDescription[];
  config: TopicConfig | null;
  /** Replicas per partition (1 on a single node). */
  replicationFactor: number;
  /** In-sync replicas an acks 'all' write needs (else NOT_ENOUGH_REPLICAS). */
  minInsync: number;
}

export interface CreateTopicOptions {
  partitions: number;
  /** Cluster: replicas per partition. Default: the broker's. */
  replicationFactor?: number;
  /** Cluster: in-sync replicas an acks 'all' write needs. Default: the broker's. At most replicationFactor. */
  minInsync?: number;
  config?: TopicConfigInput;
}

const CONFIG_KEYS = ['fsync', 'fsyncIntervalMs', 'segmentBytes', 'segmentMs', 'retentionBytes', 'retentionMs'] as const;

function describeTopic(t: TopicInfoWire): TopicDescription {
  return {
    name: t.name,
    partitions: [...t.partitions]
      .sort((a, b) => a.partition - b.partition)
      .map((p) => ({
        partition: p.partition,
        ownerId: p.ownerId,
        endpoint: p.endpoint,
        leaderEpoch: p.leaderEpoch,
        logStartOffset: p.logStartOffset,
        highWatermark: p.highWatermark,
        leaderId: p.leaderId ?? -1,
        replicas: [...(p.replicas ?? [])],
        isr: [...(p.isr ?? [])],
        replicaZones: [...(p.replicaZones ?? [])],
      })),
    config: t.config ? { ...t.config } : null,
    replicationFactor: t.replicationFactor ?? 1,
    minInsync: t.minInsync ?? 1,
  };
}

function topicsOf(f: Frame, what: string): TopicInfoWire[] {
  if (f.type !== 'MetadataResult') throw new TickbusError(ErrorCode.MALFORMED_FRAME, `${what} was answered with ${f.type}`);
  return f.topics;
}

function checkName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) throw new TypeError(`a topic name must be a non-empty string, got ${String(name)}`);
  return name;
}

export class Admin {
  constructor(
    private readonly bootstrap: BootstrapLink,
    private readonly metadata: MetadataCache,
  ) {}

  async createTopic(name: string, opts: CreateTopicOptions): Promise<TopicDescription> {
    checkName(name);
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- JavaScript callers pass anything
    if (typeof opts !== 'object' || opts === null) throw new TypeError('createTopic(name, { partitions }) needs options');
    const { partitions } = opts;
    if (!Number.isInteger(partitions) || partitions < 1) throw new RangeError(`partitions must be an integer of at least 1, got ${String(partitions)}`);
    const replication: { replicationFactor?: number; minInsync?: number } = {};
    for (const k of ['replicationFactor', 'minInsync'] as const) {
      const v = opts[k];
      if (v === undefined) continue;
      replication[k] = int(k, v, 1, 0x7fff_ffff); // int32 on the wire; the broker checks it against its brokers
    }
    if (replication.minInsync !== undefined && replication.replicationFactor !== undefined && replication.minInsync > replication.replicationFactor) {
      throw new RangeError(
        `minInsync (${replication.minInsync}) must not exceed replicationFactor (${replication.replicationFactor}): no acks 'all' write could ever be acknowledged`,
      );
    }
    const config: Partial<TopicConfigWire> = {};
    for (const [k, v] of Object.entries(opts.config ?? {})) {
      if (!(CONFIG_KEYS as readonly string[]).includes(k)) throw new TypeError(`unknown topic config '${k}'; known: ${CONFIG_KEYS.join(', ')}`);
      if (v === undefined) continue;
      if (k === 'fsync') {
        if (typeof v !== 'string') throw new TypeError(`config.fsync must be 'always', 'interval' or 'os', got ${String(v)}`);
        config.fsync = v;
      } else {
        if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new TypeError(`config.${k} must be an integer, got ${String(v)}`);
        (config as Record<string, number>)[k] = v;
      }
    }
    const f = await this.bootstrap.request({
      type: 'CreateTopic',
      requestId: 0,
      name,
      partitions,
      config: Object.keys(config).length ? config : null,
      ...replication,
    });
    const t = topicsOf(f, 'CreateTopic').find((x) => x.name === name);
    if (!t) throw new TickbusError(ErrorCode.MALFORMED_FRAME, `CreateTopic answer does not describe '${name}'`);
    this.metadata.put(t);
    return describeTopic(t);
  }

  async describeTopic(name: string): Promise<TopicDescription> {
    checkName(name);
    const f = await this.bootstrap.idempotent(() => ({ type: 'DescribeTopic', requestId: 0, name }));
    const t = topicsOf(f, 'DescribeTopic').find((x) => x.name === name);
    if (!t) throw new TickbusError(ErrorCode.UNKNOWN_TOPIC, `topic '${name}' does not exist`, { topic: name });
    this.metadata.put(t);
    return describeTopic(t);
  }

  async listTopics(): Promise<TopicDescription[]> {
    const f = await this.bootstrap.idempotent(() => ({ type: 'Metadata', requestId: 0, topics: [] }));
    return topicsOf(f, 'Metadata').map(describeTopic).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async deleteTopic(name: string): Promise<void> {
    checkName(name);
    const f = await this.bootstrap.request({ type: 'DeleteTopic', requestId: 0, name });
    topicsOf(f, 'DeleteTopic');
    this.metadata.forget(name);
  }
}
