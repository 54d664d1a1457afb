// Command-line options of `tickbus bench`: parsing, defaults per scenario and mode (full / --quick), and
// validation. Bad input is a BenchUsageError (exit 2) that says what was wrong and what is accepted.
import { parseArgs } from 'node:util';
import { BenchUsageError } from './errors.js';
import type { Acks, TargetName } from './targets/target.js';

export const SCENARIOS = ['latency', 'fanout', 'durable', 'replay', 'micro', 'all'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];
// tickbus-sdk (the same broker driven through client/) runs on request only: it answers a different
// question (what the SDK costs) than the default comparison with the other systems.
export const RUNNABLE_TARGETS: TargetName[] = ['tickbus', 'tickbus-sdk', 'tickbus-tls', 'tickbus-auth', 'uws-relay', 'nats', 'redis'];
export const DEFAULT_TARGETS: TargetName[] = ['tickbus', 'uws-relay', 'nats', 'redis'];

export const USAGE = `
Usage: tickbus bench SCENARIO [options]

Scenarios:
  latency   1 publisher → 1 subscriber at 1k, 10k, 50k msg/s, then a sweep up to saturation
  fanout    1 publisher → 100 and 1,000 subscribers at 1k and 10k msg/s (subscribers in worker threads)
  durable   produce → ack and produce → deliver with fsync before ack (tickbus acks durable,
            NATS JetStream, Redis Streams with appendfsync always)
  replay    catch-up read of 1M preloaded records, as fast as the target serves them
  micro     tinybench microbenchmarks (frame codec, batch stamp, log append, thread hop, harness)
  all       every scenario above
  replication   acks all on a local 3-broker cluster vs single-node acks leader, as a ratio
            (tickbus only; its own options: tickbus bench replication --help)

Options:
  --targets LIST       comma-separated: tickbus,uws-relay,nats,redis                 [all four]
                       and tickbus-sdk (same broker, through the SDK in client/; on request only),
                       tickbus-tls (every socket over TLS) and tickbus-auth (token in Hello, ACLs):
                       the cost of TLS and of authentication against plain tickbus, same run.
                       nats needs 'npm install nats' and nats-server; redis needs 'npm install ioredis'
                       and redis-server. Without --targets, a peer that is not installed is skipped
                       with a note; named in --targets, it fails the command.
  --rate LIST          messages/s, comma-separated (replaces the scenario's rates; disables the sweep)
  --size N             payload bytes (≥ 24: the harness's timestamp header)                 [100]
  --duration S         measured seconds per point and round                                 [3; quick 1]
  --warmup S           warm-up seconds before each measured segment                          [0.5; quick 0.2]
  --rounds N           segments per point, interleaved across targets (VM noise comes in bursts) [2; quick 1]
  --subscribers LIST   subscribers per point, comma-separated                                [latency 1, fanout 100,1000]
  --publishers N       publisher connections (messages round-robin over them)                [1; durable 4]
  --partitions N       partitions of the tickbus topic (publishers spread over them)          [1]
  --acks MODE          tickbus(-sdk) producer acks: none | leader | durable        [leader; durable: durable]
  --records N          records preloaded for replay                                          [1000000; quick 10000]
  --threads N          subscriber worker threads for fanout                                  [2]
  --json FILE          write every result as JSON
  --out DIR            write report.md, one SVG percentile chart per point and index.html
  --broker URL         measure a running tickbus broker (bootstrap ws://HOST:PORT/) instead of starting one
  --quick              a few seconds per target: checks the harness end to end (CI)
  -h, --help           this help

Latency is measured from the intended send time on an open-loop timetable (coordinated-omission corrected)
and from the actual send time; both are reported. Progress goes to stderr, results to stdout.
`;

export interface BenchOptions {
  scenario: ScenarioName;
  targets: TargetName[];
  /**
   * True when --targets was not given: a default target whose library or server binary is not installed is
   * skipped with a note (a fresh `npm install tickbus` benches tickbus and the relay). A target the user named
   * is never skipped silently: its absence fails the command with what to install.
   */
  skipMissingPeers: boolean;
  rates: number[] | null;
  size: number;
  durationS: number;
  warmupS: number;
  rounds: number;
  subscribers: number[] | null;
  publishers: number | null;
  partitions: number;
  acks: Acks | null;
  records: number;
  threads: number;
  json: string | null;
  out: string | null;
  brokerUrl: string | null;
  quick: boolean;
  /** The command line, for the report. */
  command: string;
}

export type ParseResult = { help: true } | { help: false; options: BenchOptions };

export function parseBenchArgs(argv: string[]): ParseResult {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    throw new BenchUsageError(`${(err as Error).message}; see 'tickbus bench --help'`);
  }
  const { values: v, positionals } = parsed;
  if (v.help) return { help: true };
  if (positionals.length === 0) throw new BenchUsageError(`missing SCENARIO (one of ${SCENARIOS.join(', ')})\n${USAGE}`);
  if (positionals.length > 1) throw new BenchUsageError(`one SCENARIO at a time, got '${positionals.join(' ')}'`);
  const scenario = positionals[0]!;
  if (!(SCENARIOS as readonly string[]).includes(scenario)) throw new BenchUsageError(`unknown scenario '${scenario}'; use one of ${SCENARIOS.join(', ')}`);
  const quick = v.quick === true;

  const targets = v.targets === undefined ? DEFAULT_TARGETS : list(v.targets, '--targets').map((t) => target(t));
  const acks = v.acks === undefined ? null : acksMode(v.acks);
  const brokerUrl = v.broker ?? null;
  if (brokerUrl !== null && !/^wss?:\/\/[^/]+/.test(brokerUrl)) throw new BenchUsageError(`--broker must be a ws:// URL such as ws://127.0.0.1:7420/, got '${brokerUrl}'`);

  return {
    help: false,
    options: {
      scenario: scenario as ScenarioName,
      targets: [...new Set(targets)],
      skipMissingPeers: v.targets === undefined,
      rates: v.rate === undefined ? null : list(v.rate, '--rate').map((r) => num(r, '--rate', 1, 5_000_000)),
      size: v.size === undefined ? 100 : int(v.size, '--size', 24, 4 * 1024 * 1024),
      durationS: v.duration === undefined ? (quick ? 1 : 3) : num(v.duration, '--duration', 0.1, 3600),
      warmupS: v.warmup === undefined ? (quick ? 0.2 : 0.5) : num(v.warmup, '--warmup', 0, 600),
      rounds: v.rounds === undefined ? (quick ? 1 : 2) : int(v.rounds, '--rounds', 1, 100),
      subscribers: v.subscribers === undefined ? null : list(v.subscribers, '--subscribers').map((s) => int(s, '--subscribers', 1, 100_000)),
      publishers: v.publishers === undefined ? null : int(v.publishers, '--publishers', 1, 1000),
      partitions: v.partitions === undefined ? 1 : int(v.partitions, '--partitions', 1, 1024),
      acks,
      records: v.records === undefined ? (quick ? 10_000 : 1_000_000) : int(v.records, '--records', 1, 100_000_000),
      threads: v.threads === undefined ? 2 : int(v.threads, '--threads', 1, 64),
      json: v.json ?? null,
      out: v.out ?? null,
      brokerUrl,
      quick,
      command: `tickbus bench ${argv.join(' ')}`,
    },
  };
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      targets: { type: 'string' },
      rate: { type: 'string' },
      size: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      rounds: { type: 'string' },
      subscribers: { type: 'string' },
      publishers: { type: 'string' },
      partitions: { type: 'string' },
      acks: { type: 'string' },
      records: { type: 'string' },
      threads: { type: 'string' },
      json: { type: 'string' },
      out: { type: 'string' },
      broker: { type: 'string' },
      quick: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

function list(s: string, flag: string): string[] {
  const parts = s.split(',').map((x) => x.trim()).filter(Boolean);
  if (parts.length === 0) throw new BenchUsageError(`${flag} needs at least one value`);
  return parts;
}

function num(s: string, flag: string, min: number, max: number): number {
  // Accept 10000, 10k, 1.5m for rates; plain numbers elsewhere.
  const m = /^(\d+(?:\.\d+)?)([km]?)$/i.exec(s.trim());
  const n = m ? Number(m[1]) * (m[2]?.toLowerCase() === 'k' ? 1e3 : m[2]?.toLowerCase() === 'm' ? 1e6 : 1) : NaN;
  if (!Number.isFinite(n) || n < min || n > max) throw new BenchUsageError(`${flag} must be a number from ${min} to ${max}, got '${s}'`);
  return n;
}

function int(s: string, flag: string, min: number, max: number): number {
  const n = num(s, flag, min, max);
  if (!Number.isInteger(n)) throw new BenchUsageError(`${flag} must be a whole number, got '${s}'`);
  return n;
}

function target(t: string): TargetName {
  if (!(RUNNABLE_TARGETS as string[]).includes(t)) throw new BenchUsageError(`unknown target '${t}'; use any of ${RUNNABLE_TARGETS.join(', ')}`);
  return t as TargetName;
}

function acksMode(a: string): Acks {
  if (a !== 'none' && a !== 'leader' && a !== 'durable') throw new BenchUsageError(`--acks must be none, leader or durable, got '${a}'`);
  return a;
}
