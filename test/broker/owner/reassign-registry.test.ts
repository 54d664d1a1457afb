// What an owner does when a reassignment changes which partitions of an open topic this broker holds:
// opening the same incarnation with another partition list opens the new partitions and closes and deletes
// the ones no longer listed (their subscribers get a retryable NOT_LEADER), keeping the others' records;
// an empty list leaves the topic known (NOT_OWNER, retryable) rather than deleted.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LOG_CONFIG } from '../../../broker/log/log-config.js';
import { partitionDir } from '../../../broker/metadata/topic-store.js';
import type { OwnedTopic } from '../../../broker/owner/messages.js';
import { PartitionRegistry } from '../../../broker/owner/partition-registry.js';
import { ErrorCode } from '../../../schemas/errors.js';
import { encodeBatch } from '../../../schemas/record-batch.js';
import { registryFixture } from './registry-fixture.js';

const fixture = registryFixture('tickbus-reassign-registry-');

function setup(): { dir: string; r: PartitionRegistry } {
  const dir = fixture.dataDir();
  return { dir, r: fixture.registry(dir, true) };
}

const topic = (partitions: number[]): OwnedTopic => ({ name: 'orders', id: 3, partitionCount: 3, partitions, config: { ...DEFAULT_LOG_CONFIG, fsync: 'os' } });

function codeOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return (err as { code?: unknown }).code;
  }
  return null;
}

describe('an owner whose replicas of a topic change', () => {
  it('opens an added partition, deletes a removed one, and keeps the records of the rest', () => {
    const { dir, r } = setup();
    r.open(topic([0, 1]));
    r.partitionOf('orders', 0).append(encodeBatch([{ value: 'a' }, { value: 'b' }]), Date.now() * 1000);
    r.partitionOf('orders', 1).append(encodeBatch([{ value: 'c' }]), Date.now() * 1000);
    expect(fs.existsSync(partitionDir(dir, 'orders', 1))).toBe(true);

    r.open(topic([0, 2]));
    expect(r.partitionOf('orders', 0).log.nextOffset).toBe(2);
    expect(r.partitionOf('orders', 2).log.nextOffset).toBe(0);
    expect(codeOf(() => r.partitionOf('orders', 1))).toBe(ErrorCode.NOT_OWNER);
    expect(fs.existsSync(partitionDir(dir, 'orders', 1))).toBe(false);
  });

  it('with no partition left, the topic stays known (retryable NOT_OWNER), its files gone', () => {
    const { dir, r } = setup();
    r.open(topic([1]));
    r.open(topic([]));
    expect(fs.existsSync(partitionDir(dir, 'orders', 1))).toBe(false);
    expect(codeOf(() => r.partitionOf('orders', 1))).toBe(ErrorCode.NOT_OWNER);
    expect(r.topicId('orders')).toBe(3);
  });
});
