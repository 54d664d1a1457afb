// The Markdown report: one table per scenario, the tickbus ratios to the relay and to NATS, saturation,
// microbenchmarks. Used for --out DIR/report.md and for bench/RESULTS.md.
import type { Percentiles } from '../harness/percentiles.js';
import type { BenchReport, RunRecord } from './run-record.js';

const SCENARIO_ORDER = ['latency', 'fanout', 'durable', 'replay'];

const pct = (p: Percentiles | null, k: keyof Percentiles): string => (p ? String(p[k]) : '–');
const num = (n: number): string => n.toLocaleString('en-US');

export function pointKey(r: RunRecord): string {
  return `${r.scenario}|${r.rate}|${r.subscribers}|${r.size}|${r.publishers}`;
}

export function markdownReport(rep: BenchReport): string {
  const out: string[] = [];
  out.push(`Started ${rep.started_at}, finished ${rep.finished_at}.`);
  out.push('');
  out.push(`Command: \`${rep.command}\``);
  out.push('');
  for (const s of rep.skipped ?? []) out.push(`Skipped ${s.target}: ${s.reason}`, '');
  out.push('| machine | |');
  out.push('| --- | --- |');
  for (const [k, v] of Object.entries(rep.machine)) out.push(`| ${k} | ${v} |`);
  out.push('');
  out.push('| software | version |');
  out.push('| --- | --- |');
  for (const [k, v] of Object.entries(rep.versions)) out.push(`| ${k} | ${v} |`);
  out.push('');

  for (const scenario of SCENARIO_ORDER) {
    const runs = rep.runs.filter((r) => r.scenario === scenario);
    if (!runs.length) continue;
    out.push(`### ${scenario}`);
    out.push('');
    if (scenario === 'replay') {
      out.push('| target | records | read | records/s | preload rate/s | seconds | what ran | note |');
      out.push('| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |');
      for (const r of runs) out.push(`| ${r.target} | ${num(r.sent)} | ${num(r.received)} | ${num(r.achieved_rate)} | ${num(r.send_rate)} | ${r.duration_s} | ${r.server} | ${note(r)} |`);
    } else {
      out.push('Latency in µs from the intended send time (coordinated-omission corrected); "actual" columns from the actual send time.');
      out.push('');
      const ack = runs.some((r) => r.ack_latency_us);
      out.push(
        `| target | rate/s | subs | sent | received | achieved/s | deliveries/s | p50 | p90 | p99 | p99.9 | p99.99 | max | actual p50 | actual p99 |${ack ? ' ack p50 | ack p99 | ack p99.9 |' : ''} send lag p99 | CPU harness/server % | note |`,
      );
      out.push(`| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |${ack ? ' ---: | ---: | ---: |' : ''} ---: | ---: | --- |`);
      for (const r of runs) {
        const l = r.latency_us;
        const a = r.latency_actual_us;
        const ackCols = ack ? ` ${pct(r.ack_latency_us, 'p50')} | ${pct(r.ack_latency_us, 'p99')} | ${pct(r.ack_latency_us, 'p99_9')} |` : '';
        out.push(
          `| ${r.target} | ${num(r.rate)} | ${r.subscribers} | ${num(r.sent)} | ${num(r.received)} | ${num(r.achieved_rate)} | ${num(r.delivery_rate)} | ${pct(l, 'p50')} | ${pct(l, 'p90')} | ${pct(l, 'p99')} | ${pct(l, 'p99_9')} | ${pct(l, 'p99_99')} | ${pct(l, 'max')} | ${pct(a, 'p50')} | ${pct(a, 'p99')} |${ackCols} ${pct(r.send_lag_us, 'p99')} | ${r.cpu ? `${r.cpu.harness_pct}/${r.cpu.server_pct}` : '–'} | ${note(r)} |`,
        );
      }
    }
    out.push('');
    const ratios = ratioRows(runs, scenario);
    if (ratios.length) {
      const of = scenario === 'durable' ? 'produce → ack latency' : scenario === 'replay' ? 'records/s: > 1 means tickbus is faster' : 'latency: < 1 means tickbus is faster';
      out.push(`Ratios tickbus ÷ peer, same run (${of}; delivered/s: > 1 means tickbus delivered more):`);
      out.push('');
      out.push(scenario === 'replay' ? '| point | vs | records/s ratio |' : '| point | vs | p50 | p90 | p99 | p99.9 | max | delivered/s |');
      out.push(scenario === 'replay' ? '| --- | --- | ---: |' : '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
      out.push(...ratios);
      out.push('');
    }
  }

  if (rep.saturation.length) {
    out.push('### saturation (latency, 1 → 1)');
    out.push('');
    out.push('| target | highest rate sustained | saturated at | why |');
    out.push('| --- | ---: | ---: | --- |');
    for (const s of rep.saturation) out.push(`| ${s.target} | ${num(s.max_sustained_rate)} | ${s.saturated_at === null ? 'not within the sweep' : num(s.saturated_at)} | ${s.reason ?? ''} |`);
    out.push('');
  }
  if (rep.micro.length) {
    out.push('### micro');
    out.push('');
    out.push('| benchmark | ops/s | mean ns | p50 ns | p99 ns | note |');
    out.push('| --- | ---: | ---: | ---: | ---: | --- |');
    for (const m of rep.micro) out.push(`| ${m.name} | ${num(m.ops_per_s)} | ${num(m.mean_ns)} | ${num(m.p50_ns)} | ${num(m.p99_ns)} | ${m.note} |`);
    out.push('');
  }
  return out.join('\n');
}

function note(r: RunRecord): string {
  const parts: string[] = [];
  if (r.error) parts.push(`error: ${r.error}`);
  if (r.saturated) parts.push(`saturated: ${r.saturation_reason}`);
  if (r.scenario !== 'replay') parts.push(r.server.split('; ').slice(1).join('; '));
  return parts.join('; ').replace(/\|/g, '/');
}

function ratioRows(runs: RunRecord[], scenario: string): string[] {
  const rows: string[] = [];
  const points = new Map<string, RunRecord[]>();
  for (const r of runs) points.set(pointKey(r), [...(points.get(pointKey(r)) ?? []), r]);
  for (const group of points.values()) {
    const tb = group.find((r) => r.target === 'tickbus');
    if (!tb || tb.error || tb.received === 0) continue;
    for (const peer of group) {
      if (peer === tb || (peer.target !== 'uws-relay' && peer.target !== 'nats' && !(scenario === 'durable' && peer.target === 'redis')) || peer.error || peer.received === 0) continue;
      const label = scenario === 'replay' ? `${num(tb.sent)} records` : `${num(tb.rate)}/s ×${tb.subscribers}`;
      if (scenario === 'replay') {
        rows.push(`| ${label} | ${peer.target} | ${ratio(tb.achieved_rate, peer.achieved_rate)} |`);
        continue;
      }
      // Durable: the goal is about produce → ack, so the ratios are of the ack latency.
      const a = scenario === 'durable' ? tb.ack_latency_us : tb.latency_us;
      const b = scenario === 'durable' ? peer.ack_latency_us : peer.latency_us;
      if (!a || !b) continue;
      rows.push(
        `| ${label} | ${peer.target} | ${ratio(a.p50, b.p50)} | ${ratio(a.p90, b.p90)} | ${ratio(a.p99, b.p99)} | ${ratio(a.p99_9, b.p99_9)} | ${ratio(a.max, b.max)} | ${ratio(tb.delivery_rate, peer.delivery_rate)} |`,
      );
    }
  }
  return rows;
}

function ratio(a: number, b: number): string {
  return b > 0 ? (a / b).toFixed(2) : '–';
}
