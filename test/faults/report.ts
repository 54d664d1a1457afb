// The soak's report: a Markdown summary (faults, operations, anomalies per fault kind, failover times) and an
// SVG of acknowledged throughput and ack latency per second with every fault window shaded and numbered.
// bench/report/chart.ts draws a percentile spectrum, not a time series, so this is its own small plot.
import { ANOMALY_KINDS } from './checker.js';
import type { RunResult } from './driver.js';

const W = 960;
const H = 500;
const M = { left: 70, right: 70, top: 40, bottom: 70 };
const FAULT_COLORS: Record<string, string> = {
  'kill9-leader': '#d62728',
  'kill9-follower': '#ff9896',
  'kill9-minority': '#e377c2',
  'kill9-all': '#8c564b',
  'pause-leader': '#9467bd',
  'partition-broker-etcd': '#17becf',
  'partition-brokers': '#1f77b4',
  'etcd-restart': '#bcbd22',
  'lose-unsynced': '#ff7f0e',
  'corrupt-segment': '#7f7f7f',
  'member-change': '#2ca02c',
};

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export function timelineSvg(r: RunResult): string {
  const secs = Math.max(r.timeline.acks.length, Math.ceil(r.plan.durationMs / 1000));
  const acks = Array.from({ length: secs }, (_, s) => r.timeline.acks[s] ?? 0);
  const p99 = Array.from({ length: secs }, (_, s) => quantile([...(r.timeline.latencies[s] ?? [])].sort((a, b) => a - b), 0.99));
  const p50 = Array.from({ length: secs }, (_, s) => quantile([...(r.timeline.latencies[s] ?? [])].sort((a, b) => a - b), 0.5));
  const maxAcks = Math.max(10, ...acks);
  const lat = [...p99, ...p50].filter(Number.isFinite);
  const lo = 1;
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(100, ...lat))));
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const x = (s: number): number => M.left + (s / secs) * pw;
  const yA = (v: number): number => M.top + ph - (v / maxAcks) * ph;
  const yL = (v: number): number => M.top + ph - ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * ph;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${M.left}" y="22" font-size="14" font-weight="bold">fault soak, seed ${r.seed}, mode ${r.mode}: acks/s (black), ack latency p50 / p99 (light / dark blue, log ms)</text>`);
  for (const f of r.faults) {
    const c = FAULT_COLORS[f.kind] ?? '#999';
    out.push(`<rect x="${x(f.startS)}" y="${M.top}" width="${Math.max(1, x(f.endS) - x(f.startS))}" height="${ph}" fill="${c}" fill-opacity="0.18"><title>#${f.id} ${f.kind}: ${f.note.replace(/[<>&"]/g, '')}</title></rect>`);
    out.push(`<text x="${x(f.startS) + 2}" y="${M.top + 12}" fill="${c}">${f.id}</text>`);
  }
  for (let i = 0; i <= 4; i++) {
    const v = (maxAcks * i) / 4;
    out.push(`<line x1="${M.left}" y1="${yA(v)}" x2="${M.left + pw}" y2="${yA(v)}" stroke="#eee"/><text x="${M.left - 6}" y="${yA(v) + 4}" text-anchor="end">${Math.round(v)}</text>`);
  }
  for (let d = lo; d <= hi; d *= 10) out.push(`<text x="${M.left + pw + 6}" y="${yL(d) + 4}" fill="#1f77b4">${d} ms</text>`);
  const step = Math.max(1, Math.ceil(secs / 12 / 10) * 10);
  for (let s = 0; s <= secs; s += step) out.push(`<text x="${x(s)}" y="${M.top + ph + 16}" text-anchor="middle">${s}s</text>`);
  const line = (ys: number[], y: (v: number) => number, color: string, width: number): void => {
    const pts = ys.map((v, s) => (Number.isFinite(v) ? `${x(s + 0.5).toFixed(1)},${y(v).toFixed(1)}` : null));
    let d = '';
    let pen = false;
    for (const p of pts) {
      if (p === null) pen = false;
      else {
        d += `${pen ? 'L' : 'M'}${p}`;
        pen = true;
      }
    }
    out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="${width}"/>`);
  };
  line(acks, yA, '#000', 1.2);
  line(p50, yL, '#aec7e8', 1);
  line(p99, yL, '#1f77b4', 1);
  out.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
  // Legend: the fault kinds of this run, wrapped onto as many rows as they need.
  let lx = M.left;
  let ly = H - 36;
  for (const k of Object.keys(FAULT_COLORS)) {
    if (!r.faults.some((f) => f.kind === k)) continue;
    const w = 20 + k.length * 6.5;
    if (lx + w > W - 10) {
      lx = M.left;
      ly += 16;
    }
    out.push(`<rect x="${lx}" y="${ly}" width="10" height="10" fill="${FAULT_COLORS[k]}" fill-opacity="0.5"/><text x="${lx + 13}" y="${ly + 9}">${k}</text>`);
    lx += w;
  }
  out.push('</svg>');
  return out.join('\n');
}

export function reportMarkdown(r: RunResult, versions: Record<string, string>): string {
  const c = r.check;
  const lines: string[] = [];
  lines.push(`### Soak: mode \`${r.mode}\`, seed ${r.seed}, ${(r.plan.durationMs / 60_000).toFixed(1)} min of faults (${(r.elapsedMs / 60_000).toFixed(1)} min wall)`);
  lines.push('');
  lines.push(`Versions: ${Object.entries(versions).map(([k, v]) => `${k} ${v}`).join(', ')}. Replay: \`npm run faults -- --seed ${r.seed} --minutes ${(r.plan.durationMs / 60_000).toFixed(2)} --mode ${r.mode}\`.`);
  lines.push('');
  lines.push(`Operations: ${c.stats.sends} sends (${c.stats.acknowledged} acknowledged, ${c.stats.failed} failed, ${c.stats.unknown} unknown), ${c.stats.polledRecords} records polled by ${c.stats.consumers} consumers (incl. the final read). Verdict: **${c.valid ? 'valid' : 'anomalies found'}**.`);
  lines.push('');
  const kinds = [...new Set(r.faults.map((f) => f.kind))].sort();
  lines.push(`| fault | injected | ${ANOMALY_KINDS.join(' | ')} |`);
  lines.push(`| --- | --- |${ANOMALY_KINDS.map(() => ' --- |').join('')}`);
  for (const k of [...kinds, 'none']) {
    const n = r.faults.filter((f) => f.kind === k).length;
    const by = c.byFault[k] ?? {};
    lines.push(`| ${k} | ${k === 'none' ? '-' : n} | ${ANOMALY_KINDS.map((a) => by[a] ?? 0).join(' | ')} |`);
  }
  lines.push(`| **total** | ${r.faults.length} | ${ANOMALY_KINDS.map((a) => c.counts[a]).join(' | ')} |`);
  lines.push('');
  lines.push('(An anomaly counts for every fault active within 10 s of it, so a row can double-count with its neighbour.)');
  lines.push('');
  const byKind = new Map<string, number[]>();
  for (const f of r.failovers) if (f.ms !== null) (byKind.get(f.kind) ?? byKind.set(f.kind, []).get(f.kind)!).push(f.ms);
  const none = r.failovers.filter((f) => f.ms === null);
  lines.push('Failover (fault → metadata names another live leader), ms:');
  lines.push('');
  lines.push('| fault | failovers | min | median | max |');
  lines.push('| --- | --- | --- | --- | --- |');
  for (const [k, ms] of [...byKind].sort()) {
    ms.sort((a, b) => a - b);
    lines.push(`| ${k} | ${ms.length} | ${ms[0]} | ${quantile(ms, 0.5)} | ${ms[ms.length - 1]} |`);
  }
  for (const [k, n] of [...new Set(none.map((f) => f.kind))].sort().map((k) => [k, none.filter((f) => f.kind === k).length] as const)) {
    lines.push(`| ${k}: leader kept (no other leader within the fault + 20 s) | ${n} | | | |`);
  }
  lines.push('');
  if (r.warnings.length > 0) lines.push(`Warnings: ${r.warnings.join('; ')}`, '');
  const stops = r.partitions.flatMap((p) => p.stops.map((s) => `p${p.partition} ${s}`));
  if (stops.length > 0) lines.push(`Replica dumps stopped early: ${stops.join('; ')}`, '');
  for (const a of ANOMALY_KINDS) {
    for (const ex of c.examples[a].slice(0, 3)) lines.push(`- ${a}: ${ex.message}`);
  }
  return lines.join('\n');
}

export function faultLog(r: RunResult): string {
  return r.faults.map((f) => `#${f.id} +${f.startS.toFixed(1)}s..${f.endS.toFixed(1)}s ${f.kind}: ${f.note}${f.error ? ` (error: ${f.error})` : ''}`).join('\n');
}
