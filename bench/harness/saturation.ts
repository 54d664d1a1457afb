// When is a target saturated at a rate? When it cannot take or deliver the load (achieved < requested),
// loses messages, or its latency keeps growing through the run (a queue that never drains: the
// percentiles of such a run describe the run's length, not the target).

export interface SaturationInput {
  rate: number;
  sendRate: number;
  perSubscriberRate: number;
  expected: number;
  received: number;
  truncated: boolean;
  /** Mean latency (from intended time) per quarter-second window, in run order; NaN for empty windows. */
  windowMeanUs: number[];
  ackExpected: number;
  acked: number;
}

/** Achieved below this share of the requested rate counts as falling behind. */
const RATE_TOLERANCE = 0.95;
/** Latency that ends the run this many times its start (and above GROWTH_FLOOR_US) is unbounded. */
const GROWTH_FACTOR = 4;
const GROWTH_FLOOR_US = 2_000;
/** Typical latency above this (loopback paths are ~0.1 ms, fsync ~0.3 ms) means messages wait in a queue. */
const STANDING_QUEUE_US = 20_000;

/** A reason the run was saturated, or null. */
export function judgeSaturation(i: SaturationInput): string | null {
  if (i.truncated) return 'the publisher could not keep the timetable (send stopped at the overrun limit)';
  if (i.sendRate < RATE_TOLERANCE * i.rate) return `published ${Math.round(i.sendRate)}/s of ${i.rate}/s requested`;
  if (i.received < i.expected) return `delivered ${i.received} of ${i.expected} (${((100 * i.received) / Math.max(1, i.expected)).toFixed(1)} %) within the drain timeout`;
  if (i.acked < i.ackExpected) return `acknowledged ${i.acked} of ${i.ackExpected}`;
  if (i.perSubscriberRate < RATE_TOLERANCE * i.rate) return `delivered ${Math.round(i.perSubscriberRate)}/s per subscriber of ${i.rate}/s requested`;
  const w = i.windowMeanUs.filter((x) => Number.isFinite(x));
  // A queue that formed at once and never drained: flat, but far above any network path.
  const all = median(w);
  if (all > STANDING_QUEUE_US) return `a standing queue: median of the per-window mean latency is ${Math.round(all / 1000)} ms`;
  if (w.length >= 8) {
    const q = Math.max(1, Math.floor(w.length / 4));
    const head = median(w.slice(0, q));
    const tail = median(w.slice(-q));
    if (tail > GROWTH_FLOOR_US && tail > GROWTH_FACTOR * head) return `latency grew from ${Math.round(head)} µs to ${Math.round(tail)} µs (mean per window) during the run`;
  }
  return null;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}
