import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Backoff, backoffCeiling, backoffDelay } from '../../client/backoff.js';

describe('reconnect backoff', () => {
  it('draws every delay from [0, min(maxMs, initialMs * 2^attempt))', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 0, max: 2000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (initialMs, extra, attempt, r) => {
          const opts = { initialMs, maxMs: initialMs + extra };
          const d = backoffDelay(attempt, opts, () => r);
          expect(d).toBeGreaterThanOrEqual(0);
          expect(d).toBeLessThanOrEqual(opts.maxMs);
          expect(Number.isFinite(d)).toBe(true);
          const ceil = backoffCeiling(attempt, opts);
          expect(d).toBeLessThanOrEqual(ceil);
          if (ceil > 0) expect(d).toBeLessThan(ceil);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('doubles the ceiling per attempt until maxMs, then stays there', () => {
    const opts = { initialMs: 50, maxMs: 5000 };
    const ceilings = Array.from({ length: 10 }, (_, i) => backoffCeiling(i, opts));
    expect(ceilings).toEqual([50, 100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
    expect(backoffCeiling(100_000, opts)).toBe(5000);
  });

  it('jitters over the whole range (full jitter), not around a midpoint', () => {
    const b = new Backoff({ initialMs: 1000, maxMs: 1000 });
    const draws = Array.from({ length: 400 }, () => b.next());
    expect(Math.min(...draws)).toBeLessThan(100);
    expect(Math.max(...draws)).toBeGreaterThan(900);
  });

  it('counts attempts and starts over after reset()', () => {
    const b = new Backoff({ initialMs: 10, maxMs: 10_000 }, () => 0.999999);
    expect([b.next(), b.next(), b.next()]).toEqual([9, 19, 39]);
    expect(b.attempts).toBe(3);
    b.reset();
    expect(b.attempts).toBe(0);
    expect(b.next()).toBe(9);
  });
});
