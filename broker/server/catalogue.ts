// What the composition root asks of the topic catalogue. Single node and cluster differ only in the
// catalogue it picks: a local file (local-catalogue.ts) or the control plane on etcd (cluster-mode.ts).
import type { Frame, FrameOf, TopicConfigWire } from '../../schemas/frames.js';
import type { BrokerConfig } from '../config.js';
import { type LogConfig, validateLogConfig } from '../log/partition-log.js';
import type { OwnedTopic } from '../owner/messages.js';

export type AdminFrame = FrameOf<'Metadata' | 'CreateTopic' | 'DescribeTopic' | 'DeleteTopic'>;

export interface Catalogue {
  /** The topics (and partitions) an owner serves, read when it (re)starts. */
  topicsFor(ownerId: number): OwnedTopic[];
  /** A topic's partition count, for the group coordinator; undefined when it does not exist. */
  partitionsOf(topic: string): number | undefined;
  /** Answers an admin or metadata request with a MetadataResult, or throws a TickbusError. */
  admin(frame: AdminFrame): Promise<Frame>;
  /** Fields for /healthz, and whether this catalogue is healthy. */
  health(): { ok: boolean; fields: Record<string, unknown> };
  close(): Promise<void>;
}

export function toWireConfig(c: LogConfig): TopicConfigWire {
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
export function topicLogConfig(broker: BrokerConfig, wire: Partial<TopicConfigWire> | null): LogConfig {
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
