// One broker node: the topic catalogue, the partition owners, the bootstrap endpoint and the
// consumer-group coordinator, started and stopped in order.
import path from 'node:path';
import { ErrorCode, TickbusError } from '../../schemas/errors.js';
import type { Frame, FrameOf, TopicConfigWire, TopicInfoWire } from '../../schemas/frames.js';
import { type BrokerConfig, resolveConfig } from '../config.js';
import { GroupCoordinator } from '../groups/coordinator.js';
import { discardPartitionDirs, type LogConfig, sweepDeletedPartitions, validateLogConfig } from '../log/partition-log.js';
import { logLine } from '../logger.js';
import { ownerOf, type TopicRecord, TopicStore } from '../metadata/topic-store.js';
import type { OwnedTopic, PartitionStats } from '../owner/messages.js';
import { BootstrapServer } from './bootstrap.js';
import { MAX_LAG_SERIES, renderMetrics } from './metrics.js';
import { Supervisor } from './supervisor.js';

export interface RunningBroker {
  url: string;
  port: number;
  config: BrokerConfig;
  owners(): { id: number; url: string; up: boolean; restarts: number }[];
  /** Test hook (config.testHooks): an uncaught exception inside one owner. */
  injectOwnerFault(ownerId: number): Promise<void>;
  close(): Promise<void>;
}

function toWireConfig(c: LogConfig): TopicConfigWire {
  return {
    fsync: c.fsync,
    fsyncIntervalMs: c.fsyncIntervalMs,
    segmentBytes: c.segmentBytes,
    segmentMs: c.segmentMs,
    retentionBytes: c.retentionBytes,
    retentionMs: c.retentionMs,
  };
}

/** A CreateTopic's config over the broker defaults; zero/empty fields mean "default". */
function topicLogConfig(broker: BrokerConfig, wire: Partial<TopicConfigWire> | null): LogConfig {
  const c: Partial<LogConfig> = { fsync: broker.fsync, fsyncIntervalMs: broker.fsyncIntervalMs };
  if (wire) {
    if (wire.fsync) c.fsync = wire.fsync as LogConfig['fsync'];
    if (wire.fsyncIntervalMs) c.fsyncIntervalMs = wire.fsyncIntervalMs;
    if (wire.segmentBytes) c.segmentBytes = wire.segmentBytes;
    if (wire.segmentMs) c.segmentMs = wire.segmentMs;
    if (wire.retentionBytes !== undefined && wire.retentionBytes !== 0) c.retentionBytes = wire.retentionBytes;
    if (wire.retentionMs !== undefined && wire.retentionMs !== 0) c.retentionMs = wire.retentionMs;
  }
  return validateLogConfig(c);
}

export async function startBroker(partial: Partial<BrokerConfig> = {}): Promise<RunningBroker> {
  const config = resolveConfig(partial);
  const store = TopicStore.open(config.dataDir);
  const swept = sweepDeletedPartitions(config.dataDir);
  if (swept > 0) logLine('removing partitions a topic deletion left behind', { count: swept });

  const ownedBy = (ownerId: number): OwnedTopic[] =>
    store.list().flatMap((t) => {
      const partitions = [...Array(t.partitions).keys()].filter((p) => ownerOf(t.name, p, config.owners) === ownerId);
      return partitions.length ? [{ name: t.name, id: t.id, partitionCount: t.partitions, partitions, config: t.config }] : [];
    });
  const supervisor = new Supervisor(config, ownedBy);
  await supervisor.start();

  let bootstrap: BootstrapServer | null = null;
  const coordinator = GroupCoordinator.open({
    dataDir: config.dataDir,
    partitionsOf: (topic) => store.get(topic)?.partitions,
    send: (connId, frame) => bootstrap?.send(connId, frame),
  });

  function owned(t: TopicRecord, ownerId: number): OwnedTopic {
    const partitions = [...Array(t.partitions).keys()].filter((p) => ownerOf(t.name, p, config.owners) === ownerId);
    return { name: t.name, id: t.id, partitionCount: t.partitions, partitions, config: t.config };
  }

  function topicInfo(t: TopicRecord, stats: Map<string, PartitionStats>): TopicInfoWire {
    return {
      name: t.name,
      config: toWireConfig(t.config),
      partitions: [...Array(t.partitions).keys()].map((p) => {
        const ownerId = ownerOf(t.name, p, config.owners);
        const s = stats.get(`${t.name}/${p}`);
        return {
          partition: p,
          ownerId,
          endpoint: supervisor.endpoint(ownerId),
          leaderEpoch: 0,
          logStartOffset: s?.logStartOffset ?? -1,
          highWatermark: s?.highWatermark ?? -1,
        };
      }),
    };
  }

  async function statsByPartition(): Promise<Map<string, PartitionStats>> {
    const { stats } = await supervisor.stats();
    return new Map(stats.map((s) => [`${s.topic}/${s.partition}`, s]));
  }

  async function admin(frame: FrameOf<'Metadata' | 'CreateTopic' | 'DescribeTopic' | 'DeleteTopic'>): Promise<Frame> {
    switch (frame.type) {
      case 'Metadata': {
        const names = frame.topics.length ? frame.topics : store.list().map((t) => t.name);
        const records = names.map((n) => {
          const t = store.get(n);
          if (!t) throw new TickbusError(ErrorCode.UNKNOWN_TOPIC, `topic '${n}' does not exist`, { topic: n });
          return t;
        });
        const stats = await statsByPartition();
        return { type: 'MetadataResult', requestId: frame.requestId, topics: records.map((t) => topicInfo(t, stats)) };
      }
      case 'DescribeTopic': {
        const t = store.get(frame.name);
        if (!t) throw new TickbusError(ErrorCode.UNKNOWN_TOPIC, `topic '${frame.name}' does not exist`, { topic: frame.name });
        return { type: 'MetadataResult', requestId: frame.requestId, topics: [topicInfo(t, await statsByPartition())] };
      }
      case 'CreateTopic': {
        const logConfig = topicLogConfig(config, frame.config);
        const t = store.create(frame.name, frame.partitions, logConfig);
        // A deletion an owner missed (it was down) left that owner's partition directories behind: set them
        // aside before any owner opens the new incarnation, or the old records would reappear in it.
        const leftovers = discardPartitionDirs(path.join(config.dataDir, t.name));
        if (leftovers > 0) logLine('create topic: removing partitions of a deleted incarnation', { topic: t.name, count: leftovers });
        try {
          await Promise.all([...Array(config.owners).keys()].map((id) => supervisor.request(id, { type: 'openTopic', topic: owned(t, id) })));
        } catch (err) {
          // An owner that was down opens the topic from the catalogue when it restarts; others have it now.
          logLine('create topic: an owner did not confirm', { topic: t.name, error: String(err) });
        }
        logLine('topic created', { topic: t.name, partitions: t.partitions, fsync: t.config.fsync });
        return { type: 'MetadataResult', requestId: frame.requestId, topics: [topicInfo(t, await statsByPartition())] };
      }
      case 'DeleteTopic': {
        const t = store.delete(frame.name);
        const answers = await Promise.allSettled([...Array(config.owners).keys()].map((id) => supervisor.request(id, { type: 'deleteTopic', name: t.name })));
        // An owner that did not answer (down, restarting) will not open the topic again, but its files stay:
        // remove them here, unless the name was created again meanwhile (CreateTopic cleaned up then).
        if (answers.some((a) => a.status === 'rejected') && !store.get(t.name)) discardPartitionDirs(path.join(config.dataDir, t.name));
        coordinator.topicDeleted(t.name);
        logLine('topic deleted', { topic: t.name });
        return { type: 'MetadataResult', requestId: frame.requestId, topics: [topicInfo(t, new Map())] };
      }
    }
  }

  const groupTimer = setInterval(() => coordinator.tick(), 100);
  groupTimer.unref();

  bootstrap = new BootstrapServer(config, {
    admin,
    group: (connId, frame) => coordinator.handle(connId, frame),
    connectionClosed: (connId) => coordinator.connectionClosed(connId),
    health: () => {
      const owners = supervisor.status();
      const ok = owners.every((o) => o.up);
      return { ok, body: { status: ok ? 'ok' : 'degraded', brokerId: config.brokerId, owners } };
    },
    metrics: async () => renderMetrics(supervisor.status(), supervisor.counterBuffers(), await supervisor.stats(MAX_LAG_SERIES)),
    ...(config.testHooks ? { injectOwnerFault: async (id: number) => void (await supervisor.injectFault(id)) } : {}),
  });
  let port: number;
  try {
    port = await bootstrap.listen(config.host, config.port);
  } catch (err) {
    // Owners hold uWS listen sockets: stop them cleanly before failing, or the process aborts on exit.
    clearInterval(groupTimer);
    await supervisor.stop();
    coordinator.close();
    throw err;
  }
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  let closed: Promise<void> | null = null;

  return {
    url: `ws://${host}:${port}/`,
    port,
    config,
    owners: () => supervisor.status().map((o) => ({ id: o.id, url: supervisor.endpoint(o.id), up: o.up, restarts: o.restarts })),
    injectOwnerFault: async (ownerId) => {
      await supervisor.injectFault(ownerId);
    },
    close: () => {
      closed ??= (async () => {
        clearInterval(groupTimer);
        const err = new TickbusError(ErrorCode.SHUTTING_DOWN, 'broker is shutting down; reconnect to resume');
        await bootstrap?.close(err);
        await supervisor.stop();
        coordinator.close();
      })();
      return closed;
    },
  };
}
