// Per-topic log settings: defaults in one place, every bad value a typed INVALID_CONFIG error
// (these arrive in CreateTopic requests, so the client must learn which field was wrong).
import { ErrorCode, TickbusError } from '../../schemas/errors.js';
import { integerProblem, isOneOf } from '../validate.js';

/** always: fdatasync before any ack; interval: at most fsyncIntervalMs after an append; os: at roll and close. */
export const FSYNC_POLICIES = ['always', 'interval', 'os'] as const;
export type FsyncPolicy = (typeof FSYNC_POLICIES)[number];

/** "always, interval or os", for error messages. */
export const FSYNC_POLICY_NAMES = `${FSYNC_POLICIES.slice(0, -1).join(', ')} or ${FSYNC_POLICIES[FSYNC_POLICIES.length - 1]}`;

export function isFsyncPolicy(v: unknown): v is FsyncPolicy {
  return isOneOf(FSYNC_POLICIES, v);
}

/**
 * How much of a partition log PartitionLog.open() verifies (a broker option, not a topic's). 'all': every batch of every segment, CRCs included (~40 ms per
 * 64 MiB segment here, ~0.75 s per GiB from the page cache: docs/log.md "Recovery on open"); 'active': only the active
 * segment, trusting sealed ones because they were fsynced when sealed — damage to them on disk then goes
 * unnoticed until a read trips on it.
 */
export const VERIFY_ON_OPEN = ['all', 'active'] as const;
export type VerifyOnOpen = (typeof VERIFY_ON_OPEN)[number];

/**
 * Which thread runs a group commit's fdatasync (a broker option). 'owner': the partition's owner, once per
 * event-loop turn after the turn's appends (Redis's `appendfsync always` shape): no thread wakeup on the
 * durable path, but the owner's other partitions wait for that fdatasync. 'pool': libuv's thread pool:
 * the owner goes on, and each group commit pays two thread wakeups (~60 µs each on these VMs).
 * Measured in docs/latency.md ("Durable acks").
 */
export const FSYNC_THREADS = ['owner', 'pool'] as const;
export type FsyncThread = (typeof FSYNC_THREADS)[number];

export interface LogConfig {
  /** always: fdatasync before any ack; interval: at most fsyncIntervalMs after an append; os: at roll and close. */
  fsync: FsyncPolicy;
  fsyncIntervalMs: number;
  /** A segment is rolled when the next batch would take it past this size. */
  segmentBytes: number;
  /** ...or when its first batch is older than this. */
  segmentMs: number;
  /** Oldest sealed segments are deleted while the rest still hold this much; -1 = no limit. */
  retentionBytes: number;
  /** Sealed segments whose newest batch is older than this are deleted; -1 = no limit. */
  retentionMs: number;
}

export const DEFAULT_LOG_CONFIG: Readonly<LogConfig> = {
  fsync: 'interval',
  fsyncIntervalMs: 50,
  segmentBytes: 64 * 1024 * 1024,
  segmentMs: 24 * 3600 * 1000,
  retentionBytes: -1,
  retentionMs: 7 * 24 * 3600 * 1000,
};

/** Positions in a segment are u32 in the offset index; keep well below that. */
export const MAX_SEGMENT_BYTES = 1024 * 1024 * 1024;

function bad(field: string, message: string): TickbusError {
  return new TickbusError(ErrorCode.INVALID_CONFIG, `topic config ${field}: ${message}`);
}

function intIn(field: string, v: unknown, min: number, max: number, allowUnlimited = false): void {
  const problem = integerProblem(v, min, max, allowUnlimited);
  if (problem) throw bad(field, problem.message);
}

/** Fills defaults and validates; throws TickbusError INVALID_CONFIG naming the field. */
export function validateLogConfig(partial: Partial<LogConfig>): LogConfig {
  const c: LogConfig = { ...DEFAULT_LOG_CONFIG };
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- an explicit undefined (from JavaScript or a spread) means the default
  for (const [k, v] of Object.entries(partial)) if (v !== undefined) (c as unknown as Record<string, unknown>)[k] = v;
  if (!isFsyncPolicy(c.fsync)) throw bad('fsync', `must be ${FSYNC_POLICY_NAMES}, got ${String(c.fsync)}`);
  intIn('fsyncIntervalMs', c.fsyncIntervalMs, 1, 60_000);
  intIn('segmentBytes', c.segmentBytes, 1024, MAX_SEGMENT_BYTES);
  intIn('segmentMs', c.segmentMs, 1, 365 * 24 * 3600 * 1000);
  intIn('retentionBytes', c.retentionBytes, 0, Number.MAX_SAFE_INTEGER, true);
  intIn('retentionMs', c.retentionMs, 1, Number.MAX_SAFE_INTEGER, true);
  return c;
}
