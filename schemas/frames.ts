// The thin hand-written side of the wire: plain-object frames <-> FlatBuffers bytes.
// Decoding never trusts its input: every vector is bounds-checked, every failure is a typed error
// (MALFORMED_FRAME / UNKNOWN_FRAME_TYPE), never an exception from deep inside the runtime.
// Byte vectors (record batches) are decoded as views into the input: no copy.

import * as flatbuffers from 'flatbuffers';
import * as g from './tickbus_generated.js';
import { ErrorCode, TickbusError } from './errors.js';

export const PROTOCOL_VERSION = 1;

export type AcksMode = 'none' | 'leader' | 'durable' | 'all';
/** committed: below the high watermark (default); leader: on append (a failover may truncate what was seen). */
export type Isolation = 'committed' | 'leader';
/** leaderEpoch: the epoch the consumer's metadata names for the partition (-1 or absent: not checked). */
export type StartSpec =
  | { partition: number; kind: 'earliest'; leaderEpoch?: number }
  | { partition: number; kind: 'latest'; leaderEpoch?: number }
  | { partition: number; kind: 'offset'; value: number; leaderEpoch?: number }
  | { partition: number; kind: 'timestamp'; value: number; leaderEpoch?: number };

export interface TopicConfigWire {
  fsync: string;
  fsyncIntervalMs: number;
  segmentBytes: number;
  segmentMs: number;
  retentionBytes: number;
  retentionMs: number;
}
export interface PartitionInfoWire {
  partition: number;
  ownerId: number;
  endpoint: string;
  leaderEpoch: number;
  logStartOffset: number;
  highWatermark: number;
  /** Cluster: the leader's broker id (-1: offline), replicas (preference order), ISR, zones by replica. */
  leaderId?: number;
  replicas?: number[];
  isr?: number[];
  replicaZones?: string[];
  /** Each replica's owner endpoint (same order as replicas; '' when unknown or down). */
  replicaEndpoints?: string[];
}
export interface TopicInfoWire {
  name: string;
  partitions: PartitionInfoWire[];
  config: TopicConfigWire | null;
  replicationFactor?: number;
  minInsync?: number;
}

export type Frame =
  /** token: a static token or a JWT when the broker requires authentication ('' or absent: none). */
  | { type: 'Hello'; protocolVersion: number; clientId: string; token?: string }
  | { type: 'HelloOk'; protocolVersion: number; brokerId: string; ownerId: number }
  | { type: 'Produce'; requestId: number; topic: string; partition: number; acks: AcksMode; batch: Uint8Array; leaderEpoch?: number }
  | {
      type: 'ProduceAck';
      requestId: number;
      topic: string;
      partition: number;
      baseOffset: number;
      recordCount: number;
      highWatermark: number;
      duplicate: boolean;
      /** Quota: wait this long before the next produce (0 or absent: no throttling). */
      throttleMs?: number;
    }
  | {
      type: 'Subscribe';
      requestId: number;
      topic: string;
      starts: StartSpec[];
      creditBytes: number;
      isolation?: Isolation;
      /** Read committed records from a follower (zone-aware reads); otherwise only the leader serves. */
      fromReplica?: boolean;
    }
  | {
      type: 'SubscribeOk';
      requestId: number;
      topic: string;
      partition: number;
      startOffset: number;
      highWatermark: number;
      logStartOffset: number;
    }
  | { type: 'Unsubscribe'; requestId: number; topic: string; partitions: number[] }
  | { type: 'Credit'; topic: string; partition: number; bytes: number }
  | { type: 'Deliver'; topic: string; partition: number; highWatermark: number; live: boolean; batches: Uint8Array }
  | { type: 'Fetch'; requestId: number; topic: string; partition: number; offset: number; maxBytes: number }
  | {
      type: 'FetchResult';
      requestId: number;
      topic: string;
      partition: number;
      highWatermark: number;
      logStartOffset: number;
      batches: Uint8Array;
    }
  | {
      type: 'CreateTopic';
      requestId: number;
      name: string;
      partitions: number;
      config: Partial<TopicConfigWire> | null;
      /** Cluster only; 0 or absent: the broker's default. */
      replicationFactor?: number;
      minInsync?: number;
    }
  | { type: 'DeleteTopic'; requestId: number; name: string }
  | { type: 'DescribeTopic'; requestId: number; name: string }
  | { type: 'Metadata'; requestId: number; topics: string[] }
  | { type: 'MetadataResult'; requestId: number; topics: TopicInfoWire[] }
  | {
      type: 'ErrorReply';
      requestId: number;
      code: number;
      message: string;
      retryable: boolean;
      topic: string;
      partition: number;
    }
  | { type: 'Ping'; nonce: number }
  | { type: 'Pong'; nonce: number }
  | { type: 'JoinGroup'; requestId: number; group: string; topic: string; memberId: string; sessionTimeoutMs: number }
  | {
      type: 'GroupAssignment';
      requestId: number;
      group: string;
      topic: string;
      memberId: string;
      generation: number;
      partitions: number[];
    }
  | { type: 'AssignmentAck'; group: string; memberId: string; generation: number }
  | { type: 'Heartbeat'; requestId: number; group: string; memberId: string; generation: number }
  | { type: 'LeaveGroup'; requestId: number; group: string; memberId: string }
  | {
      type: 'CommitOffsets';
      requestId: number;
      group: string;
      topic: string;
      memberId: string;
      generation: number;
      offsets: PartitionOffsetWire[];
    }
  | { type: 'FetchOffsets'; requestId: number; group: string; topic: string }
  | { type: 'OffsetsResult'; requestId: number; group: string; topic: string; offsets: PartitionOffsetWire[] }
  | {
      type: 'ReplicaFetch';
      requestId: number;
      topic: string;
      partition: number;
      replicaId: number;
      leaderEpoch: number;
      fetchOffset: number;
      lastFetchedEpoch: number;
      /** The follower's process: its broker record's processRevision; -1 when it does not know it (yet). */
      processRevision: number;
    }
  | {
      type: 'ReplicaFetchOk';
      requestId: number;
      topic: string;
      partition: number;
      /** -1: the histories agree and Deliver frames follow from the fetch offset. */
      divergingEpoch: number;
      divergingEndOffset: number;
      highWatermark: number;
      logStartOffset: number;
    }
  | { type: 'ReplicaAck'; topic: string; partition: number; replicaId: number; leaderEpoch: number; logEndOffset: number };

export interface PartitionOffsetWire {
  partition: number;
  offset: number;
}

export type FrameType = Frame['type'];
export type FrameOf<T extends FrameType> = Extract<Frame, { type: T }>;

const ACKS_TO_WIRE: Record<AcksMode, g.Acks> = { none: g.Acks.None, leader: g.Acks.Leader, durable: g.Acks.Durable, all: g.Acks.All };
const ACKS_FROM_WIRE: AcksMode[] = ['none', 'leader', 'durable', 'all'];
const ISOLATION_FROM_WIRE: Isolation[] = ['committed', 'leader'];
const KIND_TO_WIRE = {
  earliest: g.StartKind.Earliest,
  latest: g.StartKind.Latest,
  offset: g.StartKind.Offset,
  timestamp: g.StartKind.Timestamp,
} as const;

const n64 = (v: bigint): number => Number(v);
const b64 = (v: number): bigint => BigInt(Math.trunc(v));

// The frame types are the members of the schema's `Body` union, by name: a member without a frame type, or a
// frame type without a member, fails the typecheck here rather than a client at runtime.
type SchemaBody = Exclude<keyof typeof g.Body, 'NONE'>;
export type FrameTypesMatchSchema = [FrameType, SchemaBody] extends [SchemaBody, FrameType] ? true : never;
// Compile-time only: assigning `true` fails the typecheck when the two lists differ.
export const frameTypesMatchSchema: FrameTypesMatchSchema = true;

// ---------------------------------------------------------------- shared pieces

const shared = new flatbuffers.Builder(1024);

// Topic names, group names and ids repeat on every frame: encoding the same UTF-8 for each one was
// ~0.5 µs a string on the live path (Deliver and ProduceAck each carry the topic). Short strings are
// encoded once and kept; the map is bounded and simply cleared when full.
const ENCODED_MAX = 1024;
const encoded = new Map<string, Uint8Array>();
const utf8Encoder = new TextEncoder();

function str(b: flatbuffers.Builder, s: string): number {
  return s.length > 128 ? b.createString(s) : b.createString(utf8Of(s));
}

function utf8Of(s: string): Uint8Array {
  if (s.length > 128) return utf8Encoder.encode(s);
  let bytes = encoded.get(s);
  if (bytes === undefined) {
    if (encoded.size >= ENCODED_MAX) encoded.clear();
    bytes = utf8Encoder.encode(s);
    encoded.set(s, bytes);
  }
  return bytes;
}

function malformed(why: string): TickbusError {
  return new TickbusError(ErrorCode.MALFORMED_FRAME, `malformed frame: ${why}`);
}

/** Largest element count a vector can have inside `bb` given the element size. */
function checkVector(len: number, elemSize: number, bb: flatbuffers.ByteBuffer): number {
  if (len > bb.capacity() / elemSize) throw malformed('a vector is longer than the frame');
  return len;
}

function bytesOf(arr: Uint8Array | null, bb: flatbuffers.ByteBuffer): Uint8Array {
  if (arr === null) return new Uint8Array(0);
  const base = bb.bytes();
  if (arr.byteOffset < base.byteOffset || arr.byteOffset + arr.length > base.byteOffset + base.length) {
    throw malformed('a byte vector reaches outside the frame');
  }
  return arr;
}

function s(v: string | null): string {
  return v ?? '';
}

/** The frame's body as the generated table `table` (already known to be that type from bodyType). */
function bodyOf<T>(frame: g.Frame, table: T): T {
  return frame.body(table) as T;
}

function encodeConfig(b: flatbuffers.Builder, c: Partial<TopicConfigWire>): number {
  const fsync = str(b, c.fsync ?? '');
  return g.TopicConfig.createTopicConfig(
    b,
    fsync,
    c.fsyncIntervalMs ?? 0,
    b64(c.segmentBytes ?? 0),
    b64(c.segmentMs ?? 0),
    // 0 = "the broker's default", like the fields above; -1 (no limit) only when asked for.
    b64(c.retentionBytes ?? 0),
    b64(c.retentionMs ?? 0),
  );
}

function decodeConfig(c: g.TopicConfig | null): TopicConfigWire | null {
  if (!c) return null;
  return {
    fsync: s(c.fsync()),
    fsyncIntervalMs: c.fsyncIntervalMs(),
    segmentBytes: n64(c.segmentBytes()),
    segmentMs: n64(c.segmentMs()),
    retentionBytes: n64(c.retentionBytes()),
    retentionMs: n64(c.retentionMs()),
  };
}

function encodeOffsets(b: flatbuffers.Builder, offsets: PartitionOffsetWire[]): number {
  const items = offsets.map((o) => g.PartitionOffset.createPartitionOffset(b, o.partition, b64(o.offset)));
  return g.CommitOffsets.createOffsetsVector(b, items);
}

function decodeOffsets(n: number, at: (i: number) => g.PartitionOffset | null): PartitionOffsetWire[] {
  const offsets: PartitionOffsetWire[] = [];
  for (let i = 0; i < n; i++) {
    const o = at(i);
    if (!o) throw malformed('missing partition offset');
    offsets.push({ partition: o.partition(), offset: n64(o.offset()) });
  }
  return offsets;
}

function decodeInt32s(n: number, at: (i: number) => number | null): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(at(i) ?? 0);
  return out;
}

// ---------------------------------------------------------------- one codec per frame type

/**
 * How one frame type goes to and from its FlatBuffers table. `encode` writes the table into `b` (children
 * first, as FlatBuffers requires) and returns its offset; `decode` reads a body that decodeFrame has already
 * found to be of this type, inside a frame whose root table it has already bounds-checked.
 */
interface Codec<T extends FrameType> {
  encode(b: flatbuffers.Builder, f: FrameOf<T>): flatbuffers.Offset;
  decode(frame: g.Frame, bb: flatbuffers.ByteBuffer): FrameOf<T>;
}

// Adding a frame type: add its table to the Body union in schemas/tickbus.fbs, run `npm run codegen`, add it
// to `Frame` above and one entry here (the typecheck asks for all three). Byte vectors (record batches) go in
// with Builder.createByteVector, one bulk copy: flatc's generated create*Vector adds them a byte at a time
// (measured: 715 µs vs 5 µs for a 256 KiB catch-up chunk).
const codecs: { readonly [T in FrameType]: Codec<T> } = {
  Hello: {
    // The token is a secret: never kept in the string cache.
    encode: (b, f) => g.Hello.createHello(b, f.protocolVersion, str(b, f.clientId), f.token ? b.createString(f.token) : 0),
    decode(frame) {
      const t = bodyOf(frame, new g.Hello());
      return { type: 'Hello', protocolVersion: t.protocolVersion(), clientId: s(t.clientId()), token: s(t.token()) };
    },
  },

  HelloOk: {
    encode: (b, f) => g.HelloOk.createHelloOk(b, f.protocolVersion, str(b, f.brokerId), f.ownerId),
    decode(frame) {
      const t = bodyOf(frame, new g.HelloOk());
      return { type: 'HelloOk', protocolVersion: t.protocolVersion(), brokerId: s(t.brokerId()), ownerId: t.ownerId() };
    },
  },

  // Live path: the batch is decoded as a view into the received bytes, never copied.
  Produce: {
    encode(b, f) {
      const batch = b.createByteVector(f.batch);
      const topic = str(b, f.topic);
      return g.Produce.createProduce(b, f.requestId, topic, f.partition, ACKS_TO_WIRE[f.acks], batch, f.leaderEpoch ?? -1);
    },
    decode(frame, bb) {
      const t = bodyOf(frame, new g.Produce());
      const acks = ACKS_FROM_WIRE[t.acks()];
      if (acks === undefined) throw malformed(`unknown acks value ${t.acks()}`);
      return {
        type: 'Produce',
        requestId: t.requestId(),
        topic: s(t.topic()),
        partition: t.partition(),
        acks,
        batch: bytesOf(t.batchArray(), bb),
        leaderEpoch: t.leaderEpoch(),
      };
    },
  },

  // Live path: one per acknowledged batch; the topic's UTF-8 comes from the cache.
  ProduceAck: {
    encode: (b, f) =>
      g.ProduceAck.createProduceAck(
        b,
        f.requestId,
        str(b, f.topic),
        f.partition,
        b64(f.baseOffset),
        f.recordCount,
        b64(f.highWatermark),
        f.duplicate,
        f.throttleMs ?? 0,
      ),
    decode(frame) {
      const t = bodyOf(frame, new g.ProduceAck());
      return {
        type: 'ProduceAck',
        requestId: t.requestId(),
        topic: s(t.topic()),
        partition: t.partition(),
        baseOffset: n64(t.baseOffset()),
        recordCount: t.recordCount(),
        highWatermark: n64(t.highWatermark()),
        duplicate: t.duplicate(),
        throttleMs: t.throttleMs(),
      };
    },
  },

  Subscribe: {
    encode(b, f) {
      const topic = str(b, f.topic);
      const starts = f.starts.map((s) =>
        g.PartitionStart.createPartitionStart(b, s.partition, KIND_TO_WIRE[s.kind], b64('value' in s ? s.value : 0), s.leaderEpoch ?? -1),
      );
      const vec = g.Subscribe.createStartsVector(b, starts);
      const isolation = f.isolation === 'leader' ? g.Isolation.Leader : g.Isolation.Committed;
      return g.Subscribe.createSubscribe(b, f.requestId, topic, vec, f.creditBytes, isolation, f.fromReplica ?? false);
    },
    decode(frame, bb) {
      const t = bodyOf(frame, new g.Subscribe());
      const n = checkVector(t.startsLength(), 4, bb);
      const starts: StartSpec[] = [];
      for (let i = 0; i < n; i++) {
        const ps = t.starts(i);
        if (!ps) throw malformed('missing partition start');
        const partition = ps.partition();
        const kind = ps.kind();
        const value = n64(ps.value());
        const leaderEpoch = ps.leaderEpoch();
        if (kind === g.StartKind.Earliest) starts.push({ partition, kind: 'earliest', leaderEpoch });
        else if (kind === g.StartKind.Latest) starts.push({ partition, kind: 'latest', leaderEpoch });
        else if (kind === g.StartKind.Offset) starts.push({ partition, kind: 'offset', value, leaderEpoch });
        else if ((kind as number) === (g.StartKind.Timestamp as number)) starts.push({ partition, kind: 'timestamp', value, leaderEpoch });
        else throw malformed(`unknown start kind ${String(kind)}`);
      }
      const isolation = ISOLATION_FROM_WIRE[t.isolation()];
      if (isolation === undefined) throw malformed(`unknown isolation ${t.isolation()}`);
      return {
        type: 'Subscribe',
        requestId: t.requestId(),
        topic: s(t.topic()),
        starts,
        creditBytes: t.creditBytes(),
        isolation,
        fromReplica: t.fromReplica(),
      };
    },
  },

  SubscribeOk: {
    encode: (b, f) =>
      g.SubscribeOk.createSubscribeOk(
        b,
        f.requestId,
        str(b, f.topic),
        f.partition,
        b64(f.startOffset),
        b64(f.highWatermark),
        b64(f.logStartOffset),
      ),
    decode(frame) {
      const t = bodyOf(frame, new g.SubscribeOk());
      return {
        type: 'SubscribeOk',
        requestId: t.requestId(),
        topic: s(t.topic()),
        partition: t.partition(),
        startOffset: n64(t.startOffset()),
        highWatermark: n64(t.highWatermark()),
        logStartOffset: n64(t.logStartOffset()),
      };
    },
  },

  Unsubscribe: {
    encode(b, f) {
      const topic = str(b, f.topic);
      const parts = g.Unsubscribe.createPartitionsVector(b, f.partitions);
      return g.Unsubscribe.createUnsubscribe(b, f.requestId, topic, parts);
    },
    decode(frame, bb) {
      const t = bodyOf(frame, new g.Unsubscribe());
      const partitions = decodeInt32s(checkVector(t.partitionsLength(), 4, bb), (i) => t.partitions(i));
      return { type: 'Unsubscribe', requestId: t.requestId(), topic: s(t.topic()), partitions };
    },
  },

  Credit: {
    encode: (b, f) => g.Credit.createCredit(b, str(b, f.topic), f.partition, f.bytes),
    decode(frame) {
      const t = bodyOf(frame, new g.Credit());
      return { type: 'Credit', topic: s(t.topic()), partition: t.partition(), bytes: t.bytes() };
    },
  },

  // Live path: built once per append and published to every subscriber (encodeFrameView, no copy here).
  Deliver: {
    encode(b, f) {
      const batches = b.createByteVector(f.batches);
      const topic = str(b, f.topic);
      return g.Deliver.createDeliver(b, topic, f.partition, b64(f.highWatermark), f.live, batches);
    },
    decode(frame, bb) {
      const t = bodyOf(frame, new g.Deliver());
      return {
        type: 'Deliver',
        topic: s(t.topic()),
        partition: t.partition(),
        highWatermark: n64(t.highWatermark()),
        live: t.live(),
        batches: bytesOf(t.batchesArray(), bb),
      };
    },
  },

  Fetch: {
    encode: (b, f) => g.Fetch.createFetch(b, f.requestId, str(b, f.topic), f.partition, b64(f.offset), f.maxBytes),
    decode(frame) {
      const t = bodyOf(frame, new g.Fetch());
      return {
        type: 'Fetch',
        requestId: t.requestId(),
        topic: s(t.topic()),
        partition: t.partition(),
        offset: n64(t.offset()),
        maxBytes: t.maxBytes(),
      };
    },
  },

  FetchResult: {
    encode(b, f) {
      const batches = b.createByteVector(f.batches);
      const topic = str(b, f.topic);
      return g.FetchResult.createFetchResult(
        b,
        f.requestId,
        topic,
        f.partition,
        b64(f.highWatermark),
        b64(f.logStartOffset),
        batches,
      );
    },
    decode(frame, bb) {
      const t = bodyOf(frame, new g.FetchResult());
      return {
        type: 'FetchResult',
        requestId: t.requestId(),
        topic: s(t.topic()),
        partition: t.partition(),
        highWatermark: n64(t.highWatermark()),
        logStartOffset: n64(t.logStartOffset()),
        batches: bytesOf(t.batchesArray(), bb),
      };
    },
  },

  // The config table is left out when absent, so the broker can tell "no config" from "all defaults".
  CreateTopic: {
    encode(b, f) {
      const name = str(b, f.name);
      const config = f.config ? encodeConfig(b, f.config) : 0;
      g.CreateTopic.startCreateTopic(b);
      g.CreateTopic.addRequestId(b, f.requestId);
      g.CreateTopic.addName(b, name);
      g.CreateTopic.addPartitions(b, f.partitions);
      if (config) g.CreateTopic.addConfig(b, config);
      g.CreateTopic.addReplicationFactor(b, f.replicationFactor ?? 0);
      g.CreateTopic.addMinInsync(b, f.minInsync ?? 0);
      return g.CreateTopic.endCreateTopic(b);
    },
    decode(frame) {
      const t = bodyOf(frame, new g.CreateTopic());
      return {
        type: 'CreateTopic',
        requestId: t.requestId(),
        name: s(t.name()),
        partitions: t.partitions(),
        config: decodeConfig(t.config()),
        replicationFactor: t.replicationFactor(),
        minInsync: t.minInsync(),
      };
    },
  },

  DeleteTopic: {
    encode: (b, f) => g.DeleteTopic.createDeleteTopic(b, f.requestId, str(b, f.name)),
    decode(frame) {
      const t = bodyOf(frame, new g.DeleteTopic());
      return { type: 'DeleteTopic', requestId: t.requestId(), name: s(t.name()) };
    },
  },

  DescribeTopic: {
    encode: (b, f) => g.DescribeTopic.createDescribeTopic(b, f.requestId, str(b, f.name)),
    decode(frame) {
      const t = bodyOf(frame, new g.DescribeTopic());
      return { type: 'DescribeTopic', requestId: t.requestId(), name: s(t.name()) };
    },
  },

  Metadata: {
    encode(b, f) {
      const names = f.topics.map((t) => str(b, t));
      const vec = g.Metadata.createTopicsVector(b, names);
      return g.Metadata.createMetadata(b, f.requestId, vec);
    },
    decode(frame, bb) {
      const t = bodyOf(frame, new g.Metadata());
      const n = checkVector(t.topicsLength(), 4, bb);
      const topics: string[] = [];
      for (let i = 0; i < n; i++) topics.push(s(t.topics(i)));
      return { type: 'Metadata', requestId: t.requestId(), topics };
    },
  },

  MetadataResult: {
    encode(b, f) {
      const topics = f.topics.map((t) => {
        const name = str(b, t.name);
        const parts = t.partitions.map((p) => {
          const ep = str(b, p.endpoint);
          const replicas = g.PartitionInfo.createReplicasVector(b, p.replicas ?? []);
          const isr = g.PartitionInfo.createIsrVector(b, p.isr ?? []);
          const zones = g.PartitionInfo.createReplicaZonesVector(b, (p.replicaZones ?? []).map((z) => str(b, z)));
          const endpoints = g.PartitionInfo.createReplicaEndpointsVector(b, (p.replicaEndpoints ?? []).map((e) => str(b, e)));
          g.PartitionInfo.startPartitionInfo(b);
          g.PartitionInfo.addPartition(b, p.partition);
          g.PartitionInfo.addOwnerId(b, p.ownerId);
          g.PartitionInfo.addEndpoint(b, ep);
          g.PartitionInfo.addLeaderEpoch(b, p.leaderEpoch);
          g.PartitionInfo.addLogStartOffset(b, b64(p.logStartOffset));
          g.PartitionInfo.addHighWatermark(b, b64(p.highWatermark));
          g.PartitionInfo.addLeaderId(b, p.leaderId ?? -1);
          g.PartitionInfo.addReplicas(b, replicas);
          g.PartitionInfo.addIsr(b, isr);
          g.PartitionInfo.addReplicaZones(b, zones);
          g.PartitionInfo.addReplicaEndpoints(b, endpoints);
          return g.PartitionInfo.endPartitionInfo(b);
        });
        const pv = g.TopicInfo.createPartitionsVector(b, parts);
        const config = t.config ? encodeConfig(b, t.config) : 0;
        g.TopicInfo.startTopicInfo(b);
        g.TopicInfo.addName(b, name);
        g.TopicInfo.addPartitions(b, pv);
        if (config) g.TopicInfo.addConfig(b, config);
        g.TopicInfo.addReplicationFactor(b, t.replicationFactor ?? 1);
        g.TopicInfo.addMinInsync(b, t.minInsync ?? 1);
        return g.TopicInfo.endTopicInfo(b);
      });
      const vec = g.MetadataResult.createTopicsVector(b, topics);
      return g.MetadataResult.createMetadataResult(b, f.requestId, vec);
    },
    decode(frame, bb) {
      const t = bodyOf(frame, new g.MetadataResult());
      const n = checkVector(t.topicsLength(), 4, bb);
      const topics: TopicInfoWire[] = [];
      for (let i = 0; i < n; i++) {
        const ti = t.topics(i);
        if (!ti) throw malformed('missing topic info');
        const np = checkVector(ti.partitionsLength(), 4, bb);
        const partitions: PartitionInfoWire[] = [];
        for (let j = 0; j < np; j++) {
          const p = ti.partitions(j);
          if (!p) throw malformed('missing partition info');
          partitions.push({
            partition: p.partition(),
            ownerId: p.ownerId(),
            endpoint: s(p.endpoint()),
            leaderEpoch: p.leaderEpoch(),
            logStartOffset: n64(p.logStartOffset()),
            highWatermark: n64(p.highWatermark()),
            leaderId: p.leaderId(),
            replicas: decodeInt32s(checkVector(p.replicasLength(), 4, bb), (k) => p.replicas(k)),
            isr: decodeInt32s(checkVector(p.isrLength(), 4, bb), (k) => p.isr(k)),
            replicaZones: Array.from({ length: checkVector(p.replicaZonesLength(), 4, bb) }, (_, k) => s(p.replicaZones(k))),
            replicaEndpoints: Array.from({ length: checkVector(p.replicaEndpointsLength(), 4, bb) }, (_, k) => s(p.replicaEndpoints(k))),
          });
        }
        topics.push({
          name: s(ti.name()),
          partitions,
          config: decodeConfig(ti.config()),
          replicationFactor: ti.replicationFactor(),
          minInsync: ti.minInsync(),
        });
      }
      return { type: 'MetadataResult', requestId: t.requestId(), topics };
    },
  },

  ErrorReply: {
    encode(b, f) {
      const message = str(b, f.message);
      const topic = str(b, f.topic);
      return g.ErrorReply.createErrorReply(b, f.requestId, f.code, message, f.retryable, topic, f.partition);
    },
    decode(frame) {
      const t = bodyOf(frame, new g.ErrorReply());
      return {
        type: 'ErrorReply',
        requestId: t.requestId(),
        code: t.code(),
        message: s(t.message()),
        retryable: t.retryable(),
        topic: s(t.topic()),
        partition: t.partition(),
      };
    },
  },

  Ping: {
    encode: (b, f) => g.Ping.createPing(b, b64(f.nonce)),
    decode: (frame) => ({ type: 'Ping', nonce: n64(bodyOf(frame, new g.Ping()).nonce()) }),
  },

  Pong: {
    encode: (b, f) => g.Pong.createPong(b, b64(f.nonce)),
    decode: (frame) => ({ type: 'Pong', nonce: n64(bodyOf(frame, new g.Pong()).nonce()) }),
  },

  JoinGroup: {
    encode(b, f) {
      const group = str(b, f.group);
      const topic = str(b, f.topic);
      const member = str(b, f.memberId);
      return g.JoinGroup.createJoinGroup(b, f.requestId, group, topic, member, f.sessionTimeoutMs);
    },
    decode(frame) {
      const t = bodyOf(frame, new g.JoinGroup());
      return {
        type: 'JoinGroup',
        requestId: t.requestId(),
        group: s(t.group()),
        topic: s(t.topic()),
        memberId: s(t.memberId()),
        sessionTimeoutMs: t.sessionTimeoutMs(),
      };
    },
  },

  GroupAssignment: {
    encode(b, f) {
      const group = str(b, f.group);
      const topic = str(b, f.topic);
      const member = str(b, f.memberId);
      const parts = g.GroupAssignment.createPartitionsVector(b, f.partitions);
      return g.GroupAssignment.createGroupAssignment(b, f.requestId, group, topic, member, f.generation, parts);
    },
    decode(frame, bb) {
      const t = bodyOf(frame, new g.GroupAssignment());
      const partitions = decodeInt32s(checkVector(t.partitionsLength(), 4, bb), (i) => t.partitions(i));
      return {
        type: 'GroupAssignment',
        requestId: t.requestId(),
        group: s(t.group()),
        topic: s(t.topic()),
        memberId: s(t.memberId()),
        generation: t.generation(),
        partitions,
      };
    },
  },

  AssignmentAck: {
    encode(b, f) {
      const group = str(b, f.group);
      const member = str(b, f.memberId);
      return g.AssignmentAck.createAssignmentAck(b, group, member, f.generation);
    },
    decode(frame) {
      const t = bodyOf(frame, new g.AssignmentAck());
      return { type: 'AssignmentAck', group: s(t.group()), memberId: s(t.memberId()), generation: t.generation() };
    },
  },

  Heartbeat: {
    encode(b, f) {
      const group = str(b, f.group);
      const member = str(b, f.memberId);
      return g.Heartbeat.createHeartbeat(b, f.requestId, group, member, f.generation);
    },
    decode(frame) {
      const t = bodyOf(frame, new g.Heartbeat());
      return {
        type: 'Heartbeat',
        requestId: t.requestId(),
        group: s(t.group()),
        memberId: s(t.memberId()),
        generation: t.generation(),
      };
    },
  },

  LeaveGroup: {
    encode(b, f) {
      const group = str(b, f.group);
      const member = str(b, f.memberId);
      return g.LeaveGroup.createLeaveGroup(b, f.requestId, group, member);
    },
    decode(frame) {
      const t = bodyOf(frame, new g.LeaveGroup());
      return { type: 'LeaveGroup', requestId: t.requestId(), group: s(t.group()), memberId: s(t.memberId()) };
    },
  },

  CommitOffsets: {
    encode(b, f) {
      const group = str(b, f.group);
      const topic = str(b, f.topic);
      const member = str(b, f.memberId);
      const offs = encodeOffsets(b, f.offsets);
      return g.CommitOffsets.createCommitOffsets(b, f.requestId, group, topic, member, f.generation, offs);
    },
    decode(frame, bb) {
      const t = bodyOf(frame, new g.CommitOffsets());
      const offsets = decodeOffsets(checkVector(t.offsetsLength(), 4, bb), (i) => t.offsets(i));
      return {
        type: 'CommitOffsets',
        requestId: t.requestId(),
        group: s(t.group()),
        topic: s(t.topic()),
        memberId: s(t.memberId()),
        generation: t.generation(),
        offsets,
      };
    },
  },

  FetchOffsets: {
    encode(b, f) {
      const group = str(b, f.group);
      const topic = str(b, f.topic);
      return g.FetchOffsets.createFetchOffsets(b, f.requestId, group, topic);
    },
    decode(frame) {
      const t = bodyOf(frame, new g.FetchOffsets());
      return { type: 'FetchOffsets', requestId: t.requestId(), group: s(t.group()), topic: s(t.topic()) };
    },
  },

  OffsetsResult: {
    encode(b, f) {
      const group = str(b, f.group);
      const topic = str(b, f.topic);
      const offs = encodeOffsets(b, f.offsets);
      return g.OffsetsResult.createOffsetsResult(b, f.requestId, group, topic, offs);
    },
    decode(frame, bb) {
      const t = bodyOf(frame, new g.OffsetsResult());
      const offsets = decodeOffsets(checkVector(t.offsetsLength(), 4, bb), (i) => t.offsets(i));
      return { type: 'OffsetsResult', requestId: t.requestId(), group: s(t.group()), topic: s(t.topic()), offsets };
    },
  },

  // ---- replication: follower owner → leader owner
  ReplicaFetch: {
    encode: (b, f) =>
      g.ReplicaFetch.createReplicaFetch(b, f.requestId, str(b, f.topic), f.partition, f.replicaId, f.leaderEpoch, b64(f.fetchOffset), f.lastFetchedEpoch, b64(f.processRevision)),
    decode(frame) {
      const t = bodyOf(frame, new g.ReplicaFetch());
      return {
        type: 'ReplicaFetch',
        requestId: t.requestId(),
        topic: s(t.topic()),
        partition: t.partition(),
        replicaId: t.replicaId(),
        leaderEpoch: t.leaderEpoch(),
        fetchOffset: n64(t.fetchOffset()),
        lastFetchedEpoch: t.lastFetchedEpoch(),
        processRevision: n64(t.processRevision()),
      };
    },
  },

  ReplicaFetchOk: {
    encode: (b, f) =>
      g.ReplicaFetchOk.createReplicaFetchOk(
        b,
        f.requestId,
        str(b, f.topic),
        f.partition,
        f.divergingEpoch,
        b64(f.divergingEndOffset),
        b64(f.highWatermark),
        b64(f.logStartOffset),
      ),
    decode(frame) {
      const t = bodyOf(frame, new g.ReplicaFetchOk());
      return {
        type: 'ReplicaFetchOk',
        requestId: t.requestId(),
        topic: s(t.topic()),
        partition: t.partition(),
        divergingEpoch: t.divergingEpoch(),
        divergingEndOffset: n64(t.divergingEndOffset()),
        highWatermark: n64(t.highWatermark()),
        logStartOffset: n64(t.logStartOffset()),
      };
    },
  },

  ReplicaAck: {
    encode: (b, f) => g.ReplicaAck.createReplicaAck(b, str(b, f.topic), f.partition, f.replicaId, f.leaderEpoch, b64(f.logEndOffset)),
    decode(frame) {
      const t = bodyOf(frame, new g.ReplicaAck());
      return {
        type: 'ReplicaAck',
        topic: s(t.topic()),
        partition: t.partition(),
        replicaId: t.replicaId(),
        leaderEpoch: t.leaderEpoch(),
        logEndOffset: n64(t.logEndOffset()),
      };
    },
  },
};

// The codec each union tag on the wire selects; a tag with none (NONE, or from a newer peer) is
// UNKNOWN_FRAME_TYPE. Built once: the lookups on the live path are an array index and a property read.
const codecByBody: (Codec<FrameType> | undefined)[] = [];
for (const type of Object.keys(codecs) as FrameType[]) codecByBody[g.Body[type]] = codecs[type] as Codec<FrameType>;

// ---------------------------------------------------------------- encode

/**
 * Encodes a frame into a fresh Uint8Array (safe to keep).
 */
export function encodeFrame(f: Frame): Uint8Array {
  return encodeFrameView(f).slice();
}

/**
 * Encodes a frame and returns a view into a shared builder, valid only until the next encode.
 * For sends that copy synchronously (uWS send/publish, ws send of a copy). Saves one copy per frame.
 */
export function encodeFrameView(f: Frame): Uint8Array {
  // The live path's frames skip the generated code (see "live-path writers" below): the two an owner
  // sends per message, and the one a producer sends per batch.
  if (f.type === 'Deliver') return writeDeliver(f);
  if (f.type === 'ProduceAck') return writeProduceAck(f);
  if (f.type === 'Produce') return writeProduce(f);
  return encodeFrameGenerated(f);
}

/**
 * encodeFrameView through the generated code for every frame type, the live-path ones included: the
 * reference the hand-written writers below are tested against (test/schemas/frames.test.ts).
 */
export function encodeFrameGenerated(f: Frame): Uint8Array {
  const codec = codecs[f.type] as Codec<FrameType> | undefined;
  if (codec === undefined) throw new TypeError(`cannot encode frame type ${f.type as string}: no such frame type`);
  const b = shared;
  b.clear();
  const body = codec.encode(b, f);
  b.finish(g.Frame.createFrame(b, g.Body[f.type], body));
  return b.asUint8Array();
}

// ---------------------------------------------------------------- decode

/**
 * Decodes one frame. Throws TickbusError MALFORMED_FRAME or UNKNOWN_FRAME_TYPE on bad input; never
 * anything else. Byte vectors in the result are views into `bytes`.
 */
export function decodeFrame(bytes: Uint8Array): Frame {
  if (bytes.length < 8) throw malformed(`${bytes.length} bytes is shorter than the smallest frame`);
  // The root table and its vtable must lie inside the frame before any field is read: a truncated
  // frame otherwise yields fields read from past its end (garbage, not an error).
  const root = u32(bytes, 0);
  if (root + 4 > bytes.length) throw malformed('root table offset is outside the frame');
  const vtable = root - i32(bytes, root);
  if (vtable < 0 || vtable + 4 > bytes.length) throw malformed('root vtable is outside the frame');
  const vtableSize = u16(bytes, vtable);
  if (vtableSize < 4 || vtable + vtableSize > bytes.length || root + u16(bytes, vtable + 2) > bytes.length) {
    throw malformed('frame is truncated: its root table runs past the end');
  }
  const typeAt = fieldAt(bytes, root, 4, 1);
  const type = typeAt === 0 ? g.Body.NONE : bytes[typeAt]!;
  // The two frames of the live path skip the generated code (see "live-path readers" below). `type` is the
  // raw union byte of the frame, any number: decodeBody rejects one that is not a g.Body.
  // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-comparison -- a raw byte, compared on purpose
  if (type === g.Body.Produce) return decodeProduce(bytes, root);
  // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-comparison -- a raw byte, compared on purpose
  if (type === g.Body.Deliver) return decodeDeliver(bytes, root);
  const bb = new flatbuffers.ByteBuffer(bytes);
  return decodeBody(g.Frame.getRootAsFrame(bb), bb, type);
}

/**
 * decodeFrame through the generated code for every frame type, the live-path ones included: the
 * reference the hand-written readers below are tested against (test/schemas/frames.test.ts).
 */
export function decodeFrameGenerated(bytes: Uint8Array): Frame {
  if (bytes.length < 8) throw malformed(`${bytes.length} bytes is shorter than the smallest frame`);
  const bb = new flatbuffers.ByteBuffer(bytes);
  let frame: g.Frame;
  try {
    frame = g.Frame.getRootAsFrame(bb);
  } catch (err) {
    throw malformed(String(err));
  }
  return decodeBody(frame, bb, frame.bodyType());
}

function decodeBody(frame: g.Frame, bb: flatbuffers.ByteBuffer, type: number): Frame {
  const codec = codecByBody[type];
  if (codec === undefined) throw new TickbusError(ErrorCode.UNKNOWN_FRAME_TYPE, `unknown frame type ${type}`);
  try {
    return codec.decode(frame, bb);
  } catch (err) {
    if (err instanceof TickbusError) throw err;
    throw malformed(err instanceof Error ? err.message : String(err));
  }
}

/** Builds an ErrorReply frame from a TickbusError. */
export function errorFrame(err: TickbusError, requestId = 0): FrameOf<'ErrorReply'> {
  return {
    type: 'ErrorReply',
    requestId,
    code: err.code,
    message: err.message,
    retryable: err.retryable,
    topic: err.topic ?? '',
    partition: err.partition ?? -1,
  };
}

/** Rebuilds the TickbusError an ErrorReply frame carries. */
export function errorFromFrame(f: FrameOf<'ErrorReply'>): TickbusError {
  const opts: { retryable: boolean; topic?: string; partition?: number } = { retryable: f.retryable };
  if (f.topic) opts.topic = f.topic;
  if (f.partition >= 0) opts.partition = f.partition;
  return new TickbusError(f.code, f.message, opts);
}

// ---------------------------------------------------------------- live-path readers
//
// Produce (every message into an owner) and Deliver (every message out to a subscriber) are read here
// without the generated code: it allocated a table object, a ByteBuffer view and a string per frame,
// and a BigInt for the 64-bit high watermark. Measured warm on this VM: 1.4 µs → ~0.2 µs per Produce,
// 2.0 µs → ~0.2 µs per Deliver (bench `micro`); on an owner woken from idle the generated path was
// ~12 µs of the broker's ~35 µs (docs/latency.md). Same wire, same defaults for absent fields (what
// FlatBuffers omits when a value equals its schema default), and every offset is bounds-checked before
// it is followed: a bad frame is MALFORMED_FRAME, never a read past the end.

function u16(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8);
}
function i32(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24);
}
function u32(b: Uint8Array, at: number): number {
  return i32(b, at) >>> 0;
}

/** Position of the table a uoffset at `at` points to, with its vtable and table inside the frame. */
function tableAt(b: Uint8Array, at: number): number {
  const t = at + u32(b, at);
  if (t + 4 > b.length) throw malformed('a table is outside the frame');
  const vt = t - i32(b, t);
  if (vt < 0 || vt + 4 > b.length) throw malformed('a vtable is outside the frame');
  if (vt + u16(b, vt) > b.length || t + u16(b, vt + 2) > b.length) throw malformed('a table runs past the end of the frame');
  return t;
}

/** Absolute position of field `slot` (4, 6, 8...: the vtable byte offset) of table `t`, or 0 if absent. */
function fieldAt(b: Uint8Array, t: number, slot: number, width: number): number {
  const vt = t - i32(b, t);
  if (slot + 2 > u16(b, vt)) return 0;
  const o = u16(b, vt + slot);
  if (o === 0) return 0;
  if (o + width > u16(b, vt + 2)) throw malformed('a field runs past the end of its table');
  return t + o;
}

/** The byte vector (or string bytes) a uoffset field at `at` points to, as a view. */
function vectorAt(b: Uint8Array, at: number): Uint8Array {
  const v = at + u32(b, at);
  if (v + 4 > b.length) throw malformed('a byte vector is outside the frame');
  const len = u32(b, v);
  if (len > b.length - v - 4) throw malformed('a byte vector reaches outside the frame');
  return b.subarray(v + 4, v + 4 + len);
}

// The last topic name read per frame type: a broker sees one topic per connection most of the time, a
// subscriber a handful, so comparing bytes beats decoding UTF-8 (and allocating a string) per frame.
const utf8Decoder = new TextDecoder();
class NameCache {
  private bytes = new Uint8Array(0);
  private name = '';

  read(b: Uint8Array, at: number): string {
    if (at === 0) return '';
    const v = at + u32(b, at);
    if (v + 4 > b.length) throw malformed('a string is outside the frame');
    const len = u32(b, v);
    if (len > b.length - v - 4) throw malformed('a string reaches outside the frame');
    const last = this.bytes;
    if (len === last.length) {
      let i = 0;
      while (i < len && b[v + 4 + i] === last[i]) i++;
      if (i === len) return this.name;
    }
    const bytes = b.slice(v + 4, v + 4 + len);
    this.name = utf8Decoder.decode(bytes);
    this.bytes = bytes;
    return this.name;
  }
}
const produceTopics = new NameCache();
const deliverTopics = new NameCache();

/** Frame root table at `root`: its body (a union uoffset, field slot 6). */
function bodyTable(b: Uint8Array, root: number): number {
  const at = fieldAt(b, root, 6, 4);
  if (at === 0) throw malformed('the frame has no body');
  return tableAt(b, at);
}

function decodeProduce(b: Uint8Array, root: number): FrameOf<'Produce'> {
  const t = bodyTable(b, root);
  const requestId = fieldAt(b, t, 4, 4);
  const partition = fieldAt(b, t, 8, 4);
  const acksAt = fieldAt(b, t, 10, 1);
  const batch = fieldAt(b, t, 12, 4);
  const epoch = fieldAt(b, t, 14, 4);
  const acksWire = acksAt === 0 ? g.Acks.Leader : (b[acksAt]! << 24) >> 24;
  const acks = ACKS_FROM_WIRE[acksWire];
  if (acks === undefined) throw malformed(`unknown acks value ${acksWire}`);
  return {
    type: 'Produce',
    requestId: requestId === 0 ? 0 : u32(b, requestId),
    topic: produceTopics.read(b, fieldAt(b, t, 6, 4)),
    partition: partition === 0 ? 0 : i32(b, partition),
    acks,
    batch: batch === 0 ? new Uint8Array(0) : vectorAt(b, batch),
    leaderEpoch: epoch === 0 ? -1 : i32(b, epoch),
  };
}

function decodeDeliver(b: Uint8Array, root: number): FrameOf<'Deliver'> {
  const t = bodyTable(b, root);
  const partition = fieldAt(b, t, 6, 4);
  const hw = fieldAt(b, t, 8, 8);
  const live = fieldAt(b, t, 10, 1);
  const batches = fieldAt(b, t, 12, 4);
  return {
    type: 'Deliver',
    topic: deliverTopics.read(b, fieldAt(b, t, 4, 4)),
    partition: partition === 0 ? 0 : i32(b, partition),
    // int64 as a double (exact below 2^53, where every offset is): no BigInt.
    highWatermark: hw === 0 ? 0 : i32(b, hw + 4) * 0x1_0000_0000 + u32(b, hw),
    live: live === 0 ? false : b[live] !== 0,
    batches: batches === 0 ? new Uint8Array(0) : vectorAt(b, batches),
  };
}

// ---------------------------------------------------------------- live-path writers
//
// Deliver (once per append, then fanned out), ProduceAck (once per acknowledged produce) and Produce (once
// per batch a producer sends) are written by hand in FlatBuffers layout: the generated builder cost 1.4-2.9 µs per frame here (BigInts for the
// int64 fields, a vtable search, the builder's back-to-front bookkeeping). Every field is written, even
// at its default, so the layout is fixed: the Frame root and its vtable, the body's vtable, the body table
// (int64 fields 8-byte aligned), then the topic string and the byte vector, which the uoffsets point
// forward to. Readers (this module's and the generated code) cannot tell it from the builder's output.

let out = new Uint8Array(4096);
let outView = new DataView(out.buffer);

function room(bytes: number): void {
  if (out.length >= bytes) return;
  out = new Uint8Array(Math.max(bytes, out.length * 2));
  outView = new DataView(out.buffer);
}

/** Frame root (bytes 0-23): uoffset to the Frame table at 12, its vtable at 4, body type and body uoffset. */
function writeRoot(bodyType: g.Body, body: number): void {
  const v = outView;
  v.setUint32(0, 12, true);
  v.setUint16(4, 8, true); // vtable bytes
  v.setUint16(6, 12, true); // table bytes
  v.setUint16(8, 8, true); // body_type at table + 8
  v.setUint16(10, 4, true); // body at table + 4
  v.setInt32(12, 8, true); // table (12) − vtable (4)
  v.setUint32(16, body - 16, true);
  v.setUint32(20, bodyType, true); // body_type byte, then padding
}

/** A body's vtable at 24: its size, the table's size, then each field's offset in the table (0: absent). */
function writeVtable(words: readonly number[]): void {
  for (let i = 0; i < words.length; i++) outView.setUint16(24 + 2 * i, words[i]!, true);
}

function writeI64(at: number, n: number): void {
  const v = Math.trunc(n);
  const hi = Math.floor(v / 0x1_0000_0000);
  outView.setUint32(at, v - hi * 0x1_0000_0000, true);
  outView.setInt32(at + 4, hi, true);
}

/** A string at `at` (length, bytes, NUL); returns the 4-aligned end. */
function writeString(at: number, bytes: Uint8Array): number {
  outView.setUint32(at, bytes.length, true);
  out.set(bytes, at + 4);
  out[at + 4 + bytes.length] = 0;
  let end = at + 5 + bytes.length;
  while (end & 3) out[end++] = 0;
  return end;
}

// The hand-written bodies' vtables: vtable bytes, table bytes, then each field's offset in the table.
/** 14 bytes, table 28; topic, partition, high_watermark, live, batches; then 2 bytes of padding (table at 40). */
const DELIVER_VTABLE = [14, 28, 4, 16, 8, 24, 20, 0] as const;
/** 20 bytes, table 44; request_id, topic, partition, base_offset, record_count, high_watermark, duplicate, throttle_ms. */
const PRODUCE_ACK_VTABLE = [20, 44, 20, 24, 28, 4, 32, 12, 40, 36] as const;
/** 16 bytes, table 28; request_id, topic, partition, acks, batch, leader_epoch. */
const PRODUCE_VTABLE = [16, 28, 4, 8, 12, 24, 16, 20] as const;

function writeDeliver(f: FrameOf<'Deliver'>): Uint8Array {
  const topic = utf8Of(f.topic);
  const strAt = 68;
  const vecAt = stringEnd(strAt, topic.length);
  const end = vecAt + 4 + f.batches.length;
  room(end);
  writeRoot(g.Body.Deliver, 40);
  writeVtable(DELIVER_VTABLE);
  // table at 40
  outView.setInt32(40, 16, true); // table (40) − vtable (24)
  outView.setUint32(44, strAt - 44, true);
  writeI64(48, f.highWatermark);
  outView.setInt32(56, f.partition, true);
  outView.setUint32(60, vecAt - 60, true);
  outView.setUint32(64, f.live ? 1 : 0, true);
  writeString(strAt, topic);
  outView.setUint32(vecAt, f.batches.length, true);
  out.set(f.batches, vecAt + 4);
  return out.subarray(0, end);
}

function writeProduceAck(f: FrameOf<'ProduceAck'>): Uint8Array {
  const topic = utf8Of(f.topic);
  const strAt = 88;
  const end = stringEnd(strAt, topic.length);
  room(end);
  writeRoot(g.Body.ProduceAck, 44);
  writeVtable(PRODUCE_ACK_VTABLE);
  const v = outView;
  // table at 44
  v.setInt32(44, 20, true); // table (44) − vtable (24)
  writeI64(48, f.baseOffset);
  writeI64(56, f.highWatermark);
  v.setUint32(64, f.requestId, true);
  v.setUint32(68, strAt - 68, true);
  v.setInt32(72, f.partition, true);
  v.setInt32(76, f.recordCount, true);
  v.setUint32(80, f.throttleMs ?? 0, true);
  v.setUint32(84, f.duplicate ? 1 : 0, true);
  writeString(strAt, topic);
  return out.subarray(0, end);
}

function writeProduce(f: FrameOf<'Produce'>): Uint8Array {
  const topic = utf8Of(f.topic);
  const strAt = 68;
  const vecAt = stringEnd(strAt, topic.length);
  const end = vecAt + 4 + f.batch.length;
  room(end);
  writeRoot(g.Body.Produce, 40);
  writeVtable(PRODUCE_VTABLE);
  const v = outView;
  // table at 40
  v.setInt32(40, 16, true); // table (40) − vtable (24)
  v.setUint32(44, f.requestId, true);
  v.setUint32(48, strAt - 48, true);
  v.setInt32(52, f.partition, true);
  v.setUint32(56, vecAt - 56, true);
  v.setInt32(60, f.leaderEpoch ?? -1, true);
  v.setUint32(64, ACKS_TO_WIRE[f.acks], true); // acks byte, then padding
  writeString(strAt, topic);
  v.setUint32(vecAt, f.batch.length, true);
  out.set(f.batch, vecAt + 4);
  return out.subarray(0, end);
}

/** Where a string of `len` bytes written at `at` ends (4-aligned). */
function stringEnd(at: number, len: number): number {
  return at + ((4 + len + 1 + 3) & ~3);
}

