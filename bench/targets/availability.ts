// Which of the requested targets can run on this machine, checked once before anything starts.
// A default target whose peer (client library, server binary) is not installed is dropped with a one-line
// note, so `npx tickbus bench latency --quick` after a bare `npm install tickbus` still benches tickbus and
// the uws relay. A target the user named in --targets is never dropped: its absence fails the command
// before any server starts, with what to install.
import { BenchError } from '../errors.js';
import type { BenchOptions } from '../options.js';
import { targetByName } from './registry.js';
import type { TargetName } from './target.js';

export interface SkippedTarget {
  target: TargetName;
  reason: string;
}

export async function runnableTargets(options: Pick<BenchOptions, 'targets' | 'skipMissingPeers'>): Promise<{ targets: TargetName[]; skipped: SkippedTarget[] }> {
  const targets: TargetName[] = [];
  const skipped: SkippedTarget[] = [];
  for (const name of options.targets) {
    try {
      await targetByName(name).checkPeer?.();
      targets.push(name);
    } catch (err) {
      if (!(err instanceof BenchError && err.code === 'BENCH_PEER_MISSING') || !options.skipMissingPeers) throw err;
      skipped.push({ target: name, reason: err.message });
    }
  }
  return { targets, skipped };
}
