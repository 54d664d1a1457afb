// The autoscaling demonstration's policy: add a broker only for sustained load on the busiest broker,
// never during the cooldown after an add, never past the maximum.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkPolicy, decide, type ScalePolicy, type ScaleState } from '../../bench/autoscale/policy.js';

const policy: ScalePolicy = { thresholdBytesPerSec: 1_000, sustainSamples: 3, cooldownMs: 10_000, maxBrokers: 4 };
const start: ScaleState = { brokers: 3, hotSamples: 0, lastAddAtMs: null };
const sample = (atMs: number, ...rates: number[]) => ({ atMs, bytesPerSec: new Map(rates.map((r, i) => [i + 1, r])) });

function run(p: ScalePolicy, rates: number[][], stepMs = 1_000): { adds: number[]; state: ScaleState } {
  let s = start;
  const adds: number[] = [];
  rates.forEach((r, i) => {
    const out = decide(p, s, sample(i * stepMs, ...r));
    s = out.state;
    if (out.decision.action === 'add') adds.push(i);
  });
  return { adds, state: s };
}

describe('autoscale policy', () => {
  it('adds once the busiest broker is over the threshold for sustainSamples samples in a row', () => {
    const { adds, state } = run(policy, [
      [100, 200, 300],
      [100, 1_200, 300],
      [100, 1_500, 300],
      [900, 1_000, 300], // the third hot sample: broker 2 at exactly the threshold
    ]);
    expect(adds).toEqual([3]);
    expect(state).toEqual({ brokers: 4, hotSamples: 0, lastAddAtMs: 3_000 });
  });

  it('a cool sample resets the count: short spikes never add', () => {
    const { adds } = run(policy, [[2_000], [2_000], [10], [2_000], [2_000], [10]]);
    expect(adds).toEqual([]);
  });

  it('holds during the cooldown after an add, then adds again while under the maximum', () => {
    const hot = Array.from({ length: 20 }, () => [5_000, 5_000]);
    expect(run({ ...policy, maxBrokers: 5 }, hot).adds).toEqual([2, 12]);
    expect(run(policy, hot).adds).toEqual([2]); // maxBrokers 4: one add from 3
  });

  it('never adds past maxBrokers, never during a cooldown, never without sustainSamples hot samples before (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.nat(3_000), { minLength: 1, maxLength: 4 }), { maxLength: 60 }), (rates) => {
        const { adds, state } = run(policy, rates);
        expect(state.brokers).toBeLessThanOrEqual(policy.maxBrokers);
        for (let k = 1; k < adds.length; k++) expect((adds[k]! - adds[k - 1]!) * 1_000).toBeGreaterThanOrEqual(policy.cooldownMs);
        for (const i of adds) {
          for (let j = i - policy.sustainSamples + 1; j <= i; j++) expect(Math.max(...rates[j]!)).toBeGreaterThanOrEqual(policy.thresholdBytesPerSec);
        }
      }),
    );
  });

  it('refuses a policy that cannot work', () => {
    expect(() => checkPolicy({ ...policy, thresholdBytesPerSec: 0 })).toThrow(RangeError);
    expect(() => checkPolicy({ ...policy, sustainSamples: 0 })).toThrow(/sustainSamples/);
    expect(() => checkPolicy({ ...policy, maxBrokers: 1.5 })).toThrow(/maxBrokers/);
    expect(checkPolicy(policy)).toBe(policy);
  });
});
