// The options of the fixed-rate cluster scenarios (replication, zone-reads): one parser, so the flags,
// their units and their checks stay the same in both; each scenario keeps its own defaults and usage text.
import { BenchUsageError } from '../errors.js';

export interface RateOptions {
  /** Messages per second. */
  rate: number;
  durationMs: number;
  warmupMs: number;
  /** Payload bytes, at least 8. */
  size: number;
}

/** Parses --rate, --duration, --warmup and --size over `defaults`; null for -h/--help. */
export function parseRateArgs(argv: string[], defaults: RateOptions, usage: string): RateOptions | null {
  const o: RateOptions = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h' || a === '--help') return null;
    const v = Number(argv[++i]);
    if (!Number.isFinite(v) || v <= 0) throw new BenchUsageError(`${a} needs a positive number, got '${String(argv[i])}'`);
    if (a === '--rate') o.rate = Math.round(v);
    else if (a === '--duration') o.durationMs = v * 1_000;
    else if (a === '--warmup') o.warmupMs = v * 1_000;
    else if (a === '--size') o.size = Math.max(8, Math.round(v));
    else throw new BenchUsageError(`unknown option ${a}${usage}`);
  }
  return o;
}

/**
 * `tickbus bench <name> ...` for a fixed-rate scenario: usage errors exit 2 with the message, --help prints
 * the usage, otherwise progress goes to stderr and the report to stdout.
 */
export async function runRateCli<R>(
  name: string,
  argv: string[],
  scenario: {
    parse: (argv: string[]) => RateOptions | null;
    usage: string;
    run: (o: RateOptions, progress: (line: string) => void) => Promise<R>;
    report: (result: R, o: RateOptions) => string;
  },
): Promise<number> {
  let o: RateOptions | null;
  try {
    o = scenario.parse(argv);
  } catch (err) {
    if (err instanceof BenchUsageError) {
      process.stderr.write(`tickbus bench ${name}: ${err.message.trimEnd()}\n`);
      return 2;
    }
    throw err;
  }
  if (!o) {
    process.stdout.write(scenario.usage.trimStart());
    return 0;
  }
  const result = await scenario.run(o, (line) => process.stderr.write(`tickbus bench ${name}: ${line}\n`));
  process.stdout.write(scenario.report(result, o));
  return 0;
}
