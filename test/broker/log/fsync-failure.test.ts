// A failed fdatasync is STORAGE_ERROR, and the log then acknowledges nothing: every flush waiting on it
// rejects, later flushes and appends are refused (after a failed fsync the page cache may have dropped
// the dirty pages, so "retry the fsync" could report durable what is not: fsyncgate).
// The failure is real: the active segment's .log fd is swapped underneath the log for /dev/null, on
// which Linux's fdatasync fails with EINVAL.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FSYNC_THREADS, type PartitionLog } from '../../../broker/log/partition-log.js';
import { segmentName } from '../../../broker/log/segment.js';
import { ErrorCode, TickbusError } from '../../../schemas/errors.js';
import { encodeBatch } from '../../../schemas/record-batch.js';
import { tempLogs } from './temp-logs.js';

const temp = tempLogs('tickbus-fsync');

function append(log: PartitionLog, value: string): void {
  const b = encodeBatch([{ value }]);
  log.append(b, 0, b.length, 0, Date.now() * 1000);
}

/** This process's fd open on `file`, found through /proc (the log keeps its fds private). */
function fdOf(file: string): number {
  for (const name of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${name}`) === file) return Number(name);
    } catch {
      // the fd of the readdir itself, gone by now
    }
  }
  throw new Error(`no open fd for ${file}`);
}

/**
 * Puts /dev/null at `fd`: close it, then open until the kernel hands back that number (it always hands
 * out the lowest free one). Bounded; the extra fds opened on the way are closed again.
 */
function swapForDevNull(fd: number): void {
  fs.closeSync(fd);
  const extra: number[] = [];
  try {
    for (let i = 0; i <= fd; i++) {
      const got = fs.openSync('/dev/null', 'r+');
      if (got === fd) return;
      extra.push(got);
    }
    throw new Error(`could not reopen fd ${fd}`);
  } finally {
    for (const e of extra) fs.closeSync(e);
  }
}

// Whichever thread runs the fdatasync: the owner's (the default) or libuv's pool.
describe.each(FSYNC_THREADS)('a failed fdatasync (fsyncThread %s)', (fsyncThread) => {
  it('rejects flush with STORAGE_ERROR, and the log acknowledges nothing after it', async () => {
    const dir = temp.tmp();
    // 'os': no background fsync, so the only fdatasync is the one flush() starts.
    const log = temp.open(dir, { fsync: 'os' }, { fsyncThread });
    append(log, 'durable');
    await log.flush();
    append(log, 'not yet durable');
    const head = log.nextOffset;

    swapForDevNull(fdOf(path.join(dir, segmentName(0, '.log'))));
    // Two producers waiting on the same group commit: both are told, neither is acknowledged.
    const waits = [log.flush(), log.flush()].map((p) => p.then(() => 'acknowledged', (e: unknown) => e));
    for (const outcome of await Promise.all(waits)) {
      expect(outcome).toBeInstanceOf(TickbusError);
      expect((outcome as TickbusError).code).toBe(ErrorCode.STORAGE_ERROR);
      expect((outcome as TickbusError).retryable).toBe(true);
      expect((outcome as TickbusError).message).toMatch(/fdatasync .* failed/);
    }

    // From now on the partition refuses: no later flush resolves, no append is taken.
    await expect(log.flush()).rejects.toMatchObject({ code: ErrorCode.STORAGE_ERROR });
    expect(() => append(log, 'after')).toThrow(expect.objectContaining({ code: ErrorCode.STORAGE_ERROR }));
    expect(log.nextOffset).toBe(head);
  });
});
