// Internal entry for tests and the benchmark harness: the building blocks behind the public API.
// Nothing here is a stable API.
export * from './index.js';
export { Backoff, backoffCeiling, backoffDelay, type BackoffOptions } from './backoff.js';
export { BatchAccumulator, encodedRecordSize, utf8Length, toBytes, type BytesRecord, type CutBatch } from './batch-accumulator.js';
export { BootstrapLink } from './bootstrap.js';
export type { BusInternals, GroupMember, RequestFrame } from './bus-internals.js';
export type { JoinGroupFn } from './bus.js';
export { Connection, type ConnectionListener, type ConnectionOptions, type AnswerCallback } from './connection.js';
export { Emitter } from './emitter.js';
export { MetadataCache, topicMetaFrom, type TopicMeta, type PartitionMeta } from './metadata.js';
export { DEFAULTS, resolveOptions, type ResolvedOptions } from './options.js';
export { OwnerLinks } from './owner-links.js';
export { murmur2, partitionForKey, Partitioner, keyBytes } from './partitioner.js';
export { Producer, SequenceCounter, randomProducerId } from './producer.js';
export { startPos, type SubscriptionContext } from './subscription.js';
export { webSocketTransport, type Transport, type Socket, type SocketHandlers } from './transport.js';
