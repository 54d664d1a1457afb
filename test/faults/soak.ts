// Soak mode of the fault harness: `npm run faults -- --minutes M --seed S [--mode strong|leader|interval|unclean]
// [--kinds k1,k2] [--brokers N] [--out DIR]`. Runs the driver with every fault kind at random (or the given
// ones) and writes report.md, timeline.svg, faults.txt, result.json and history.jsonl to DIR (default a new
// directory under docs/faults-report/). Exits 1 when the checker found an anomaly. Prints the seed first.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { REPO } from '../helpers/broker.js';
import { ETCD_BIN } from '../helpers/etcd.js';
import { summarize } from './checker.js';
import { MODES, type Mode, runFaults } from './driver.js';
import { faultLog, reportMarkdown, timelineSvg } from './report.js';
import { FAULT_KINDS, type FaultKind, newSeed, parseSeed } from './schedule.js';

function versions(): Record<string, string> {
  const tryRun = (cmd: string, args: string[]): string => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8', cwd: REPO }).trim();
    } catch {
      return 'unknown';
    }
  };
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string };
  return {
    tickbus: `${pkg.version} (${tryRun('git', ['rev-parse', '--short', 'HEAD'])})`,
    node: process.version,
    etcd: /etcd Version: (\S+)/.exec(tryRun(ETCD_BIN, ['--version']))?.[1] ?? 'unknown',
  };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '5' },
      seed: { type: 'string' },
      mode: { type: 'string', default: 'strong' },
      kinds: { type: 'string' },
      brokers: { type: 'string', default: '3' },
      out: { type: 'string' },
    },
  });
  const minutes = Number(values.minutes);
  if (!(minutes > 0 && minutes <= 24 * 60)) throw new RangeError(`--minutes must be in (0, 1440], got ${values.minutes}`);
  if (!(values.mode in MODES)) throw new TypeError(`--mode must be one of ${Object.keys(MODES).join(', ')}, got ${values.mode}`);
  const mode = values.mode as Mode;
  const seed = values.seed === undefined ? newSeed() : parseSeed(values.seed);
  const brokers = Number(values.brokers);
  if (!Number.isInteger(brokers) || brokers < 3 || brokers > 5) throw new RangeError(`--brokers must be 3..5, got ${values.brokers}`);
  const kinds = (values.kinds?.split(',') ?? [...FAULT_KINDS]) as FaultKind[];
  const outDir = values.out ?? path.join(REPO, 'docs/faults-report', `${new Date().toISOString().replace(/[:.]/g, '-')}-${mode}-seed${seed}`);
  fs.mkdirSync(outDir, { recursive: true });
  process.stderr.write(`seed ${seed} (replay: npm run faults -- --seed ${seed} --minutes ${minutes} --mode ${mode}); output in ${outDir}\n`);
  const durationMs = Math.round(minutes * 60_000);
  const r = await runFaults({ seed, durationMs, mode, kinds, brokers, outDir, cooldownMs: Math.min(10_000, Math.round(durationMs / 4)), warmupMs: Math.min(5_000, Math.round(durationMs / 4)) });
  fs.writeFileSync(path.join(outDir, 'timeline.svg'), timelineSvg(r));
  fs.writeFileSync(path.join(outDir, 'faults.txt'), faultLog(r) + '\n');
  const md = reportMarkdown(r, versions());
  fs.writeFileSync(path.join(outDir, 'report.md'), `${md}\n\n![throughput and latency over time](timeline.svg)\n\nFaults:\n\n\`\`\`\n${faultLog(r)}\n\`\`\`\n`);
  process.stdout.write(`${md}\n\n${summarize(r.check)}\nreport: ${outDir}\n`);
  return r.check.valid ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  },
);
