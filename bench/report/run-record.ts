// One measured point as it appears in --json output and in the Markdown report. The first fields are the
// format the issue fixes; the rest are additions (documented in bench/README.md).
import type { CpuShare } from '../harness/cpu.js';
import type { Percentiles } from '../harness/percentiles.js';

export interface RunRecord {
  target: string;
  scenario: string;
  /** Requested messages/s (0 for replay: as fast as possible). */
  rate: number;
  size: number;
  subscribers: number;
  /** Measured messages sent (warm-up excluded); for replay, records preloaded. */
  sent: number;
  /** Measured deliveries over all subscribers; for replay, records read. */
  received: number;
  /** Deliveries per second per subscriber over the measured span; for replay, records read per second. */
  achieved_rate: number;
  /** Latency from the intended send time (coordinated-omission corrected), µs; null where not measured. */
  latency_us: Percentiles | null;
  /** Latency from the actual send time, µs. */
  latency_actual_us: Percentiles | null;

  mode: 'live' | 'durable';
  acks: string;
  publishers: number;
  partitions: number;
  duration_s: number;
  warmup_s: number;
  /** Messages per second actually published. */
  send_rate: number;
  /** Deliveries per second over all subscribers. */
  delivery_rate: number;
  saturated: boolean;
  saturation_reason: string | null;
  /** How late the harness sent (actual - intended), µs: the harness's own share of the latency. */
  send_lag_us: Percentiles | null;
  /** Produce → ack, from the intended / actual send time, when the target acknowledges. */
  ack_latency_us: Percentiles | null;
  ack_latency_actual_us: Percentiles | null;
  acked: number;
  /** Fewest deliveries any one subscriber got (equals sent when every subscriber got every message). */
  min_per_subscriber: number;
  cpu: CpuShare | null;
  /** What ran: server version and the feature measured. */
  server: string;
  /** Percentile spectrum of latency_us: [percentile, µs] pairs, for charts. */
  spectrum_us: [number, number][];
  error: string | null;
}

/** What identifies a point; blankRunRecord fills in the rest. */
export type RunIdentity = Pick<RunRecord, 'target' | 'scenario' | 'rate' | 'size' | 'subscribers' | 'mode' | 'acks' | 'publishers' | 'partitions' | 'duration_s' | 'warmup_s' | 'server'>;

/** A point with nothing measured yet: zeros and nulls around its identity. */
export function blankRunRecord(id: RunIdentity): RunRecord {
  return {
    ...id,
    sent: 0,
    received: 0,
    achieved_rate: 0,
    latency_us: null,
    latency_actual_us: null,
    send_rate: 0,
    delivery_rate: 0,
    saturated: false,
    saturation_reason: null,
    send_lag_us: null,
    ack_latency_us: null,
    ack_latency_actual_us: null,
    acked: 0,
    min_per_subscriber: 0,
    cpu: null,
    spectrum_us: [],
    error: null,
  };
}

export interface MicroRecord {
  name: string;
  ops_per_s: number;
  mean_ns: number;
  p50_ns: number;
  p99_ns: number;
  samples: number;
  note: string;
}

export interface SaturationRecord {
  target: string;
  scenario: string;
  /** Highest requested rate that ran unsaturated. */
  max_sustained_rate: number;
  /** Lowest requested rate that saturated (null when none did within the sweep). */
  saturated_at: number | null;
  reason: string | null;
}

export interface BenchReport {
  machine: Record<string, string | number>;
  versions: Record<string, string>;
  command: string;
  started_at: string;
  finished_at: string;
  runs: RunRecord[];
  saturation: SaturationRecord[];
  micro: MicroRecord[];
  /** Default targets left out because their client library or server binary is not installed here. */
  skipped?: { target: string; reason: string }[];
}
