import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BatchAccumulator, type BytesRecord, encodeCut, encodedRecordSize, toBytes, utf8Length } from '../../client/batch-accumulator.js';
import { BATCH_HEADER_SIZE, decodeBatches, encodeBatch } from '../../schemas/record-batch.js';

const bytes = fc.uint8Array({ maxLength: 300 });
const record: fc.Arbitrary<BytesRecord> = fc.record({
  key: fc.option(bytes, { nil: null }),
  value: fc.option(bytes, { nil: null }),
  headers: fc.option(fc.dictionary(fc.string({ unit: 'grapheme', maxLength: 8 }), bytes, { maxKeys: 3 }), { nil: undefined }),
  timestamp: fc.integer({ min: 1_700_000_000_000, max: 1_700_000_100_000 }),
}).map((r) => {
  const out: BytesRecord = { key: r.key, value: r.value, timestamp: r.timestamp };
  if (r.headers) out.headers = r.headers;
  return out;
});

describe('batch accumulator', () => {
  it('knows the exact encoded size of a record', () => {
    fc.assert(
      fc.property(fc.array(record, { minLength: 1, maxLength: 20 }), (recs) => {
        const total = recs.reduce((s, r) => s + encodedRecordSize(r), BATCH_HEADER_SIZE);
        expect(encodeBatch(recs).length).toBe(total);
      }),
      { numRuns: 200 },
    );
  });

  it('encodes a cut batch to the same bytes as encodeBatch, in one pass', () => {
    const id = fc.record({ producerId: fc.integer({ min: 0, max: 2 ** 48 - 1 }), producerEpoch: fc.integer({ min: 0, max: 0x7fff_ffff }), baseSequence: fc.nat() });
    fc.assert(
      fc.property(fc.array(record, { minLength: 1, maxLength: 20 }), id, (recs, ident) => {
        const size = recs.reduce((s, r) => s + encodedRecordSize(r), BATCH_HEADER_SIZE);
        expect(encodeCut(recs, size, ident)).toEqual(encodeBatch(recs, ident));
      }),
      { numRuns: 300 },
    );
  });

  it('measures UTF-8 length like TextEncoder, lone surrogates included', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.oneof(fc.constant('\ud800'), fc.constant('\udc00'), fc.constant('é'), fc.constant('😀'), fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), fc.string({ unit: 'grapheme', maxLength: 1 })), maxLength: 30 }), (s) => {
        expect(utf8Length(s)).toBe(new TextEncoder().encode(s).length);
      }),
      { numRuns: 500 },
    );
  });

  it('cuts batches no larger than maxBatchBytes and gives back every record once, in order', () => {
    fc.assert(
      fc.property(fc.array(record, { maxLength: 60 }), fc.integer({ min: 800, max: 4000 }), fc.array(fc.boolean(), { maxLength: 60 }), (recs, max, cutAfter) => {
        const acc = new BatchAccumulator<number>(max);
        const batches: { records: BytesRecord[]; slots: number[]; bytes: number }[] = [];
        recs.forEach((r, i) => {
          const size = encodedRecordSize(r);
          if (BATCH_HEADER_SIZE + size > max) return; // the producer refuses these before the accumulator
          const full = acc.add(r, size, i);
          if (full) batches.push(full);
          if (cutAfter[i]) {
            const c = acc.cut();
            if (c) batches.push(c);
          }
        });
        const last = acc.cut();
        if (last) batches.push(last);
        expect(acc.cut()).toBeNull();
        const accepted = recs.map((r, i) => [r, i] as const).filter(([r]) => BATCH_HEADER_SIZE + encodedRecordSize(r) <= max);
        expect(batches.flatMap((b) => b.slots)).toEqual(accepted.map(([, i]) => i));
        for (const b of batches) {
          expect(b.records.length).toBeGreaterThan(0);
          expect(b.records.length).toBe(b.slots.length);
          expect(b.bytes).toBeLessThanOrEqual(max);
          const encoded = encodeBatch(b.records);
          expect(encoded.length).toBe(b.bytes);
          // Records out of the encoded batch are the records in.
          const out = decodeBatches(encoded);
          expect(out.map((r) => r.value && [...r.value])).toEqual(b.records.map((r) => r.value && [...r.value]));
          expect(out.map((r) => r.key && [...r.key])).toEqual(b.records.map((r) => r.key && [...r.key]));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('starts a new batch when a timestamp is too far from the first one for a 32-bit delta', () => {
    const acc = new BatchAccumulator<number>(1 << 20);
    const r = (timestamp: number): BytesRecord => ({ key: null, value: toBytes('x'), timestamp });
    expect(acc.add(r(0), encodedRecordSize(r(0)), 0)).toBeNull();
    expect(acc.add(r(1000), encodedRecordSize(r(0)), 1)).toBeNull();
    const cut = acc.add(r(2 ** 31 + 10), encodedRecordSize(r(0)), 2);
    expect(cut?.slots).toEqual([0, 1]);
    expect(acc.cut()?.slots).toEqual([2]);
  });
});
