// Single-node catalogue: topics in one local file (TopicStore), every partition served by this
// broker's owners. The embedded default: no etcd, no replication.
import path from 'node:path';
import { ErrorCode, TickbusError } from '../../schemas/errors.js';
import type { Frame, TopicInfoWire } from '../../schemas/frames.js';
import type { BrokerConfig } from '../config.js';
import { checkTopicLimits } from '../limits/topic-limits.js';
import { discardPartitionDirs, sweepDeletedPartitions } from '../log/partition-log.js';
import { logLine } from '../logger.js';
import { ownerOf, type TopicRecord, TopicStore, validatePartitionCount, validateTopicName } from '../metadata/topic-store.js';
import type { OwnedTopic, PartitionStats } from '../owner/messages.js';
import { type AdminFrame, type Catalogue, topicLogConfig, toWireConfig } from './catalogue.js';
import type { Supervisor } from './supervisor.js';

export class LocalCatalogue implements Catalogue {
  private readonly store: TopicStore;
  /** Set once the owners exist (they read topicsFor while starting, before this is needed). */
  supervisor: Supervisor | null = null;

  constructor(private readonly config: BrokerConfig) {
    this.store = TopicStore.open(config.dataDir);
    const swept = sweepDeletedPartitions(config.dataDir);
    if (swept > 0) logLine('removing partitions a topic deletion left behind', { count: swept });
  }

  topicsFor(ownerId: number): OwnedTopic[] {
    return this.store.list().flatMap((t) => {
      const o = this.owned(t, ownerId);
      return o.partitions.length ? [o] : [];
    });
  }

  partitionsOf(topic: string): number | undefined {
    return this.store.get(topic)?.partitions;
  }

  health(): { ok: boolean; fields: Record<string, unknown> } {
    return { ok: true, fields: {} };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  private owned(t: TopicRecord, ownerId: number): OwnedTopic {
    const partitions = [...Array(t.partitions).keys()].filter((p) => ownerOf(t.name, p, this.config.owners) === ownerId);
    return { name: t.name, id: t.id, partitionCount: t.partitions, partitions, config: t.config };
  }

  private topicInfo(t: TopicRecord, stats: Map<string, PartitionStats>): TopicInfoWire {
    return {
      name: t.name,
      config: toWireConfig(t.config),
      partitions: [...Array(t.partitions).keys()].map((p) => {
        const ownerId = ownerOf(t.name, p, this.config.owners);
        const s = stats.get(`${t.name}/${p}`);
        return {
          partition: p,
          ownerId,
          endpoint: this.supervisor?.endpoint(ownerId) ?? '',
          leaderEpoch: 0,
          logStartOffset: s?.logStartOffset ?? -1,
          highWatermark: s?.highWatermark ?? -1,
        };
      }),
    };
  }

  private async statsByPartition(): Promise<Map<string, PartitionStats>> {
    const { stats } = (await this.supervisor?.stats()) ?? { stats: [] };
    return new Map(stats.map((s) => [`${s.topic}/${s.partition}`, s]));
  }

  async admin(frame: AdminFrame): Promise<Frame> {
    const { store, config } = this;
    const supervisor = this.supervisor;
    if (!supervisor) throw new TickbusError(ErrorCode.OWNER_UNAVAILABLE, 'broker is starting; retry shortly');
    switch (frame.type) {
      case 'Metadata': {
        const names = frame.topics.length ? frame.topics : store.list().map((t) => t.name);
        const records = names.map((n) => {
          const t = store.get(n);
          if (!t) throw new TickbusError(ErrorCode.UNKNOWN_TOPIC, `topic '${n}' does not exist`, { topic: n });
          return t;
        });
        const stats = await this.statsByPartition();
        return { type: 'MetadataResult', requestId: frame.requestId, topics: records.map((t) => this.topicInfo(t, stats)) };
      }
      case 'DescribeTopic': {
        const t = store.get(frame.name);
        if (!t) throw new TickbusError(ErrorCode.UNKNOWN_TOPIC, `topic '${frame.name}' does not exist`, { topic: frame.name });
        return { type: 'MetadataResult', requestId: frame.requestId, topics: [this.topicInfo(t, await this.statsByPartition())] };
      }
      case 'CreateTopic': {
        const logConfig = topicLogConfig(config, frame.config);
        if (!store.get(frame.name)) {
          // A bad name or count is reported as such, not as a limit.
          validateTopicName(frame.name);
          validatePartitionCount(frame.partitions);
          const all = store.list();
          checkTopicLimits(config.limits, { topics: all.length, partitions: all.reduce((n, x) => n + x.partitions, 0) }, frame.name, frame.partitions);
        }
        const t = store.create(frame.name, frame.partitions, logConfig);
        // A deletion an owner missed (it was down) left that owner's partition directories behind: set them
        // aside before any owner opens the new incarnation, or the old records would reappear in it.
        const leftovers = discardPartitionDirs(path.join(config.dataDir, t.name));
        if (leftovers > 0) logLine('create topic: removing partitions of a deleted incarnation', { topic: t.name, count: leftovers });
        try {
          await Promise.all([...Array(config.owners).keys()].map((id) => supervisor.request(id, { type: 'openTopic', topic: this.owned(t, id) })));
        } catch (err) {
          // An owner that was down opens the topic from the catalogue when it restarts; others have it now.
          logLine('create topic: an owner did not confirm', { topic: t.name, error: String(err) });
        }
        logLine('topic created', { topic: t.name, partitions: t.partitions, fsync: t.config.fsync });
        return { type: 'MetadataResult', requestId: frame.requestId, topics: [this.topicInfo(t, await this.statsByPartition())] };
      }
      case 'DeleteTopic': {
        const t = store.delete(frame.name);
        const answers = await Promise.allSettled([...Array(config.owners).keys()].map((id) => supervisor.request(id, { type: 'deleteTopic', name: t.name })));
        // An owner that did not answer (down, restarting) will not open the topic again, but its files stay:
        // remove them here, unless the name was created again meanwhile (CreateTopic cleaned up then).
        if (answers.some((a) => a.status === 'rejected') && !store.get(t.name)) discardPartitionDirs(path.join(config.dataDir, t.name));
        logLine('topic deleted', { topic: t.name });
        return { type: 'MetadataResult', requestId: frame.requestId, topics: [this.topicInfo(t, new Map())] };
      }
    }
  }
}
