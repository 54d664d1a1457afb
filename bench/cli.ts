#!/usr/bin/env node
// `tickbus bench SCENARIO [options]` (dispatched from cli/main.ts) and `node dist/bench/cli.js ...`
// (npm run bench). Results go to stdout as Markdown (and to --json / --out); progress goes to stderr.
// Exit codes: 0 done, 1 a target or scenario failed (the report says which), 2 bad command line.
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { BenchError, BenchUsageError } from './errors.js';
import { parseBenchArgs, USAGE } from './options.js';
import { markdownReport } from './report/markdown.js';
import { writeJson, writeOutDir } from './report/write.js';
import { runBench } from './run-bench.js';
import { runReplicationCli } from './scenarios/replication.js';
import { runZoneReadsCli } from './scenarios/zone-reads.js';

export async function runBenchCli(argv: string[]): Promise<number> {
  // Its own two-point comparison (single node vs a dev-cluster), outside the target × scenario matrix.
  if (argv[0] === 'replication') return runReplicationCli(argv.slice(1));
  // Leader-served vs follower-served subscribers on one dev-cluster (zone-aware reads).
  if (argv[0] === 'zone-reads') return runZoneReadsCli(argv.slice(1));
  let parsed;
  try {
    parsed = parseBenchArgs(argv);
  } catch (err) {
    if (err instanceof BenchUsageError) {
      process.stderr.write(`tickbus bench: ${err.message.trimEnd()}\n`);
      return 2;
    }
    throw err;
  }
  if (parsed.help) {
    process.stdout.write(USAGE.trimStart());
    return 0;
  }
  const options = parsed.options;
  let report;
  try {
    report = await runBench(options);
  } catch (err) {
    // A BenchError here (a peer named in --targets is not installed...) says what to do: no stack trace.
    if (err instanceof BenchError) {
      process.stderr.write(`tickbus bench: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  process.stdout.write(markdownReport(report) + '\n');
  if (options.json) {
    writeJson(options.json, report);
    process.stderr.write(`wrote ${options.json}\n`);
  }
  if (options.out) {
    const files = writeOutDir(options.out, report);
    process.stderr.write(`wrote ${files.length} files to ${options.out} (report.md, index.html, SVG charts)\n`);
  }
  const failed = report.runs.filter((r) => r.error);
  return failed.length ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  runBenchCli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`tickbus bench: ${err instanceof BenchError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
