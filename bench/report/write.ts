// Writes a finished report: --json FILE (the whole BenchReport), --out DIR (report.md, one SVG per
// point, index.html embedding them all so the page is self-contained).
import fs from 'node:fs';
import path from 'node:path';
import { spectrumSvg } from './chart.js';
import { markdownReport, pointKey } from './markdown.js';
import type { BenchReport, RunRecord } from './run-record.js';

export function writeJson(file: string, rep: BenchReport): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(rep, null, 2) + '\n');
}

export function writeOutDir(dir: string, rep: BenchReport): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  const md = markdownReport(rep);
  const charts: { file: string; svg: string; title: string }[] = [];
  const groups = new Map<string, RunRecord[]>();
  for (const r of rep.runs) if (r.spectrum_us.length) groups.set(pointKey(r), [...(groups.get(pointKey(r)) ?? []), r]);
  for (const runs of groups.values()) {
    const r0 = runs[0]!;
    const title = `${r0.scenario}: ${r0.rate} msg/s, ${r0.size} B, 1 → ${r0.subscribers}`;
    const file = `${r0.scenario}-${r0.rate}-x${r0.subscribers}.svg`;
    const svg = spectrumSvg(title, runs);
    fs.writeFileSync(path.join(dir, file), svg);
    charts.push({ file, svg, title });
    written.push(path.join(dir, file));
  }
  const mdWithCharts = `# tickbus bench\n\n${md}\n${charts.map((c) => `![${c.title}](${c.file})`).join('\n\n')}\n`;
  fs.writeFileSync(path.join(dir, 'report.md'), mdWithCharts);
  written.push(path.join(dir, 'report.md'));
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>tickbus bench</title>
<style>body{font-family:sans-serif;margin:2em;max-width:1400px}pre{white-space:pre-wrap;font-size:12px;background:#f6f6f6;padding:1em}</style></head>
<body><h1>tickbus bench</h1>${charts.map((c) => `<div>${c.svg}</div>`).join('\n')}
<h2>Report</h2><pre>${md.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</pre></body></html>\n`;
  fs.writeFileSync(path.join(dir, 'index.html'), html);
  written.push(path.join(dir, 'index.html'));
  return written;
}
