// `tickbus bench replication`'s command line and report (the run itself starts a dev-cluster: too slow for
// the quick bench test, it is run by hand and recorded in bench/RESULTS.md).
import { describe, expect, it } from 'vitest';
import { BenchUsageError } from '../../bench/errors.js';
import { parseReplicationArgs, replicationReport } from '../../bench/scenarios/replication.js';

const p = (v: number) => ({ p50: v, p90: v, p99: 2 * v, p99_9: 3 * v, p99_99: 3 * v, max: 3 * v });

describe('bench replication', () => {
  it('takes rate, duration, warm-up and size, with defaults', () => {
    expect(parseReplicationArgs([])).toEqual({ rate: 2_000, durationMs: 5_000, warmupMs: 1_000, size: 100 });
    expect(parseReplicationArgs(['--rate', '500', '--duration', '2', '--warmup', '0.5', '--size', '4'])).toEqual({ rate: 500, durationMs: 2_000, warmupMs: 500, size: 8 });
    expect(parseReplicationArgs(['--help'])).toBeNull();
  });

  it('refuses an unknown option and a value that is not a positive number', () => {
    expect(() => parseReplicationArgs(['--rat', '5'])).toThrow(BenchUsageError);
    expect(() => parseReplicationArgs(['--rate', 'fast'])).toThrow(/--rate needs a positive number, got 'fast'/);
    expect(() => parseReplicationArgs(['--duration'])).toThrow(/--duration needs a positive number/);
  });

  it('reports the cluster as a ratio to the single node at each percentile', () => {
    const md = replicationReport(
      [
        { name: 'single node, acks leader', count: 10, ack: p(100), deliver: p(200) },
        { name: '3-broker cluster, acks all', count: 10, ack: p(150), deliver: p(500) },
      ],
      { rate: 1_000, durationMs: 3_000, warmupMs: 1_000, size: 100 },
    );
    expect(md).toContain('| ratio (cluster / single) | | 1.50× | 1.50× | 1.50× | 2.50× | 2.50× | 2.50× |');
    expect(md).toContain('| 3-broker cluster, acks all | 10 | 150 µs | 300 µs | 450 µs | 500 µs | 1000 µs | 1500 µs |');
  });
});
