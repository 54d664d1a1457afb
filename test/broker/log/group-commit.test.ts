// Group commit on the owner's thread (fsyncThread 'owner', the default): durable flushes asked for in one
// event-loop turn share ONE fdatasync, run after the turn's appends; none resolves before it; and a log
// closed with a commit still scheduled acknowledges what close() synced, nothing more.
import fs from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type FsyncThread, PartitionLog } from '../../../broker/log/partition-log.js';
import { encodeBatch } from '../../../schemas/record-batch.js';
import { tempLogs } from './temp-logs.js';

const temp = tempLogs('tickbus-group-commit');
afterEach(() => vi.restoreAllMocks());

function open(fsync: 'always' | 'os', fsyncThread: FsyncThread): PartitionLog {
  return temp.open(temp.tmp(), { fsync }, { fsyncThread });
}

function append(log: PartitionLog, value: string): void {
  const b = encodeBatch([{ value }]);
  log.append(b, 0, b.length, 0, Date.now() * 1000);
}

describe('group commit on the owner thread', () => {
  it('answers every flush of one turn with one fdatasync, after the turn', async () => {
    const log = open('os', 'owner');
    const syncs = vi.spyOn(fs, 'fdatasyncSync');
    const done: number[] = [];
    const flushes: Promise<void>[] = [];
    for (let i = 0; i < 10; i++) {
      append(log, `r${i}`);
      flushes.push(log.flush().then(() => void done.push(i)));
    }
    await Promise.resolve();
    // Nothing is acknowledged inside the turn that appended it.
    expect(done).toEqual([]);
    expect(syncs).not.toHaveBeenCalled();
    await Promise.all(flushes);
    expect(syncs).toHaveBeenCalledTimes(1);
    expect(done).toEqual([...Array(10).keys()]);
    // Already durable: no second fdatasync.
    await log.flush();
    expect(syncs).toHaveBeenCalledTimes(1);
  });

  it("with fsync 'always', syncs each turn's appends without being asked", async () => {
    const log = open('always', 'owner');
    const syncs = vi.spyOn(fs, 'fdatasyncSync');
    append(log, 'a');
    append(log, 'b');
    await new Promise((r) => setImmediate(r));
    expect(syncs).toHaveBeenCalledTimes(1);
    append(log, 'c');
    await new Promise((r) => setImmediate(r));
    expect(syncs).toHaveBeenCalledTimes(2);
    await log.flush();
    expect(syncs).toHaveBeenCalledTimes(2);
  });

  it("the 'interval' policy's background sync stays off the owner thread (nobody waits for it)", async () => {
    const log = temp.open(temp.tmp(), { fsync: 'interval', fsyncIntervalMs: 1 }, { fsyncThread: 'owner' });
    const inline = vi.spyOn(fs, 'fdatasyncSync');
    const pooled = vi.spyOn(fs, 'fdatasync');
    append(log, 'a');
    const until = Date.now() + 5_000;
    while (pooled.mock.calls.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    expect(pooled).toHaveBeenCalled();
    expect(inline).not.toHaveBeenCalled();
  });

  it('a flush that a roll made durable before its turn ended still resolves', async () => {
    const log = open('os', 'owner');
    append(log, 'x');
    const flushed = log.flush();
    // roll() seals (fsyncs) the segment in the same turn: by the time the scheduled commit runs there is
    // nothing left to sync, and the waiter must still be answered.
    log.roll();
    const outcome = await Promise.race([flushed.then(() => 'resolved'), new Promise((r) => setTimeout(() => r('still waiting after 2 s'), 2_000))]);
    expect(outcome).toBe('resolved');
  });

  it('a log closed with a commit scheduled resolves the waiters close() synced', async () => {
    const log = open('os', 'owner');
    append(log, 'x');
    const flushed = log.flush();
    log.close();
    await expect(flushed).resolves.toBeUndefined();
  });

  it('rejects an unknown fsyncThread with a TypeError', () => {
    expect(() => PartitionLog.open(temp.tmp(), {}, { fsyncThread: 'elsewhere' as never })).toThrow(TypeError);
  });
});
