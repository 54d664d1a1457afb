// Damage to SEALED segments (docs/log.md "Recovery on open"): with verifyOnOpen 'all' (the default) a bit
// flip or a cut anywhere in a sealed segment is found at open and the log ends at the first bad batch; a
// clean log opens unchanged; damage that appears while the log is open fails the read with STORAGE_ERROR
// naming the offset instead of answering "nothing yet" (which left catch-up readers and followers waiting).
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { PartitionLog } from '../../../broker/log/partition-log.js';
import { segmentName } from '../../../broker/log/segment.js';
import { ErrorCode, TickbusError } from '../../../schemas/errors.js';
import { decodeBatches, encodeBatch, readU32, readU64 } from '../../../schemas/record-batch.js';
import { corruptSegment } from '../../faults/segment-corruption.js';
import { tempLogs } from './temp-logs.js';

const T0_US = 1_700_000_000_000_000;
const temp = tempLogs('tickbus-sealed');
const { tmp } = temp;
const stderr: string[] = [];

beforeAll(() => {
  // The cut is logged loudly on purpose; keep it out of the test output but check it is there.
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr.push(String(chunk));
    return true;
  });
});
afterAll(() => vi.restoreAllMocks());
afterEach(() => {
  stderr.length = 0;
});

function open(dir: string, options: Parameters<typeof PartitionLog.open>[2] = {}, segmentBytes = 4096): PartitionLog {
  return temp.open(dir, { fsync: 'os', segmentBytes }, options);
}
/** `n` one-record batches: value `v<i>` padded to 40 bytes (about 30 batches per 4 KiB segment). */
function fill(log: PartitionLog, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const value = `v${i}`.padEnd(40, '.');
    const b = encodeBatch([{ value }]);
    log.append(b, 0, b.length, 0, T0_US + i * 1000);
    out.push(value);
  }
  return out;
}
function values(log: PartitionLog): string[] {
  const out: string[] = [];
  let at = log.logStartOffset;
  while (at < log.nextOffset) {
    const recs = decodeBatches(log.read(at, 64 * 1024));
    for (const r of recs) if (r.offset >= at) out.push(new TextDecoder().decode(r.value!));
    at = recs.at(-1)!.offset + 1;
  }
  return out;
}
function logFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.log'))
    .sort();
}
/** The batches of a segment file: position, base offset, length. */
function batchesOf(file: string): { position: number; base: number; len: number }[] {
  const bytes = fs.readFileSync(file);
  const out: { position: number; base: number; len: number }[] = [];
  for (let p = 0; p + 72 <= bytes.length; ) {
    const len = readU32(bytes, p + 8);
    out.push({ position: p, base: readU64(bytes, p), len });
    p += len;
  }
  return out;
}
/** The first offset of the batch that holds byte `position` of `file`. */
function offsetAt(file: string, position: number): number {
  return batchesOf(file)
    .filter((b) => b.position <= position)
    .at(-1)!.base;
}
function expectStorageError(fn: () => unknown, message: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(TickbusError);
  expect((caught as TickbusError).code).toBe(ErrorCode.STORAGE_ERROR);
  expect((caught as TickbusError).message).toMatch(message);
}

describe('sealed segment damage', () => {
  it('finds a bit flip in the middle of a sealed segment at open and ends the log at the batch it hit', () => {
    const dir = tmp();
    const log = open(dir);
    const want = fill(log, 200);
    log.close();
    const files = logFiles(dir);
    expect(files.length).toBeGreaterThan(4);
    const c = corruptSegment(dir, { how: 'bitflip', filePick: 1.5 / files.length, positionPick: 0.5, bit: 3 })!;
    expect(c.file).toBe(files[1]);
    const cutAt = offsetAt(path.join(dir, c.file), c.position);

    const again = open(dir);
    expect(again.corruptionCut).toMatchObject({ file: path.join(dir, c.file), offset: cutAt, segmentsRemoved: files.length - 2, reason: 'CRC or structure mismatch' });
    expect(again.nextOffset).toBe(cutAt);
    expect(again.segmentCount).toBe(2);
    expect(values(again)).toEqual(want.slice(0, cutAt));
    // Every later segment is gone from the disk, not only from memory.
    expect(logFiles(dir)).toEqual(files.slice(0, 2));
    expect(stderr.join('')).toContain('DAMAGED SEALED SEGMENT');
    // Appends go on at the cut, and the next open finds nothing more to cut.
    const b = encodeBatch([{ value: 'after' }]);
    expect(again.append(b, 0, b.length, 0, T0_US + 10_000_000).baseOffset).toBe(cutAt);
    again.close();
    const third = open(dir);
    expect(third.corruptionCut).toBeNull();
    expect(values(third)).toEqual([...want.slice(0, cutAt), 'after']);
  });

  it('finds a sealed segment cut short inside a batch, and one cut exactly on a batch boundary', () => {
    for (const boundary of [false, true]) {
      const dir = tmp();
      const log = open(dir);
      const want = fill(log, 200);
      log.close();
      const files = logFiles(dir);
      const file = path.join(dir, files[2]!);
      const batches = batchesOf(file);
      let cutAt: number;
      if (boundary) {
        // No torn batch to see: only the offsets missing before the next segment's base tell.
        fs.truncateSync(file, batches[5]!.position);
        cutAt = batches[5]!.base;
      } else {
        const c = corruptSegment(dir, { how: 'truncate', filePick: 2.5 / files.length, positionPick: 0.5, bit: 0 })!;
        expect(c.file).toBe(files[2]);
        // The first batch that no longer fits whole.
        cutAt = batches.find((b) => b.position + b.len > c.position)!.base;
      }
      const again = open(dir);
      expect(again.corruptionCut?.offset, `boundary ${boundary}`).toBe(cutAt);
      if (boundary) expect(again.corruptionCut?.reason).toMatch(/batches missing/);
      expect(again.nextOffset).toBe(cutAt);
      expect(values(again)).toEqual(want.slice(0, cutAt));
      expect(logFiles(dir)).toEqual(files.slice(0, 3));
    }
  });

  it("with verifyOnOpen 'active' trusts sealed segments (damage there is not looked for); a bad value is a TypeError", () => {
    const dir = tmp();
    const log = open(dir);
    fill(log, 200);
    const end = log.nextOffset;
    log.close();
    const files = logFiles(dir);
    corruptSegment(dir, { how: 'bitflip', filePick: 1.5 / files.length, positionPick: 0.5, bit: 3 });
    const again = open(dir, { verifyOnOpen: 'active' });
    expect(again.corruptionCut).toBeNull();
    expect(again.nextOffset).toBe(end);
    expect(() => PartitionLog.open(tmp(), {}, { verifyOnOpen: 'some' as 'all' })).toThrow(TypeError);
  });

  it('opens an undamaged log unchanged: every record, segment and offset kept (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 300 })), { minLength: 1, maxLength: 120 }),
        fc.constantFrom(1024, 2048, 4096),
        fc.boolean(),
        (batches, segmentBytes, crash) => {
          const dir = tmp();
          const log = open(dir, {}, segmentBytes);
          const want: string[] = [];
          batches.forEach(([count, size], i) => {
            const recs = Array.from({ length: count }, (_, j) => `${i}.${j}`.padEnd(size, '#'));
            const b = encodeBatch(recs.map((value) => ({ value })));
            log.append(b, 0, b.length, 0, T0_US + i * 1000);
            want.push(...recs);
          });
          const before = { next: log.nextOffset, start: log.logStartOffset, segments: log.segmentCount, bytes: log.sizeBytes };
          // A crash (no close) leaves no producer snapshot at the head and indexes of the active segment unwritten.
          const copy = crash ? tmp() : dir;
          if (crash) fs.cpSync(dir, copy, { recursive: true });
          else log.close();
          const again = open(copy, {}, segmentBytes);
          expect(again.corruptionCut).toBeNull();
          expect({ next: again.nextOffset, start: again.logStartOffset, segments: again.segmentCount, bytes: again.sizeBytes }).toEqual(before);
          expect(values(again)).toEqual(want);
          again.close();
          log.close();
          fs.rmSync(dir, { recursive: true, force: true });
          if (crash) fs.rmSync(copy, { recursive: true, force: true });
        },
      ),
      { numRuns: 40 },
    );
  });

  it('fails a read that meets damage done after open with STORAGE_ERROR naming the offset (was an empty read)', () => {
    for (const badLength of [0x7fff_ffff, 0]) {
      const dir = tmp();
      const log = open(dir);
      fill(log, 200);
      const file = path.join(dir, segmentName(0, '.log'));
      const victim = batchesOf(file)[7]!;
      const fd = fs.openSync(file, 'r+');
      // The batch length field: bytes 8..11 of the header, little-endian (schemas/record-batch.ts).
      const four = Buffer.alloc(4);
      four.writeUInt32LE(badLength);
      fs.writeSync(fd, four, 0, 4, victim.position + 8);
      fs.closeSync(fd);
      expectStorageError(() => log.read(victim.base, 4096), new RegExp(`offset ${victim.base} of ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
      // Offsets before the damage still read.
      expect(decodeBatches(log.read(0, 64))[0]!.offset).toBe(0);
    }
  });
});
