// Which incarnation of a topic an owner opens from disk. In cluster mode a topic deleted and created again
// under the same name while the broker was down must start empty when the broker comes back: its partition
// directories record the topic id, and those of another incarnation are set aside, never read as the new
// topic. The same incarnation, and directories from before ids were recorded, keep their records.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LOG_CONFIG } from '../../../broker/log/log-config.js';
import { claimPartitionDir, readTopicId, TOPIC_ID_FILE } from '../../../broker/log/partition-incarnation.js';
import { PartitionLog } from '../../../broker/log/partition-log.js';
import { partitionDir } from '../../../broker/metadata/topic-store.js';
import type { OwnedTopic } from '../../../broker/owner/messages.js';
import { PartitionRegistry } from '../../../broker/owner/partition-registry.js';
import { encodeBatch } from '../../../schemas/record-batch.js';
import { registryFixture } from './registry-fixture.js';

const { dataDir, registry } = registryFixture('tickbus-registry-');

const topic = (id: number, partitions = [0, 1]): OwnedTopic => ({ name: 'orders', id, partitionCount: 2, partitions, config: { ...DEFAULT_LOG_CONFIG, fsync: 'os' } });

/** Appends `n` records to orders/p through the registry. */
function write(r: PartitionRegistry, p: number, n: number): void {
  const part = r.partitionOf('orders', p);
  const values = Array.from({ length: n }, (_, i) => ({ value: `v${i}` }));
  part.append(encodeBatch(values), Date.now() * 1000);
}

const logEnd = (r: PartitionRegistry, p: number): number => r.partitionOf('orders', p).log.nextOffset;

/** Directories set aside under the topic (renamed `<p>.deleted-<ms>`, removed in the background). */
const setAside = (dir: string): string[] => (fs.existsSync(path.join(dir, 'orders')) ? fs.readdirSync(path.join(dir, 'orders')).filter((e) => e.includes('.deleted-')) : []);

describe('partition directories and topic incarnations', () => {
  it('cluster mode: a topic deleted and created again while the owner was down opens empty, not with the old records', () => {
    const dir = dataDir();
    const before = registry(dir, true);
    before.open(topic(7));
    write(before, 0, 3);
    write(before, 1, 2);
    expect(readTopicId(partitionDir(dir, 'orders', 0))).toBe(7);
    before.closeAll(() => undefined);

    // The broker comes back; meanwhile 'orders' was deleted and created again as topic id 9.
    const after = registry(dir, true);
    after.open(topic(9));
    expect(logEnd(after, 0)).toBe(0);
    expect(logEnd(after, 1)).toBe(0);
    expect(readTopicId(partitionDir(dir, 'orders', 0))).toBe(9);
    // What the old incarnation wrote is gone or on its way out, never in the new log.
    const names = fs.readdirSync(path.join(dir, 'orders'));
    expect(names.filter((e) => !e.includes('.deleted-')).sort()).toEqual(['0', '1']);
    write(after, 0, 1);
    expect(logEnd(after, 0)).toBe(1);
  });

  it('cluster mode: the same incarnation reopens with its records', () => {
    const dir = dataDir();
    const first = registry(dir, true);
    first.open(topic(7));
    write(first, 0, 3);
    first.closeAll(() => undefined);

    const again = registry(dir, true);
    again.open(topic(7));
    expect(logEnd(again, 0)).toBe(3);
    expect(setAside(dir)).toEqual([]);
  });

  it('cluster mode: a directory written before topic ids were recorded is kept and adopted', () => {
    const dir = dataDir();
    const log = PartitionLog.open(partitionDir(dir, 'orders', 0), { fsync: 'os' });
    const b = encodeBatch([{ value: 'old' }, { value: 'format' }]);
    log.append(b, 0, b.length, 0, Date.now() * 1000);
    log.close();
    expect(readTopicId(partitionDir(dir, 'orders', 0))).toBeNull();

    const r = registry(dir, true);
    r.open(topic(4, [0]));
    expect(logEnd(r, 0)).toBe(2);
    expect(readTopicId(partitionDir(dir, 'orders', 0))).toBe(4);
  });

  it('one node: no topic id is written (the local catalogue discards leftovers when it creates a topic)', () => {
    const dir = dataDir();
    const r = registry(dir, false);
    r.open(topic(1, [0]));
    expect(fs.existsSync(path.join(partitionDir(dir, 'orders', 0), TOPIC_ID_FILE))).toBe(false);
  });

  it('claimPartitionDir says what it found, and an unreadable id counts as another incarnation', () => {
    const dir = path.join(dataDir(), 'orders', '0');
    expect(claimPartitionDir(dir, 3)).toBe('created');
    expect(claimPartitionDir(dir, 3)).toBe('same');
    expect(claimPartitionDir(dir, 5)).toBe('replaced');
    expect(readTopicId(dir)).toBe(5);
    fs.writeFileSync(path.join(dir, TOPIC_ID_FILE), 'garbage');
    expect(readTopicId(dir)).toBeNaN();
    expect(claimPartitionDir(dir, 5)).toBe('replaced');
    expect(() => claimPartitionDir(dir, -1)).toThrow(RangeError);
  });
});
