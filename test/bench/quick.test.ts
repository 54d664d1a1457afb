// The bench's quick mode end to end against every target: real servers, real sockets, a second or so each.
// It checks that the harness works and that every target delivered every message. Never a latency threshold:
// speed is measured in benchmarks, not asserted in tests.
import { describe, expect, it } from 'vitest';
import { runBenchCli } from '../../bench/cli.js';
import { type BenchOptions, parseBenchArgs } from '../../bench/options.js';
import type { RunRecord } from '../../bench/report/run-record.js';
import { runBench } from '../../bench/run-bench.js';
import { runnableTargets } from '../../bench/targets/availability.js';

function quickOptions(scenario: string, extra: string[] = [], targets = 'tickbus,tickbus-sdk,uws-relay,nats,redis'): BenchOptions {
  const parsed = parseBenchArgs([scenario, '--quick', '--targets', targets, ...extra]);
  if (parsed.help) throw new Error('unexpected --help');
  return parsed.options;
}

function expectEveryMessageDelivered(runs: RunRecord[], targets: string[]): void {
  expect(runs.map((r) => r.target).sort()).toEqual([...targets].sort());
  for (const r of runs) {
    const what = `${r.scenario} ${r.target}`;
    expect(r.error, what).toBeNull();
    expect(r.sent, what).toBeGreaterThan(0);
    if (r.scenario === 'replay') {
      expect(r.received, what).toBe(r.sent);
    } else {
      expect(r.received, what).toBe(r.sent * r.subscribers);
      // Every subscriber got all of them, not some subscribers twice.
      expect(r.min_per_subscriber, what).toBe(r.sent);
      if (r.ack_latency_us) expect(r.acked, what).toBe(r.sent);
    }
  }
}

describe('tickbus bench --quick', () => {
  it('latency: every target delivers every message 1 → 1', { timeout: 60_000 }, async () => {
    const rep = await runBench(quickOptions('latency'), { progress: false });
    expectEveryMessageDelivered(rep.runs, ['tickbus', 'tickbus-sdk', 'uws-relay', 'nats', 'redis']);
    // tickbus-sdk: every send() promise resolved (acks leader).
    expect(rep.runs.find((r) => r.target === 'tickbus-sdk')?.acked).toBe(rep.runs.find((r) => r.target === 'tickbus-sdk')?.sent);
  });

  it('fanout: every subscriber of every target gets every message', { timeout: 60_000 }, async () => {
    const rep = await runBench(quickOptions('fanout'), { progress: false });
    expectEveryMessageDelivered(rep.runs, ['tickbus', 'tickbus-sdk', 'uws-relay', 'nats', 'redis']);
    for (const r of rep.runs) expect(r.subscribers).toBe(10);
  });

  it('durable: every durable target acknowledges and delivers every message', { timeout: 60_000 }, async () => {
    const rep = await runBench(quickOptions('durable'), { progress: false });
    expectEveryMessageDelivered(rep.runs, ['tickbus', 'tickbus-sdk', 'nats', 'redis']);
    for (const r of rep.runs) expect(r.acked).toBe(r.sent);
  });

  it('replay: every durable target serves every preloaded record from the start', { timeout: 60_000 }, async () => {
    const rep = await runBench(quickOptions('replay', ['--records', '5000']), { progress: false });
    expectEveryMessageDelivered(rep.runs, ['tickbus', 'tickbus-sdk', 'nats', 'redis']);
  });
});

describe('tickbus bench command line', () => {
  it('exits with 2 and says what was wrong on bad input', async () => {
    for (const argv of [[], ['nonsense'], ['latency', '--rate', 'fast'], ['latency', '--size', '8'], ['latency', '--acks', 'maybe'], ['latency', '--targets', 'kafka'], ['latency', '--bogus']]) {
      expect(await runBenchCli(argv), argv.join(' ')).toBe(2);
    }
  });

  it('runs tickbus-sdk on request only', () => {
    expect(quickOptions('latency', [], 'tickbus,tickbus-sdk,uws-relay').targets).toEqual(['tickbus', 'tickbus-sdk', 'uws-relay']);
    const parsed = parseBenchArgs(['latency']);
    if (parsed.help) throw new Error('unexpected --help');
    expect(parsed.options.targets).not.toContain('tickbus-sdk');
  });

  it('skips a default target whose server binary is missing, and fails when that target was asked for', async () => {
    const saved = process.env.NATS_SERVER;
    process.env.NATS_SERVER = '/nonexistent/nats-server';
    try {
      const defaults = quickOptions('latency', [], 'tickbus,nats');
      const { targets, skipped } = await runnableTargets({ ...defaults, skipMissingPeers: true });
      expect(targets).toEqual(['tickbus']);
      expect(skipped).toEqual([{ target: 'nats', reason: expect.stringContaining('NATS_SERVER=/nonexistent/nats-server is not an executable file') as unknown }]);
      expect(defaults.skipMissingPeers).toBe(false); // --targets given
      await expect(runnableTargets(defaults)).rejects.toMatchObject({ code: 'BENCH_PEER_MISSING', name: 'PeerMissingError' });
      expect(await runBenchCli(['latency', '--quick', '--targets', 'tickbus,nats'])).toBe(1);
    } finally {
      if (saved === undefined) delete process.env.NATS_SERVER;
      else process.env.NATS_SERVER = saved;
    }
    const parsed = parseBenchArgs(['latency']);
    expect(!parsed.help && parsed.options.skipMissingPeers).toBe(true);
  });

  it('accepts rates with k/m suffixes and lists of subscribers', () => {
    const o = quickOptions('fanout', ['--rate', '1k,2.5k', '--subscribers', '10,20']);
    expect(o.rates).toEqual([1000, 2500]);
    expect(o.subscribers).toEqual([10, 20]);
  });
});
