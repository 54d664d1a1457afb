// Example tests of the partition log for behaviour a model test states awkwardly: what recovery cuts
// and keeps, group commit, idempotence across a reopen, typed errors.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PartitionLog, sweepDeletedPartitions, validateLogConfig } from '../../../broker/log/partition-log.js';
import { segmentName } from '../../../broker/log/segment.js';
import { ErrorCode, TickbusError } from '../../../schemas/errors.js';
import { decodeBatches, encodeBatch } from '../../../schemas/record-batch.js';
import { tempLogs } from './temp-logs.js';

const { tmp, open } = tempLogs('tickbus-log');
const T0 = 1_700_000_000_000;
function append(log: PartitionLog, values: string[], opts: Parameters<typeof encodeBatch>[1] = {}, timeMs = T0) {
  const b = encodeBatch(values.map((value) => ({ value })), opts);
  return log.append(b, 0, b.length, 0, timeMs * 1000);
}
function valuesFrom(log: PartitionLog, offset = log.logStartOffset): string[] {
  const out: string[] = [];
  let at = offset;
  while (at < log.nextOffset) {
    const bytes = log.read(at, 64 * 1024);
    for (const r of decodeBatches(bytes)) {
      if (r.offset >= at) out.push(new TextDecoder().decode(r.value!));
    }
    at = decodeBatches(bytes).at(-1)!.offset + 1;
  }
  return out;
}
function expectCode(fn: () => unknown, code: number): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TickbusError);
    expect((err as TickbusError).code).toBe(code);
    return;
  }
  throw new Error(`expected TickbusError ${code}`);
}

describe('partition log', () => {
  it('assigns contiguous offsets and reads back across segment rolls', () => {
    const log = open(tmp(), { segmentBytes: 2048 });
    const want: string[] = [];
    for (let i = 0; i < 300; i++) {
      const vs = [`a${i}`, `b${i}`];
      const r = append(log, vs);
      expect(r).toEqual({ baseOffset: 2 * i, recordCount: 2, duplicate: false });
      want.push(...vs);
    }
    expect(log.segmentCount).toBeGreaterThan(5);
    expect(valuesFrom(log)).toEqual(want);
    // A read starting inside a batch returns that whole batch first.
    const first = decodeBatches(log.read(201, 1));
    expect(first[0]!.offset).toBe(200);
    expect(first).toHaveLength(2); // at least one batch, even past maxBytes
  });

  it('cuts a torn tail on open, keeps every whole batch before it and appends after it', () => {
    const dir = tmp();
    const log = open(dir);
    for (let i = 0; i < 10; i++) append(log, [`v${i}`]);
    log.close();
    const file = path.join(dir, segmentName(0, '.log'));
    const size = fs.statSync(file).size;
    fs.truncateSync(file, size - 5); // the last batch loses its end
    const again = open(dir);
    expect(again.nextOffset).toBe(9);
    expect(valuesFrom(again)).toEqual([...Array(9).keys()].map((i) => `v${i}`));
    expect(append(again, ['next']).baseOffset).toBe(9);
  });

  it('cuts at the first corrupt batch (bit flip) and at trailing garbage', () => {
    const dir = tmp();
    const log = open(dir);
    for (let i = 0; i < 5; i++) append(log, [`v${i}`]);
    log.close();
    const file = path.join(dir, segmentName(0, '.log'));
    const bytes = fs.readFileSync(file);
    const batch = bytes.length / 5;
    bytes[3 * batch + 80] = bytes[3 * batch + 80]! ^ 0x10; // a record byte of the 4th batch
    fs.writeFileSync(file, Buffer.concat([bytes, Buffer.from('garbage after the tail')]));
    const again = open(dir);
    expect(again.nextOffset).toBe(3);
    expect(valuesFrom(again)).toEqual(['v0', 'v1', 'v2']);
  });

  it('rebuilds missing index files of sealed segments', () => {
    const dir = tmp();
    const log = open(dir, { segmentBytes: 4096 });
    for (let i = 0; i < 200; i++) append(log, [`value-${i}`.padEnd(40, '.')]);
    log.close();
    for (const f of fs.readdirSync(dir)) if (f.endsWith('.index') || f.endsWith('.timeindex')) fs.rmSync(path.join(dir, f));
    const again = open(dir);
    expect(valuesFrom(again, 150)[0]).toMatch(/^value-150/);
    expect(valuesFrom(again)).toHaveLength(200);
  });

  it('answers a retried idempotent batch with its original offset, also after a reopen', () => {
    const dir = tmp();
    const log = open(dir);
    const pid = 0x1234_5678_9a;
    expect(append(log, ['a', 'b'], { producerId: pid, baseSequence: 0 }).baseOffset).toBe(0);
    expect(append(log, ['c'], { producerId: pid, baseSequence: 2 }).baseOffset).toBe(2);
    expect(append(log, ['a', 'b'], { producerId: pid, baseSequence: 0 })).toEqual({ baseOffset: 0, recordCount: 2, duplicate: true });
    log.close();
    const again = open(dir);
    expect(append(again, ['c'], { producerId: pid, baseSequence: 2 })).toEqual({ baseOffset: 2, recordCount: 1, duplicate: true });
    expect(again.nextOffset).toBe(3);
    // A gap in the sequence is refused and writes nothing.
    expectCode(() => append(again, ['e'], { producerId: pid, baseSequence: 9 }), ErrorCode.OUT_OF_ORDER_SEQUENCE);
    expect(again.nextOffset).toBe(3);
    expect(append(again, ['d'], { producerId: pid, baseSequence: 3 }).baseOffset).toBe(3);
  });

  it('rebuilds idempotence state from the log when the process died without a snapshot', () => {
    const dir = tmp();
    const log = open(dir);
    const pid = 77;
    append(log, ['a'], { producerId: pid, baseSequence: 0 });
    append(log, ['b'], { producerId: pid, baseSequence: 1 });
    // A copy of the directory while the log is still open: what a kill -9 leaves (no close, no snapshot).
    const copy = tmp();
    fs.cpSync(dir, copy, { recursive: true });
    const crashed = open(copy);
    expect(append(crashed, ['b'], { producerId: pid, baseSequence: 1 })).toMatchObject({ baseOffset: 1, duplicate: true });
  });

  it('refuses a corrupt or truncated batch without writing anything', () => {
    const log = open(tmp());
    const b = encodeBatch([{ value: 'x' }]);
    b[b.length - 1] = b[b.length - 1]! ^ 1;
    expectCode(() => log.append(b, 0, b.length, 0, T0 * 1000), ErrorCode.CORRUPT_BATCH);
    const ok = encodeBatch([{ value: 'y' }]);
    expectCode(() => log.append(ok, 0, ok.length - 3, 0, T0 * 1000), ErrorCode.CORRUPT_BATCH);
    expect(log.nextOffset).toBe(0);
    expect(log.sizeBytes).toBe(0);
  });

  it('group-commits: many flushes share fsyncs and all resolve; flush with nothing new resolves at once', async () => {
    const log = open(tmp(), { fsync: 'os' });
    const flushes: Promise<void>[] = [];
    for (let i = 0; i < 50; i++) {
      append(log, [`v${i}`]);
      flushes.push(log.flush());
    }
    await Promise.all(flushes);
    await log.flush();
  });

  it('deletes the oldest segments past retention by size and by age, never the active one', () => {
    const bySize = open(tmp(), { segmentBytes: 1024, retentionBytes: 3000 });
    for (let i = 0; i < 100; i++) append(bySize, [`v${i}`.padEnd(50, '.')]);
    expect(bySize.logStartOffset).toBeGreaterThan(0);
    // Retention runs when a segment rolls: what is left is under the limit plus the sealed segment just
    // kept plus the active one.
    expect(bySize.sizeBytes).toBeLessThan(3000 + 2 * 1024);
    expectCode(() => bySize.read(0, 100), ErrorCode.OFFSET_OUT_OF_RANGE);
    expect(valuesFrom(bySize).at(-1)).toMatch(/^v99/);

    const byAge = open(tmp(), { segmentBytes: 1024, retentionMs: 60_000 });
    for (let i = 0; i < 40; i++) append(byAge, [`v${i}`.padEnd(50, '.')], {}, T0 + i);
    const segments = byAge.segmentCount;
    expect(segments).toBeGreaterThan(1);
    byAge.maintain(T0 + 30_000);
    expect(byAge.segmentCount).toBe(segments);
    byAge.maintain(T0 + 3_600_000);
    expect(byAge.segmentCount).toBe(1);
    expect(byAge.nextOffset).toBe(40);
  });

  it('finds the first batch appended at or after a timestamp', () => {
    const log = open(tmp(), { segmentBytes: 2048 });
    for (let i = 0; i < 200; i++) append(log, [`v${i}`], {}, T0 + i * 10);
    expect(log.offsetForTimestamp(0)).toBe(0);
    expect(log.offsetForTimestamp(T0 + 1000)).toBe(100);
    expect(log.offsetForTimestamp(T0 + 1001)).toBe(101);
    expect(log.offsetForTimestamp(T0 + 10_000)).toBe(200);
  });

  it('rejects bad topic config with INVALID_CONFIG naming the field', () => {
    expectCode(() => validateLogConfig({ segmentBytes: 10 }), ErrorCode.INVALID_CONFIG);
    expectCode(() => validateLogConfig({ fsync: 'never' as 'os' }), ErrorCode.INVALID_CONFIG);
    expectCode(() => validateLogConfig({ retentionMs: 0 }), ErrorCode.INVALID_CONFIG);
    expect(validateLogConfig({ retentionBytes: -1 }).retentionBytes).toBe(-1);
    expect(() => validateLogConfig({ fsyncIntervalMs: 1.5 })).toThrow(/fsyncIntervalMs/);
  });
  it('destroy() frees the directory name at once and removes the files in the background', async () => {
    const data = tmp();
    const dir = path.join(data, 'orders', '0');
    const log = open(dir, { segmentBytes: 1024 });
    for (let i = 0; i < 50; i++) append(log, [`v${i}`.padEnd(40, '.')]);
    log.destroy();
    expect(fs.existsSync(dir)).toBe(false);
    // A topic created again under the same name starts empty, even while the old files are going.
    const again = open(dir);
    expect(again.nextOffset).toBe(0);
    const deadline = Date.now() + 5_000;
    while (fs.readdirSync(path.join(data, 'orders')).length > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(fs.readdirSync(path.join(data, 'orders'))).toEqual(['0']);
  });

  it('sweeps partition directories a deletion left behind when the broker stopped', async () => {
    const data = tmp();
    fs.mkdirSync(path.join(data, 'orders', '0.deleted-1700000000000'), { recursive: true });
    fs.writeFileSync(path.join(data, 'orders', '0.deleted-1700000000000', segmentName(0, '.log')), 'old');
    fs.mkdirSync(path.join(data, 'orders', '1'), { recursive: true });
    fs.writeFileSync(path.join(data, 'topics.json'), '{}');
    expect(sweepDeletedPartitions(data)).toBe(1);
    const deadline = Date.now() + 5_000;
    while (fs.readdirSync(path.join(data, 'orders')).length > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(fs.readdirSync(path.join(data, 'orders'))).toEqual(['1']);
    expect(sweepDeletedPartitions(path.join(data, 'missing'))).toBe(0);
  });
});
