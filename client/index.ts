// tickbus SDK — the public API. Everything not exported here is internal (see ./internal.ts).
export { connect, Bus } from './bus.js';
export type { ClientOptions, ReconnectOptions } from './options.js';
export type { SendRecord, SendOptions, RecordAck, ProducerStats } from './producer.js';
export { Subscription } from './subscription.js';
export type { SubscribeOptions, From, ConsumedRecord, SubscriptionEvents, SubscriptionStats, TruncationInfo } from './subscription.js';
export type { Admin, TopicDescription, PartitionDescription, TopicConfig, TopicConfigInput, CreateTopicOptions } from './admin.js';
export { TickbusError, ErrorCode, codeName, isRetryable } from './errors.js';
export type { ErrorCodeName, ErrorCodeValue, ErrorData } from './errors.js';
export { utf8, json, copyBytes } from './values.js';
export { IDEMPOTENCE_WINDOW } from '../schemas/limits.js';
export type { AcksMode, Isolation } from '../schemas/frames.js';
