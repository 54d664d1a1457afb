// Topics and partitions per node or cluster, checked where CreateTopic is decided (the local
// catalogue on one node, ClusterNode.createTopic in a cluster). Every partition costs open files,
// memory and, in a cluster, etcd records and controller work, so an admin cannot create them without
// bound. The check reads the catalogue as it is: two concurrent creates in a cluster may both pass
// and overshoot by one topic; the limit is a guard against runaway creation, not an exact count.
import { ErrorCode, TickbusError } from '../../schemas/errors.js';
import type { LimitsConfig } from '../config.js';

export type TopicLimits = Pick<LimitsConfig, 'maxTopics' | 'maxPartitions'>;

/** Throws LIMIT_EXCEEDED when a topic of `partitions` would pass maxTopics or maxPartitions. */
export function checkTopicLimits(limits: TopicLimits, existing: { topics: number; partitions: number }, name: string, partitions: number): void {
  if (existing.topics + 1 > limits.maxTopics) {
    throw new TickbusError(ErrorCode.LIMIT_EXCEEDED, `cannot create topic '${name}': the cluster has ${existing.topics} topics, the limit (maxTopics); delete some first`, {
      topic: name,
    });
  }
  if (existing.partitions + partitions > limits.maxPartitions) {
    throw new TickbusError(
      ErrorCode.LIMIT_EXCEEDED,
      `cannot create topic '${name}' with ${partitions} partitions: the cluster has ${existing.partitions} of at most ${limits.maxPartitions} (maxPartitions)`,
      { topic: name },
    );
  }
}
