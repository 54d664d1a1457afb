// The HdrHistogram percentile spectrum as a self-contained SVG: x is the percentile on a log scale of
// 1/(1-p) (so 90, 99, 99.9 ... are evenly spaced), y is latency in µs on a log scale, one line per target.
import type { RunRecord } from './run-record.js';

const W = 760;
const H = 420;
const M = { left: 70, right: 170, top: 40, bottom: 50 };
const COLORS: Record<string, string> = { tickbus: '#d62728', 'tickbus-sdk': '#ff7f0e', 'tickbus-tls': '#8c564b', 'tickbus-auth': '#e377c2', 'uws-relay': '#1f77b4', nats: '#2ca02c', redis: '#9467bd' };

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** x position of percentile p (0..100) in "nines": 0 → 0, 90 → 1, 99 → 2, 99.9 → 3 ... */
function nines(p: number): number {
  return p >= 100 ? Infinity : -Math.log10(1 - p / 100);
}

export function spectrumSvg(title: string, runs: RunRecord[]): string {
  const series = runs.filter((r) => r.spectrum_us.length > 0);
  const maxX = Math.max(2, ...series.flatMap((r) => r.spectrum_us.map(([p]) => nines(p)).filter(Number.isFinite)));
  const xs = Math.ceil(maxX);
  const values = series.flatMap((r) => r.spectrum_us.map(([, v]) => Math.max(1, v)));
  const lo = Math.pow(10, Math.floor(Math.log10(Math.min(...values, 10))));
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...values, 100))));
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const x = (n: number): number => M.left + (Math.min(n, xs) / xs) * pw;
  const y = (v: number): number => M.top + ph - ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * ph;

  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${M.left}" y="22" font-size="14" font-weight="bold">${esc(title)}</text>`);
  // Grid: one vertical line per nine, one horizontal line per decade of µs.
  for (let n = 0; n <= xs; n++) {
    const label = n === 0 ? '0%' : `${(100 * (1 - Math.pow(10, -n))).toFixed(Math.max(0, n - 2))}%`;
    parts.push(`<line x1="${x(n)}" y1="${M.top}" x2="${x(n)}" y2="${M.top + ph}" stroke="#ddd"/>`);
    parts.push(`<text x="${x(n)}" y="${M.top + ph + 16}" text-anchor="middle">${label}</text>`);
  }
  for (let d = lo; d <= hi; d *= 10) {
    parts.push(`<line x1="${M.left}" y1="${y(d)}" x2="${M.left + pw}" y2="${y(d)}" stroke="#ddd"/>`);
    parts.push(`<text x="${M.left - 6}" y="${y(d) + 4}" text-anchor="end">${d >= 1000 ? `${d / 1000} ms` : `${d} µs`}</text>`);
  }
  parts.push(`<text x="${M.left + pw / 2}" y="${H - 10}" text-anchor="middle">percentile (log scale of 1/(1-p))</text>`);
  parts.push(`<text x="16" y="${M.top + ph / 2}" text-anchor="middle" transform="rotate(-90 16 ${M.top + ph / 2})">latency from intended send time</text>`);
  series.forEach((r, i) => {
    const color = COLORS[r.target] ?? '#444';
    const pts = r.spectrum_us.filter(([p]) => Number.isFinite(nines(p))).map(([p, v]) => `${x(nines(p)).toFixed(1)},${y(Math.max(1, v)).toFixed(1)}`);
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(' ')}"/>`);
    const ly = M.top + 10 + i * 18;
    parts.push(`<line x1="${M.left + pw + 12}" y1="${ly}" x2="${M.left + pw + 32}" y2="${ly}" stroke="${color}" stroke-width="3"/>`);
    parts.push(`<text x="${M.left + pw + 36}" y="${ly + 4}">${esc(r.target)} (p50 ${r.latency_us?.p50 ?? '-'} µs)</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

export interface TimeSeries {
  name: string;
  color?: string;
  /** [x, y] in the chart's units (x: seconds from the start). */
  points: [number, number][];
}

/**
 * Lines over time on a linear x axis (seconds) and a linear or log y axis, with labelled vertical
 * markers (events such as "broker 4 joined"): the autoscaling demonstration's latency and load plots.
 */
export function timeSeriesSvg(title: string, series: TimeSeries[], opts: { yLabel: string; logY?: boolean; markers?: { x: number; label: string }[]; yFormat?: (v: number) => string }): string {
  const palette = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
  const xsAll = series.flatMap((s) => s.points.map(([px]) => px));
  const ysAll = series.flatMap((s) => s.points.map(([, py]) => py)).filter(Number.isFinite);
  const x0 = Math.min(0, ...xsAll);
  const x1 = Math.max(x0 + 1, ...xsAll);
  const fmtY = opts.yFormat ?? ((v: number) => String(v));
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const x = (v: number): number => M.left + ((v - x0) / (x1 - x0)) * pw;
  let y: (v: number) => number;
  const ticks: number[] = [];
  if (opts.logY) {
    const lo = Math.pow(10, Math.floor(Math.log10(Math.max(1, Math.min(...ysAll, 10)))));
    const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...ysAll, lo * 10))));
    y = (v) => M.top + ph - ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * ph;
    for (let d = lo; d <= hi; d *= 10) ticks.push(d);
  } else {
    const hi = Math.max(1, ...ysAll) * 1.1;
    y = (v) => M.top + ph - (Math.max(0, v) / hi) * ph;
    for (let k = 0; k <= 5; k++) ticks.push((hi * k) / 5);
  }
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${M.left}" y="22" font-size="14" font-weight="bold">${esc(title)}</text>`);
  const step = Math.max(1, Math.ceil((x1 - x0) / 10 / 5) * 5);
  for (let t = Math.ceil(x0 / step) * step; t <= x1; t += step) {
    parts.push(`<line x1="${x(t)}" y1="${M.top}" x2="${x(t)}" y2="${M.top + ph}" stroke="#eee"/>`);
    parts.push(`<text x="${x(t)}" y="${M.top + ph + 16}" text-anchor="middle">${t} s</text>`);
  }
  for (const d of ticks) {
    parts.push(`<line x1="${M.left}" y1="${y(d)}" x2="${M.left + pw}" y2="${y(d)}" stroke="#ddd"/>`);
    parts.push(`<text x="${M.left - 6}" y="${y(d) + 4}" text-anchor="end">${esc(fmtY(d))}</text>`);
  }
  parts.push(`<text x="16" y="${M.top + ph / 2}" text-anchor="middle" transform="rotate(-90 16 ${M.top + ph / 2})">${esc(opts.yLabel)}</text>`);
  (opts.markers ?? []).forEach((m, i) => {
    parts.push(`<line x1="${x(m.x)}" y1="${M.top}" x2="${x(m.x)}" y2="${M.top + ph}" stroke="#555" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${x(m.x) + 3}" y="${M.top + 12 + 14 * i}" fill="#333">${esc(m.label)}</text>`);
  });
  series.forEach((s, i) => {
    const color = s.color ?? palette[i % palette.length]!;
    const pts = s.points.filter(([, py]) => Number.isFinite(py)).map(([px, py]) => `${x(px).toFixed(1)},${y(py).toFixed(1)}`);
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(' ')}"/>`);
    const ly = M.top + 10 + i * 18;
    parts.push(`<line x1="${M.left + pw + 12}" y1="${ly}" x2="${M.left + pw + 32}" y2="${ly}" stroke="${color}" stroke-width="3"/>`);
    parts.push(`<text x="${M.left + pw + 36}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
