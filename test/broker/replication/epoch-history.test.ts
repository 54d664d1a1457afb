// The leader-epoch history (KIP-101 leader epoch cache): examples mirror Kafka's
// LeaderEpochFileCacheTest, and a property checks the invariants under random operations.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EpochHistory, UNDEFINED_EPOCH_END } from '../../../broker/replication/epoch-history.js';

const pairs = (h: EpochHistory) => h.entries().map((e) => [e.epoch, e.startOffset]);

describe('EpochHistory', () => {
  it('records a newer epoch and ignores one that is not newer', () => {
    const h = new EpochHistory();
    expect(h.latestEpoch()).toBe(-1);
    expect(h.assign(2, 6)).toBe(true);
    expect(h.assign(2, 9)).toBe(false); // more batches of a known epoch add nothing
    expect(h.assign(1, 10)).toBe(false); // an older epoch never comes back
    expect(h.assign(3, 10)).toBe(true);
    expect(pairs(h)).toEqual([[2, 6], [3, 10]]);
    expect(h.latestEpoch()).toBe(3);
  });

  it('drops epochs that wrote nothing when a newer one starts at the same offset', () => {
    const h = new EpochHistory([{ epoch: 1, startOffset: 0 }, { epoch: 2, startOffset: 5 }]);
    h.assign(4, 5); // epoch 2 took over at 5 and appended nothing before epoch 4 did
    expect(pairs(h)).toEqual([[1, 0], [4, 5]]);
  });

  it('answers OffsetsForLeaderEpoch as Kafka does', () => {
    const h = new EpochHistory([{ epoch: 2, startOffset: 6 }, { epoch: 4, startOffset: 11 }, { epoch: 5, startOffset: 20 }]);
    const leo = 25;
    expect(h.endOffsetFor(5, leo)).toEqual({ epoch: 5, endOffset: 25 }); // the latest is still open
    expect(h.endOffsetFor(4, leo)).toEqual({ epoch: 4, endOffset: 20 });
    expect(h.endOffsetFor(3, leo)).toEqual({ epoch: 2, endOffset: 11 }); // largest known ≤ 3
    expect(h.endOffsetFor(1, leo)).toEqual({ epoch: 1, endOffset: 6 }); // older than all: first start
    expect(h.endOffsetFor(6, leo)).toEqual(UNDEFINED_EPOCH_END); // newer than any known
    expect(h.endOffsetFor(-1, leo)).toEqual(UNDEFINED_EPOCH_END);
    expect(new EpochHistory().endOffsetFor(0, 0)).toEqual(UNDEFINED_EPOCH_END);
  });

  it('truncates from the end after a log truncation', () => {
    const h = new EpochHistory([{ epoch: 2, startOffset: 6 }, { epoch: 3, startOffset: 8 }, { epoch: 4, startOffset: 10 }]);
    h.truncateFromEnd(9);
    expect(pairs(h)).toEqual([[2, 6], [3, 8]]);
    h.truncateFromEnd(8); // epoch 3 now starts at the log end: it holds nothing
    expect(pairs(h)).toEqual([[2, 6]]);
    h.truncateFromEnd(100);
    expect(pairs(h)).toEqual([[2, 6]]);
  });

  it('truncates from the start after retention, keeping the epoch of the first remaining record', () => {
    const h = new EpochHistory([{ epoch: 2, startOffset: 6 }, { epoch: 3, startOffset: 8 }, { epoch: 4, startOffset: 10 }]);
    h.truncateFromStart(5);
    expect(pairs(h)).toEqual([[2, 6], [3, 8], [4, 10]]);
    h.truncateFromStart(9);
    expect(pairs(h)).toEqual([[3, 9], [4, 10]]);
    h.truncateFromStart(10);
    expect(pairs(h)).toEqual([[4, 10]]);
  });

  it('round-trips through JSON and rejects a damaged checkpoint', () => {
    const h = new EpochHistory([{ epoch: 0, startOffset: 0 }, { epoch: 7, startOffset: 3 }]);
    const j = JSON.parse(JSON.stringify(h)) as unknown;
    expect(pairs(EpochHistory.fromJSON(j))).toEqual([[0, 0], [7, 3]]);
    expect(() => EpochHistory.fromJSON({ version: 2, entries: [] })).toThrow(TypeError);
    expect(() => EpochHistory.fromJSON({ version: 1, entries: [[1]] })).toThrow(TypeError);
    expect(() => EpochHistory.fromJSON({ version: 1, entries: [[2, 0], [1, 5]] })).toThrow(RangeError);
    expect(() => EpochHistory.fromJSON({ version: 1, entries: [[1, 5], [2, 5]] })).toThrow(RangeError);
    expect(() => EpochHistory.fromJSON(null)).toThrow(TypeError);
  });

  it('rejects negative or fractional epochs and offsets', () => {
    const h = new EpochHistory();
    expect(() => h.assign(-1, 0)).toThrow(RangeError);
    expect(() => h.assign(1, 0.5)).toThrow(RangeError);
    expect(() => h.truncateFromEnd(-2)).toThrow(RangeError);
  });

  it('keeps epochs and start offsets strictly increasing under any operations', () => {
    const op = fc.oneof(
      fc.tuple(fc.constant('assign' as const), fc.nat(20), fc.nat(60)),
      fc.tuple(fc.constant('end' as const), fc.nat(60), fc.constant(0)),
      fc.tuple(fc.constant('start' as const), fc.nat(60), fc.constant(0)),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const h = new EpochHistory();
        for (const [kind, a, b] of ops) {
          if (kind === 'assign') h.assign(a, b);
          else if (kind === 'end') h.truncateFromEnd(a);
          else h.truncateFromStart(a);
          const e = h.entries();
          for (let i = 1; i < e.length; i++) {
            expect(e[i]!.epoch).toBeGreaterThan(e[i - 1]!.epoch);
            expect(e[i]!.startOffset).toBeGreaterThan(e[i - 1]!.startOffset);
          }
          expect(pairs(EpochHistory.fromJSON(h.toJSON()))).toEqual(pairs(h));
        }
      }),
      { numRuns: 200 },
    );
  });
});
