// Preallocation (segment.ts): a durable log's active segment runs ahead of its end with zeros, so its
// fdatasyncs write data blocks only (for a log that is not fsync 'always', from its first flush on). The
// zeros are never log: seal and close cut them, and after a crash the recovery scan takes an all-zero
// tail as the end (nothing cut, nothing reported) but anything else past the last good batch as damage.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type LogConfig } from '../../../broker/log/log-config.js';
import { PartitionLog } from '../../../broker/log/partition-log.js';
import { PREALLOCATE_BYTES, segmentName } from '../../../broker/log/segment.js';
import { decodeBatches, encodeBatch } from '../../../schemas/record-batch.js';
import { tempLogs } from './temp-logs.js';

const temp = tempLogs('tickbus-prealloc');
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** Appends `n` records; returns the bytes they take in the log. */
function appendN(log: PartitionLog, n: number, from = 0): number {
  let bytes = 0;
  for (let i = from; i < from + n; i++) {
    const b = encodeBatch([{ value: `record-${i}` }]);
    log.append(b, 0, b.length, 0, Date.now() * 1000);
    bytes += b.length;
  }
  return bytes;
}

function values(log: PartitionLog): string[] {
  const out: string[] = [];
  let offset = log.logStartOffset;
  while (offset < log.nextOffset) {
    const recs = decodeBatches(log.read(offset, 1 << 20));
    if (recs.length === 0) break;
    for (const r of recs) out.push(new TextDecoder().decode(r.value ?? new Uint8Array()));
    offset = recs[recs.length - 1]!.offset + 1;
  }
  return out;
}

const expected = (n: number): string[] => Array.from({ length: n }, (_, i) => `record-${i}`);
const fileOf = (dir: string, base = 0): string => path.join(dir, segmentName(base, '.log'));

/** The directory as a crash would leave it: copied while the log is open (nothing closed, nothing trimmed). */
function crashCopy(dir: string): string {
  const copy = temp.tmp();
  for (const f of fs.readdirSync(dir)) fs.copyFileSync(path.join(dir, f), path.join(copy, f));
  return copy;
}

const durable: Partial<LogConfig> = { fsync: 'always' };

/** A durable log in a fresh dir with `n` records appended and flushed; `bytes` is what they take. */
async function flushedLog(n: number): Promise<{ dir: string; bytes: number }> {
  const dir = temp.tmp();
  const log = temp.open(dir, durable);
  const bytes = appendN(log, n);
  await log.flush();
  return { dir, bytes };
}

/** Overwrites `bytes` of `file` at `at` (a torn write, a stray byte). */
function writeAt(file: string, bytes: Uint8Array, at: number): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.writeSync(fd, bytes, 0, bytes.length, at);
  } finally {
    fs.closeSync(fd);
  }
}

describe('preallocated segments', () => {
  it('zero-fill ahead of a durable log, and seal and close leave each file exactly its batches', async () => {
    const dir = temp.tmp();
    const log = temp.open(dir, { ...durable, segmentBytes: 64 * 1024 });
    const bytes = appendN(log, 100);
    await log.flush();
    const file = fs.readFileSync(fileOf(dir));
    // The first append zero-filled one allocation step (capped by the segment size) past itself.
    expect(file.length).toBeGreaterThan(bytes);
    expect(file.length).toBeLessThanOrEqual(bytes + Math.min(PREALLOCATE_BYTES, 64 * 1024));
    expect(file.subarray(bytes).every((b) => b === 0)).toBe(true);

    log.roll();
    expect(fs.statSync(fileOf(dir)).size).toBe(bytes);
    const more = appendN(log, 10, 100);
    expect(fs.statSync(fileOf(dir, 100)).size).toBeGreaterThan(more);
    log.close();
    expect(fs.statSync(fileOf(dir, 100)).size).toBe(more);
    expect(values(temp.open(dir, durable))).toEqual(expected(110));
  });

  it("start with the first flush of a log that is not fsync 'always' (a producer waiting for durable acks), not before", async () => {
    const dir = temp.tmp();
    const log = temp.open(dir, { fsync: 'os' });
    const bytes = appendN(log, 50);
    expect(fs.statSync(fileOf(dir)).size).toBe(bytes);
    await log.flush();
    expect(fs.statSync(fileOf(dir)).size).toBe(bytes);
    const more = appendN(log, 1, 50);
    expect(fs.statSync(fileOf(dir)).size).toBeGreaterThan(bytes + more);
    log.roll();
    appendN(log, 1, 51);
    expect(fs.statSync(fileOf(dir, 51)).size).toBeGreaterThan(more);
  });

  it('after a crash: the zeros are taken as the end, nothing is cut or reported, and appends reuse them', async () => {
    const { dir, bytes } = await flushedLog(200);
    const copy = crashCopy(dir);
    const before = fs.statSync(fileOf(copy)).size;
    expect(before).toBeGreaterThan(bytes);

    const reopened = temp.open(copy, durable);
    expect(reopened.corruptionCut).toBeNull();
    expect(reopened.nextOffset).toBe(200);
    expect(values(reopened)).toEqual(expected(200));
    // The zeros stay where they were; the next batch is written over them.
    expect(fs.statSync(fileOf(copy)).size).toBe(before);
    appendN(reopened, 5, 200);
    await reopened.flush();
    expect(fs.statSync(fileOf(copy)).size).toBe(before);
    reopened.close();
    expect(values(temp.open(copy, durable))).toEqual(expected(205));
  });

  it('after a crash: a torn batch in the zeros, or a stray byte far past the end, is cut; every whole batch is kept', async () => {
    const { dir, bytes } = await flushedLog(30);
    const torn = crashCopy(dir);
    const next = encodeBatch([{ value: 'never acknowledged' }]);
    writeAt(fileOf(torn), next.subarray(0, next.length - 5), bytes);
    const stray = crashCopy(dir);
    writeAt(fileOf(stray), Uint8Array.of(0x5a), bytes + 100_000);

    for (const copy of [torn, stray]) {
      const reopened = temp.open(copy, durable);
      expect(values(reopened)).toEqual(expected(30));
      // Cut at the end of the last whole batch: the file is exactly the log again.
      expect(fs.statSync(fileOf(copy)).size).toBe(bytes);
      appendN(reopened, 1, 30);
      await reopened.flush();
      reopened.close();
      expect(values(temp.open(copy, durable))).toEqual(expected(31));
    }
  });

  it('survive kill -9 of the process writing them: every flushed record is there after reopening', async () => {
    const dir = temp.tmp();
    // A child (the build in dist/, as npm test makes it first) writes and flushes, says how many, and is
    // killed while its log is open.
    const script = `
      import { PartitionLog } from ${JSON.stringify(path.join(ROOT, 'dist/broker/log/partition-log.js'))};
      import { encodeBatch } from ${JSON.stringify(path.join(ROOT, 'dist/schemas/record-batch.js'))};
      const log = PartitionLog.open(${JSON.stringify(dir)}, { fsync: 'always' });
      for (let i = 0; i < 500; i++) {
        const b = encodeBatch([{ value: 'record-' + i }]);
        log.append(b, 0, b.length, 0, Date.now() * 1000);
        if (i % 50 === 49) await log.flush();
      }
      process.stdout.write('flushed 500\\n');
      setInterval(() => undefined, 1000);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the writer did not report within 20 s')), 20_000);
        child.stdout.on('data', (d: Buffer) => {
          if (d.toString().includes('flushed 500')) {
            clearTimeout(timer);
            resolve();
          }
        });
        child.on('exit', (code) => reject(new Error(`the writer exited with ${code}`)));
      });
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    expect(fs.statSync(fileOf(dir)).size).toBeGreaterThan(0);
    const reopened = temp.open(dir, durable);
    expect(reopened.corruptionCut).toBeNull();
    expect(values(reopened)).toEqual(expected(500));
  }, 30_000);
});
