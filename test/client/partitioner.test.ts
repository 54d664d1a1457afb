import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { murmur2, partitionForKey, Partitioner } from '../../client/partitioner.js';

const enc = new TextEncoder();

describe('key partitioner', () => {
  it('computes the same murmur2 as Kafka (vectors from Kafka UtilsTest and librdkafka)', () => {
    const cases: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
      ['kafka', -798503068],
    ];
    for (const [s, h] of cases) expect(murmur2(enc.encode(s)), s).toBe(h);
  });

  it('puts a key on the same partition every time, within range, for strings and their UTF-8 bytes alike', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.integer({ min: 1, max: 1024 }), (key, n) => {
        const p = partitionForKey(key, n);
        expect(p).toBeGreaterThanOrEqual(0);
        expect(p).toBeLessThan(n);
        expect(Number.isInteger(p)).toBe(true);
        expect(partitionForKey(key, n)).toBe(p);
        expect(partitionForKey(enc.encode(key), n)).toBe(p);
        expect(new Partitioner().partition('t', key, n)).toBe(p);
      }),
      { numRuns: 300 },
    );
  });

  it('spreads distinct keys evenly over partitions', () => {
    const n = 8;
    const counts = new Array<number>(n).fill(0);
    const keys = 16_000;
    for (let i = 0; i < keys; i++) counts[partitionForKey(`order-${i}`, n)]!++;
    // Chi-square with 7 degrees of freedom: 24.3 is the 0.1% tail. A broken hash (e.g. one that
    // ignores all but the last byte) lands far above it.
    const expected = keys / n;
    const chi2 = counts.reduce((s, c) => s + ((c - expected) * (c - expected)) / expected, 0);
    expect(chi2).toBeLessThan(24.3);
  });

  it('round-robins records without a key, per topic', () => {
    const p = new Partitioner();
    expect([0, 1, 2, 3, 4].map(() => p.partition('a', null, 3))).toEqual([0, 1, 2, 0, 1]);
    expect(p.partition('b', undefined, 3)).toBe(0);
    expect(p.partition('a', null, 3)).toBe(2);
  });
});
