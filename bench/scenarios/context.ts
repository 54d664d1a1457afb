// What every scenario gets: the options, the progress display, the servers it may start (one per target
// and mode, started on first use and stopped when the scenario ends) and the report it adds to.
import { errorMessage } from '../errors.js';
import { emptyRecord, type LiveSegment, type PointSpec, runLiveSegment, summarizeLive } from '../harness/live-run.js';
import type { Progress } from '../harness/progress.js';
import type { BenchOptions } from '../options.js';
import type { MicroRecord, RunRecord, SaturationRecord } from '../report/run-record.js';
import { targetByName } from '../targets/registry.js';
import type { Mode, RunningServer, Target } from '../targets/target.js';

export interface ScenarioContext {
  options: BenchOptions;
  progress: Progress;
  servers: ServerPool;
  runs: RunRecord[];
  saturation: SaturationRecord[];
  micro: MicroRecord[];
  versions: Record<string, string>;
}

export class ServerPool {
  private readonly started = new Map<string, Promise<RunningServer>>();

  constructor(private readonly brokerUrl: string | null) {}

  get(target: Target, mode: Mode): Promise<RunningServer> {
    const key = `${target.name}/${mode}`;
    let s = this.started.get(key);
    if (!s) {
      s = target.start(this.brokerUrl && target.name.startsWith('tickbus') ? { mode, brokerUrl: this.brokerUrl } : { mode });
      s.catch(() => undefined);
      this.started.set(key, s);
    }
    return s;
  }

  async stopAll(): Promise<void> {
    const all = [...this.started.values()];
    this.started.clear();
    await Promise.allSettled(all.map(async (p) => (await p).stop()));
  }
}

export function printRecord(ctx: ScenarioContext, r: RunRecord): void {
  const l = r.latency_us;
  const lat = l ? `p50 ${l.p50} p99 ${l.p99} p99.9 ${l.p99_9} max ${l.max} µs` : '';
  const ack = r.ack_latency_us ? `  ack p50 ${r.ack_latency_us.p50} p99 ${r.ack_latency_us.p99} µs` : '';
  const sat = r.saturated ? `  SATURATED: ${r.saturation_reason}` : '';
  const err = r.error ? `  ERROR: ${r.error}` : '';
  const what = r.scenario === 'replay' ? `${r.received}/${r.sent} records  ${r.achieved_rate} rec/s` : `${r.rate}/s ×${r.subscribers}  sent ${r.sent} recv ${r.received}  ${lat}${ack}`;
  ctx.progress.note(`  ${r.scenario} ${r.target.padEnd(10)} ${what}${sat}${err}`);
}

/** The targets of a scenario that can run it; the others get a note (and no record). */
export function targetsFor(ctx: ScenarioContext, scenario: 'latency' | 'fanout' | 'durable' | 'replay'): Target[] {
  const out: Target[] = [];
  for (const name of ctx.options.targets) {
    const t = targetByName(name);
    const why = t.unsupported(scenario);
    if (why) ctx.progress.note(`  ${scenario} ${name}: skipped (${why})`);
    else out.push(t);
  }
  return out;
}

/**
 * Measures one point on every target, `rounds` times, interleaving targets within each round so a burst of
 * VM noise lands on all of them rather than on whichever ran at that moment. Adds one record per target.
 */
export async function measurePoint(ctx: ScenarioContext, targets: Target[], spec: (t: Target) => PointSpec, rounds: number): Promise<RunRecord[]> {
  const segments = new Map<Target, LiveSegment[]>();
  const failed = new Map<Target, string>();
  for (let round = 0; round < rounds; round++) {
    for (const t of targets) {
      if (failed.has(t)) continue;
      const s = spec(t);
      try {
        const server = await ctx.servers.get(t, s.mode);
        const label = `${s.scenario} ${t.name} ${s.rate}/s ×${s.subscribers}${rounds > 1 ? ` round ${round + 1}/${rounds}` : ''}`;
        const seg = await runLiveSegment(t, server, s, ctx.progress, label);
        const list = segments.get(t) ?? [];
        list.push(seg);
        segments.set(t, list);
      } catch (err) {
        failed.set(t, errorMessage(err));
      }
    }
  }
  const out: RunRecord[] = [];
  for (const t of targets) {
    const s = spec(t);
    let r: RunRecord;
    const segs = segments.get(t);
    if (segs?.length) {
      r = summarizeLive(t, await ctx.servers.get(t, s.mode), s, segs);
      const f = failed.get(t);
      if (f) r.error = r.error ? `${r.error}; ${f}` : f;
    } else {
      r = emptyRecord(t, null, s);
      r.error = failed.get(t) ?? 'not run';
    }
    ctx.runs.push(r);
    printRecord(ctx, r);
    out.push(r);
  }
  return out;
}
