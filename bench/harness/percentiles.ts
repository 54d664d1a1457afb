// The percentiles every report shows, and the percentile spectrum the charts draw.
import type { Histogram } from './latency-recorder.js';

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  p99_9: number;
  p99_99: number;
  max: number;
}

export function percentiles(h: Histogram): Percentiles {
  if (h.totalCount === 0) return { p50: 0, p90: 0, p99: 0, p99_9: 0, p99_99: 0, max: 0 };
  return {
    p50: h.getValueAtPercentile(50),
    p90: h.getValueAtPercentile(90),
    p99: h.getValueAtPercentile(99),
    p99_9: h.getValueAtPercentile(99.9),
    p99_99: h.getValueAtPercentile(99.99),
    max: h.maxValue,
  };
}

/** [percentile, µs] points, evenly spaced on the 1/(1-p) log axis (the HdrHistogram spectrum plot). */
export function spectrum(h: Histogram): [number, number][] {
  if (h.totalCount === 0) return [];
  const out: [number, number][] = [];
  // Up to 1 - 1/count (beyond that the histogram has no more information), 8 points per decade.
  const maxNines = Math.min(6, Math.log10(h.totalCount));
  for (let x = 0; x <= maxNines + 1e-9; x += 0.125) {
    const p = 100 * (1 - Math.pow(10, -x));
    out.push([Number(p.toFixed(6)), h.getValueAtPercentile(p)]);
  }
  out.push([100, h.maxValue]);
  return out;
}
