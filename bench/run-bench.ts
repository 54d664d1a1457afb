// Runs the scenarios a command asked for and gathers one BenchReport. Servers are started per scenario
// and stopped when it ends, whatever happens; a target that fails is reported and the others go on.
import os from 'node:os';
import { errorMessage } from './errors.js';
import { percentiles } from './harness/percentiles.js';
import { Progress } from './harness/progress.js';
import { runTimetable } from './harness/timetable.js';
import type { BenchOptions, ScenarioName } from './options.js';
import { collectVersions, describeMachine } from './report/machine.js';
import { type BenchReport, blankRunRecord } from './report/run-record.js';
import { type ScenarioContext, ServerPool } from './scenarios/context.js';
import { durableScenario } from './scenarios/durable.js';
import { fanoutScenario } from './scenarios/fanout.js';
import { latencyScenario } from './scenarios/latency.js';
import { microScenario } from './scenarios/micro.js';
import { replayScenario } from './scenarios/replay.js';
import { runnableTargets } from './targets/availability.js';

const RUNNERS: Record<Exclude<ScenarioName, 'all'>, (ctx: ScenarioContext) => Promise<void>> = {
  latency: latencyScenario,
  fanout: fanoutScenario,
  durable: durableScenario,
  replay: replayScenario,
  micro: microScenario,
};
const ALL: Exclude<ScenarioName, 'all'>[] = ['micro', 'latency', 'fanout', 'durable', 'replay'];

export interface RunBenchOptions {
  /** Progress lines on stderr (default true). */
  progress?: boolean;
}

export async function runBench(requested: BenchOptions, run: RunBenchOptions = {}): Promise<BenchReport> {
  const progress = new Progress(process.stderr, run.progress ?? true);
  // Peers (client libraries, server binaries) are checked before anything starts: a missing default one is
  // skipped with a note, a missing one named in --targets rejects here (targets/availability.ts).
  const { targets, skipped } = requested.scenario === 'micro' ? { targets: requested.targets, skipped: [] } : await runnableTargets(requested);
  for (const s of skipped) progress.note(`tickbus bench: skipped ${s.target}: ${s.reason}`);
  const options: BenchOptions = { ...requested, targets };
  const started = new Date();
  const machine = describeMachine();
  // How noisy is the machine right now? The timetable against a no-op publisher, before anything runs.
  const probe = await runTimetable({ rate: 10_000, count: options.quick ? 2_000 : 10_000, send: () => undefined });
  const lag = percentiles(probe.lag);
  machine.noise_probe = `timetable lag at 10k msg/s with a no-op publisher: p50 ${lag.p50} µs, p99 ${lag.p99} µs, p99.9 ${lag.p99_9} µs, max ${lag.max} µs`;
  progress.note(`tickbus bench ${options.scenario}: ${machine.cores} cores, load ${os.loadavg()[0]!.toFixed(2)}; ${machine.noise_probe}`);

  const report: BenchReport = {
    machine,
    versions: collectVersions(),
    command: options.command,
    started_at: started.toISOString(),
    finished_at: '',
    runs: [],
    saturation: [],
    micro: [],
    ...(skipped.length ? { skipped } : {}),
  };
  const scenarios = options.scenario === 'all' ? ALL : [options.scenario];
  for (const s of scenarios) {
    const ctx: ScenarioContext = {
      options,
      progress,
      servers: new ServerPool(options.brokerUrl),
      runs: report.runs,
      saturation: report.saturation,
      micro: report.micro,
      versions: report.versions,
    };
    try {
      await RUNNERS[s](ctx);
    } catch (err) {
      progress.note(`${s}: failed: ${errorMessage(err)}`);
      report.runs.push({ ...failedRun(s), error: errorMessage(err) });
    } finally {
      await ctx.servers.stopAll();
    }
  }
  report.finished_at = new Date().toISOString();
  return report;
}

function failedRun(scenario: string): BenchReport['runs'][number] {
  return blankRunRecord({
    target: '-',
    scenario,
    rate: 0,
    size: 0,
    subscribers: 0,
    mode: 'live',
    acks: '-',
    publishers: 0,
    partitions: 0,
    duration_s: 0,
    warmup_s: 0,
    server: '',
  });
}
