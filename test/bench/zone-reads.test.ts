// `tickbus bench zone-reads`'s command line and report (the run itself starts a dev-cluster: run by hand,
// numbers in bench/RESULTS.md).
import { describe, expect, it } from 'vitest';
import { BenchUsageError } from '../../bench/errors.js';
import { parseZoneReadsArgs, zoneReadsReport } from '../../bench/scenarios/zone-reads.js';

const p = (v: number) => ({ p50: v, p90: v, p99: 2 * v, p99_9: 3 * v, p99_99: 3 * v, max: 4 * v });

describe('bench zone-reads', () => {
  it('takes rate, duration, warm-up and size, with defaults', () => {
    expect(parseZoneReadsArgs([])).toEqual({ rate: 1_000, durationMs: 5_000, warmupMs: 1_000, size: 100 });
    expect(parseZoneReadsArgs(['--rate', '500', '--duration', '2', '--size', '4'])).toEqual({ rate: 500, durationMs: 2_000, warmupMs: 1_000, size: 8 });
    expect(parseZoneReadsArgs(['-h'])).toBeNull();
    expect(() => parseZoneReadsArgs(['--zone', 'z1'])).toThrow(BenchUsageError);
    expect(() => parseZoneReadsArgs(['--rate', '-1'])).toThrow(/--rate needs a positive number/);
  });

  it('reports both subscribers and the follower staleness side by side', () => {
    const md = zoneReadsReport(
      { count: 10, leaderId: 1, followerId: 2, leader: p(100), follower: p(150), extraDelay: p(50), hwLag: p(1), hwSamples: 7, moves: 0 },
      { rate: 1_000, durationMs: 3_000, warmupMs: 1_000, size: 100 },
    );
    expect(md).toContain('| leader (broker 1) | 10 | 100 µs | 200 µs | 300 µs | 400 µs |');
    expect(md).toContain('| follower in its zone (broker 2) | 10 | 150 µs | 300 µs | 450 µs | 600 µs |');
    expect(md).toContain('| HW lag, records (7 samples of /metrics) | 1 | 2 | 3 | 4 |');
    expect(md).toContain('moved 0 time(s)');
  });
});
