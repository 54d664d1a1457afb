// When the autoscaling demonstration adds a broker: pure, so the rule reads in one place and is tested
// without a cluster (test/bench/autoscale-policy.test.ts). The signal is each broker's write rate
// (bytes appended per second, as a leader and as a follower: tickbus_bytes_in_total +
// tickbus_replicated_bytes_total on its /metrics), because that is what a broker's disk and CPU pay for.
//
// Rule: add one broker when the busiest broker has written at least `thresholdBytesPerSec` in each of
// the last `sustainSamples` samples (one hot second is noise, not load), unless a broker was added less
// than `cooldownMs` ago (its partitions are still moving, the load has not settled) or the cluster
// already has `maxBrokers`.

export interface ScalePolicy {
  thresholdBytesPerSec: number;
  sustainSamples: number;
  cooldownMs: number;
  maxBrokers: number;
}

export interface LoadSample {
  /** Milliseconds from the start of the run. */
  atMs: number;
  /** Write bytes/s per broker id over the last interval. */
  bytesPerSec: ReadonlyMap<number, number>;
}

export interface ScaleState {
  brokers: number;
  /** Consecutive samples with the busiest broker at or over the threshold. */
  hotSamples: number;
  lastAddAtMs: number | null;
}

export type ScaleDecision = { action: 'add'; reason: string } | { action: 'hold'; reason: string };

export function checkPolicy(p: ScalePolicy): ScalePolicy {
  if (!(p.thresholdBytesPerSec > 0)) throw new RangeError(`thresholdBytesPerSec must be positive, got ${p.thresholdBytesPerSec}`);
  if (!Number.isInteger(p.sustainSamples) || p.sustainSamples < 1) throw new RangeError(`sustainSamples must be an integer ≥ 1, got ${p.sustainSamples}`);
  if (!(p.cooldownMs >= 0)) throw new RangeError(`cooldownMs must be ≥ 0, got ${p.cooldownMs}`);
  if (!Number.isInteger(p.maxBrokers) || p.maxBrokers < 1) throw new RangeError(`maxBrokers must be an integer ≥ 1, got ${p.maxBrokers}`);
  return p;
}

/** Steps the policy by one sample: the next state and what to do. The caller adds the broker. */
export function decide(p: ScalePolicy, s: ScaleState, sample: LoadSample): { state: ScaleState; decision: ScaleDecision } {
  let busiest = -1;
  let peak = 0;
  for (const [id, rate] of sample.bytesPerSec) {
    if (rate > peak) {
      peak = rate;
      busiest = id;
    }
  }
  const hot = peak >= p.thresholdBytesPerSec;
  const next: ScaleState = { ...s, hotSamples: hot ? s.hotSamples + 1 : 0 };
  const kb = (v: number): string => `${Math.round(v / 1024)} KiB/s`;
  if (!hot) return { state: next, decision: { action: 'hold', reason: `busiest broker ${busiest} at ${kb(peak)}, under ${kb(p.thresholdBytesPerSec)}` } };
  if (next.hotSamples < p.sustainSamples) return { state: next, decision: { action: 'hold', reason: `broker ${busiest} at ${kb(peak)}: ${next.hotSamples}/${p.sustainSamples} hot samples` } };
  if (s.brokers >= p.maxBrokers) return { state: next, decision: { action: 'hold', reason: `broker ${busiest} at ${kb(peak)}, but the cluster is at its ${p.maxBrokers} brokers` } };
  if (s.lastAddAtMs !== null && sample.atMs - s.lastAddAtMs < p.cooldownMs) {
    return { state: next, decision: { action: 'hold', reason: `broker ${busiest} at ${kb(peak)}, cooling down after the last add` } };
  }
  return {
    state: { brokers: s.brokers + 1, hotSamples: 0, lastAddAtMs: sample.atMs },
    decision: { action: 'add', reason: `broker ${busiest} wrote ${kb(peak)} for ${next.hotSamples} samples (threshold ${kb(p.thresholdBytesPerSec)})` },
  };
}
