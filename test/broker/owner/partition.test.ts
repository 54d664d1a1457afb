// Appended vs committed: the high watermark is what consumers may see, it trails the log end until
// commitUpTo moves it (the replication code's job), and on one node appendAndPublish commits at once.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PartitionLog } from '../../../broker/log/partition-log.js';
import { Partition } from '../../../broker/owner/partition.js';
import { decodeBatches, encodeBatch } from '../../../schemas/record-batch.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});
function openPartition(): Partition {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickbus-partition-'));
  const log = PartitionLog.open(dir, { fsync: 'os' });
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => log.close());
  return new Partition('t', 1, 0, log);
}

const batch = (...values: string[]): Uint8Array => encodeBatch(values.map((value) => ({ value })));
const values = (bytes: Uint8Array): string[] => decodeBatches(bytes).map((r) => new TextDecoder().decode(r.value!));

describe('partition high watermark', () => {
  it('keeps appended records invisible to readers until they are committed', () => {
    const p = openPartition();
    p.append(batch('a', 'b'), Date.now() * 1000);
    p.append(batch('c'), Date.now() * 1000);
    expect(p.logEndOffset).toBe(3);
    expect(p.highWatermark).toBe(0);
    expect(p.readCommitted(0, 1 << 20).length).toBe(0);

    p.commitUpTo(2);
    expect(p.highWatermark).toBe(2);
    expect(values(p.readCommitted(0, 1 << 20))).toEqual(['a', 'b']);
    expect(p.readCommitted(2, 1 << 20).length).toBe(0);

    p.commitUpTo(3);
    expect(values(p.readCommitted(0, 1 << 20))).toEqual(['a', 'b', 'c']);
  });

  it('never moves backwards and never past the log end', () => {
    const p = openPartition();
    p.append(batch('a', 'b'), Date.now() * 1000);
    p.commitUpTo(99);
    expect(p.highWatermark).toBe(2);
    p.commitUpTo(1);
    expect(p.highWatermark).toBe(2);
  });

  it('commits each batch as it is appended on one node', () => {
    const p = openPartition();
    const res = p.appendAndPublish(batch('a', 'b', 'c'), Date.now() * 1000);
    expect(res.baseOffset).toBe(0);
    expect(p.highWatermark).toBe(3);
    expect(p.highWatermark).toBe(p.logEndOffset);
    expect(values(p.readCommitted(0, 1 << 20))).toEqual(['a', 'b', 'c']);
  });
});
