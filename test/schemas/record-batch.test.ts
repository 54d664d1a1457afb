import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32c } from '../../schemas/crc32c.js';
import {
  assertOneBatch,
  BatchCheck,
  batchAppendTimeUs,
  batchBaseOffset,
  batchLeaderEpoch,
  batchLength,
  batchRecordCount,
  checkBatch,
  decodeBatches,
  encodeBatch,
  Off,
  type RecordInput,
  readU64,
  stampBatch,
  writeU64,
} from '../../schemas/record-batch.js';

const bytes = fc.uint8Array({ maxLength: 64 });
const recordArb: fc.Arbitrary<RecordInput> = fc.record({
  key: fc.option(fc.oneof(fc.string({ maxLength: 16 }), bytes), { nil: null }),
  value: fc.option(fc.oneof(fc.string({ maxLength: 64 }), bytes), { nil: null }),
  headers: fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.oneof(fc.string({ maxLength: 8 }), bytes), { maxKeys: 3 }),
  // Record timestamps are stored as 32-bit deltas from the batch's first timestamp: within ±24 days.
  timestamp: fc.integer({ min: 1_700_000_000_000, max: 1_700_000_000_000 + 2_000_000_000 }),
});
const recordsArb = fc.array(recordArb, { minLength: 1, maxLength: 8 });
const enc = new TextEncoder();
const asBytes = (v: string | Uint8Array | null | undefined): Uint8Array | null =>
  v === null || v === undefined ? null : typeof v === 'string' ? enc.encode(v) : v;

describe('CRC-32C', () => {
  it('matches the published check value of "123456789"', () => {
    expect(crc32c(enc.encode('123456789'))).toBe(0xe3069283);
  });
  it('equals a bytewise reference on random input and continues across chunks', () => {
    const ref = (b: Uint8Array): number => {
      let c = ~0;
      for (const x of b) {
        c ^= x;
        for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
      }
      return ~c >>> 0;
    };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), (b, cut) => {
        const at = b.length ? cut % b.length : 0;
        expect(crc32c(b)).toBe(ref(b));
        expect(crc32c(b, at, b.length, crc32c(b, 0, at))).toBe(ref(b));
      }),
    );
  });
});

describe('record batch', () => {
  it('round-trips records: what is encoded is what is decoded, in order', () => {
    fc.assert(
      fc.property(recordsArb, fc.integer({ min: 0, max: 2 ** 40 }), (records, base) => {
        const b = encodeBatch(records, { producerId: 7, baseSequence: 3, timestamp: records[0]!.timestamp! });
        expect(checkBatch(b, 0, b.length, false)).toBe(BatchCheck.OK);
        stampBatch(b, 0, base, 5, 1_700_000_000_000_000);
        expect(checkBatch(b, 0, b.length, true)).toBe(BatchCheck.OK);
        const out = decodeBatches(b);
        expect(out).toHaveLength(records.length);
        out.forEach((r, i) => {
          const src = records[i]!;
          expect(r.offset).toBe(base + i);
          expect(r.timestamp).toBe(src.timestamp);
          expect(r.key).toEqual(asBytes(src.key));
          expect(r.value).toEqual(asBytes(src.value));
          expect(Object.keys(r.headers).sort()).toEqual(Object.keys(src.headers ?? {}).sort());
          for (const [k, v] of Object.entries(src.headers ?? {})) expect(r.headers[k]).toEqual(asBytes(v));
        });
      }),
      { numRuns: 200 },
    );
  });

  it('stamping changes only the broker fields and keeps the producer crc valid', () => {
    const b = encodeBatch([{ value: 'x' }, { value: 'y' }]);
    const before = b.slice(Off.magic);
    stampBatch(b, 0, 1234, 9, 42);
    expect(batchBaseOffset(b)).toBe(1234);
    expect(batchLeaderEpoch(b)).toBe(9);
    expect(batchAppendTimeUs(b)).toBe(42);
    expect(batchRecordCount(b)).toBe(2);
    expect(b.slice(Off.magic)).toEqual(before);
  });

  it('reports every truncation as INCOMPLETE and every single bit flip as CORRUPT', () => {
    fc.assert(
      fc.property(recordsArb, fc.nat(), fc.nat(7), (records, pos, bit) => {
        const b = encodeBatch(records);
        stampBatch(b, 0, 10, 0, 1);
        const cut = pos % b.length;
        expect(checkBatch(b, 0, cut, true)).toBe(BatchCheck.INCOMPLETE);
        const flipped = b.slice();
        const at = pos % b.length;
        flipped[at]! ^= 1 << bit;
        const r = checkBatch(flipped, 0, flipped.length, true);
        // A flip in batchLength may make the batch look longer than the buffer: INCOMPLETE is then right.
        if (at >= Off.batchLength && at < Off.batchLength + 4) expect(r).not.toBe(BatchCheck.OK);
        else expect(r).toBe(BatchCheck.CORRUPT);
      }),
      { numRuns: 300 },
    );
  });

  it('rejects a batch with trailing bytes and an empty batch with typed errors', () => {
    const b = encodeBatch([{ value: 'v' }]);
    const longer = new Uint8Array(b.length + 3);
    longer.set(b);
    expect(() => assertOneBatch(longer, 0, longer.length, false)).toThrow(/trailing bytes/);
    expect(() => encodeBatch([])).toThrow(expect.objectContaining({ code: 106 }));
    expect(batchLength(b)).toBe(b.length);
  });

  it('refuses records whose timestamps are more than 24 days apart, with a typed error', () => {
    expect(() => encodeBatch([{ value: 'a', timestamp: 0 }, { value: 'b', timestamp: 2 ** 31 }], { timestamp: 0 })).toThrow(
      expect.objectContaining({ code: 106 }),
    );
  });

  it('keeps 64-bit fields exact up to 2^53', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), (v) => {
        const b = new Uint8Array(8);
        writeU64(b, 0, v);
        expect(readU64(b, 0)).toBe(v);
      }),
    );
  });
});
