#!/usr/bin/env node
// `npm run autoscale`: a demonstration a newcomer can run of a cluster growing under load (issue 13).
//   1. a 3-broker cluster with its own etcd (dev-cluster, zones z1..z3), a topic of 6 partitions, RF 2;
//   2. traffic from the SDK (acks 'all', a committed subscriber measuring produce→deliver latency) that
//      ramps up over 20 s and then holds;
//   3. every second each broker's write rate is read from its /metrics and fed to the policy
//      (policy.ts): when the busiest broker is over the threshold long enough, broker 4 is started;
//   4. the controller's balancer moves replicas to the new broker (KIP-455 style, under a throttle). If
//      none has moved 15 s after the join, the demo asks for a move with `tickbus cluster reassign`, and
//      if that is not available it says rebalancing is pending;
//   5. it stops after the moves settle (or a time bound), stops every process it started (the node
//      processes themselves, by pid), and writes report.md with SVG plots of latency, per-broker load and
//      replicas per broker over time (to --out, default ./autoscale-report).
// Loopback only; every wait is bounded.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { type Bus, connect } from '../../client/index.js';
import { metricsText } from '../harness/broker-metrics.js';
import { sleep } from '../harness/clock.js';
import { type DevBroker, type DevCluster, startDevCluster } from '../harness/dev-cluster.js';
import { newHistogram } from '../harness/latency-recorder.js';
import { timeSeriesSvg } from '../report/chart.js';
import { repoRoot } from '../harness/entry-path.js';
import { checkPolicy, decide, type ScalePolicy, type ScaleState } from './policy.js';

export interface DemoOptions {
  out: string;
  /** Hard bound on the traffic phase, seconds. */
  maxSeconds: number;
  /** Messages per second at the start and the end of the ramp. */
  fromRate: number;
  toRate: number;
  rampSeconds: number;
  size: number;
  policy: ScalePolicy;
}

const DEFAULTS: DemoOptions = {
  out: 'autoscale-report',
  maxSeconds: 90,
  fromRate: 100,
  toRate: 800,
  rampSeconds: 20,
  size: 512,
  // 800 msg/s × 512 B on 6 partitions × RF 2 over 3 brokers ≈ 270 KiB/s written per broker at the top
  // (leader and follower copies): the threshold is crossed at about 450 msg/s, half way up the ramp.
  policy: { thresholdBytesPerSec: 150 * 1024, sustainSamples: 3, cooldownMs: 30_000, maxBrokers: 4 },
};

const TOPIC = 'autoscale';
const PARTITIONS = 6;

interface Second {
  t: number;
  rate: number;
  /** Write KiB/s per broker id. */
  load: Map<number, number>;
  p50ms: number;
  p99ms: number;
  delivered: number;
  /** Replicas and leaderships per broker id (metadata). */
  replicas: Map<number, number>;
  leaders: Map<number, number>;
  note: string;
}

/** tickbus_bytes_in_total + tickbus_replicated_bytes_total of one broker, or null when it does not answer. */
async function writtenBytes(b: DevBroker): Promise<number | null> {
  const text = await metricsText(b, 1_000);
  if (text === null) return null;
  let sum = 0;
  for (const name of ['tickbus_bytes_in_total', 'tickbus_replicated_bytes_total']) {
    const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
    if (m) sum += Number(m[1]);
  }
  return sum;
}

/** A plan moving about a quarter of the replicas to `to`: from the busiest brokers, followers first. */
function reassignPlan(parts: { partition: number; replicas: number[]; leaderId: number }[], to: number): { topic: string; partition: number; replicas: number[] }[] {
  const count = new Map<number, number>();
  for (const p of parts) for (const id of p.replicas) count.set(id, (count.get(id) ?? 0) + 1);
  const want = Math.floor(parts.reduce((n, p) => n + p.replicas.length, 0) / (count.size + 1));
  const plan: { topic: string; partition: number; replicas: number[] }[] = [];
  for (const p of parts) {
    if (plan.length >= want || p.replicas.includes(to)) continue;
    const from = [...p.replicas].filter((id) => id !== p.leaderId).sort((a, b) => (count.get(b) ?? 0) - (count.get(a) ?? 0))[0];
    if (from === undefined) continue;
    count.set(from, (count.get(from) ?? 0) - 1);
    plan.push({ topic: TOPIC, partition: p.partition, replicas: p.replicas.map((id) => (id === from ? to : id)) });
  }
  return plan;
}

function runCli(args: string[], ms: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [path.join(repoRoot(), 'dist', 'cli', 'main.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    c.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
    const timer = setTimeout(() => c.kill('SIGKILL'), ms);
    c.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

export async function runDemo(o: DemoOptions, log: (line: string) => void): Promise<{ seconds: Second[]; events: { t: number; label: string }[]; outcome: string }> {
  checkPolicy(o.policy);
  log('starting etcd and 3 brokers (dev-cluster, zones z1..z3)');
  const cluster: DevCluster = await startDevCluster({ brokers: 3, room: 1 });
  const buses: Bus[] = [];
  const seconds: Second[] = [];
  const events: { t: number; label: string }[] = [];
  let outcome = 'no broker was added (the load stayed under the threshold)';
  try {
    const urls = cluster.brokers.map((b) => b.url);
    const admin = await connect({ brokers: urls, clientId: 'autoscale-admin' });
    buses.push(admin);
    await admin.admin.createTopic(TOPIC, { partitions: PARTITIONS, replicationFactor: 2, minInsync: 1 });
    const describe = async () => (await admin.admin.describeTopic(TOPIC)).partitions;
    for (let i = 0; i < 150 && !(await describe()).every((p) => p.leaderId >= 0 && p.isr.length === 2); i++) await sleep(100);

    const producer = await connect({ brokers: urls, clientId: 'autoscale-producer', deliveryTimeoutMs: 60_000 });
    const consumerBus = await connect({ brokers: urls, clientId: 'autoscale-consumer' });
    buses.push(producer, consumerBus);
    const maxTotal = o.toRate * (o.maxSeconds + 5);
    const sentAt = new Float64Array(maxTotal);
    let hist = newHistogram();
    let delivered = 0;
    // 'earliest' on the new, empty topic: every record sent is counted, however late a SubscribeOk comes.
    const sub = consumerBus.subscribe(TOPIC, { from: 'earliest' });
    sub.on('record', (r) => {
      const v = r.value!;
      const seq = new DataView(v.buffer, v.byteOffset, 4).getUint32(0, true);
      if (seq < maxTotal) hist.recordValue(Math.max(1, Math.round((performance.now() - sentAt[seq]!) * 1_000)));
      delivered++;
    });
    for (let i = 0; i < 100 && sub.partitions.some((p) => sub.readsFrom(p) === null); i++) await sleep(100);

    // Set from callbacks: the cast keeps the compiler from narrowing it to null in the loop below.
    let failure = null as string | null;
    const payload = new Uint8Array(o.size);
    const view = new DataView(payload.buffer);
    const t0 = performance.now();
    const rateAt = (s: number): number => Math.round(o.fromRate + (o.toRate - o.fromRate) * Math.min(1, s / o.rampSeconds));
    let seq = 0;
    let sent = 0;
    const running = { on: true };
    const traffic = (async () => {
      let last = t0;
      let owed = 0;
      while (running.on && seq < maxTotal) {
        const now = performance.now();
        owed += ((now - last) / 1_000) * rateAt((now - t0) / 1_000);
        last = now;
        for (; owed >= 1 && seq < maxTotal; owed--, seq++) {
          view.setUint32(0, seq, true);
          sentAt[seq] = performance.now();
          producer.send(TOPIC, [{ value: payload.slice() }], { acks: 'all' }).then(
            () => sent++,
            (err: unknown) => {
              failure ??= String(err);
            },
          );
        }
        await sleep(1);
      }
    })();

    let state: ScaleState = { brokers: 3, hotSamples: 0, lastAddAtMs: null };
    let prev = new Map<number, number>();
    let prevAt = performance.now();
    let joinedAt: number | null = null;
    let reassignAsked = false;
    let movedAt: number | null = null;
    let settledSince: number | null = null;
    let lastOnNew = -1;
    const NEW_ID = 4;
    for (let s = 1; s <= o.maxSeconds; s++) {
      await sleep(Math.max(0, t0 + s * 1_000 - performance.now()));
      const now = performance.now();
      const bytes = await Promise.all(cluster.brokers.map(async (b) => [b.nodeId, await writtenBytes(b)] as const));
      const load = new Map<number, number>();
      for (const [id, v] of bytes) if (v !== null && prev.has(id)) load.set(id, (v - prev.get(id)!) / ((now - prevAt) / 1_000));
      prev = new Map(bytes.filter(([, v]) => v !== null) as [number, number][]);
      prevAt = now;
      const h = hist;
      hist = newHistogram();
      const parts = await describe().catch(() => []);
      const replicas = new Map<number, number>();
      const leaders = new Map<number, number>();
      for (const p of parts) {
        for (const id of p.replicas) replicas.set(id, (replicas.get(id) ?? 0) + 1);
        if (p.leaderId >= 0) leaders.set(p.leaderId, (leaders.get(p.leaderId) ?? 0) + 1);
      }
      let note = '';
      const out = decide(o.policy, state, { atMs: s * 1_000, bytesPerSec: load });
      state = out.state;
      if (out.decision.action === 'add') {
        note = `add broker ${NEW_ID}: ${out.decision.reason}`;
        events.push({ t: s, label: `policy: add broker ${NEW_ID}` });
        log(note);
        await cluster.addBroker(NEW_ID);
        joinedAt = s;
        events.push({ t: s, label: `broker ${NEW_ID} joined` });
        outcome = `broker ${NEW_ID} joined at ${s} s; no partition moved to it yet`;
      }
      const onNew = replicas.get(NEW_ID) ?? 0;
      if (joinedAt !== null && onNew > 0 && movedAt === null) {
        movedAt = s;
        events.push({ t: s, label: `first replica on broker ${NEW_ID}` });
      }
      if (joinedAt !== null && movedAt === null && !reassignAsked && s - joinedAt >= 15) {
        // The balancer did not react to the join: ask for the moves explicitly.
        reassignAsked = true;
        const plan = reassignPlan(parts, NEW_ID);
        log(`no replica moved to broker ${NEW_ID} within 15 s of its join; asking: tickbus cluster reassign (${plan.length} partitions)`);
        const r = await runCli(['cluster', 'reassign', '--cluster', cluster.etcdUrl, '--wait-ms', '0', '--plan', JSON.stringify({ partitions: plan })], 20_000);
        events.push({ t: s, label: r.code === 0 ? 'reassign requested' : 'reassign unavailable' });
        if (r.code !== 0) {
          outcome = `broker ${NEW_ID} joined at ${joinedAt} s; REBALANCING PENDING: the balancer did not move partitions and \`tickbus cluster reassign\` failed (${r.out.trim().split('\n').at(-1) ?? ''})`;
          log(outcome);
        }
      }
      if (movedAt !== null) {
        outcome = `broker ${NEW_ID} joined at ${joinedAt} s; replicas started moving to it at ${movedAt} s; ${onNew} replicas and ${leaders.get(NEW_ID) ?? 0} leaderships on it at ${s} s`;
        if (onNew === lastOnNew && parts.every((p) => p.isr.length === p.replicas.length)) settledSince ??= s;
        else settledSince = null;
      }
      lastOnNew = onNew;
      const p = h.totalCount > 0 ? { p50: h.getValueAtPercentile(50) / 1_000, p99: h.getValueAtPercentile(99) / 1_000 } : { p50: NaN, p99: NaN };
      const rate = rateAt(s);
      seconds.push({ t: s, rate, load, p50ms: p.p50, p99ms: p.p99, delivered, replicas, leaders, note });
      const kib = [...load].map(([id, v]) => `b${id} ${Math.round(v / 1024)}`).join(' ');
      log(`t=${s}s rate=${rate}/s write KiB/s: ${kib} | p50 ${p.p50.toFixed(1)} ms p99 ${p.p99.toFixed(1)} ms | replicas ${[...replicas].sort().map(([id, n]) => `b${id}:${n}`).join(' ')}${note ? ` | ${note}` : ''}`);
      if (failure) throw new Error(`a send failed: ${failure}`);
      if (settledSince !== null && s - settledSince >= 10) break; // moves done and ISR full for 10 s
      if (joinedAt === null && s >= o.rampSeconds + 30) break; // never hot enough: nothing more to show
      if (reassignAsked && movedAt === null && joinedAt !== null && s - joinedAt >= 30) break; // pending: say so and stop
    }
    running.on = false;
    await traffic;
    await Promise.race([producer.flush(), sleep(15_000)]);
    for (let i = 0; i < 50 && delivered < sent; i++) await sleep(100); // the last acknowledged records reach the subscriber
    log(`sent ${seq}, acknowledged ${sent}, delivered ${delivered}`);
  } finally {
    await Promise.allSettled(buses.map((b) => b.close()));
    log('stopping every broker and etcd');
    await cluster.stop();
  }
  return { seconds, events, outcome };
}

export function writeReport(dir: string, o: DemoOptions, r: { seconds: Second[]; events: { t: number; label: string }[]; outcome: string }): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const ids = [...new Set(r.seconds.flatMap((s) => [...s.load.keys(), ...s.replicas.keys()]))].sort((a, b) => a - b);
  const markers = r.events.map((e) => ({ x: e.t, label: e.label }));
  const latency = timeSeriesSvg(
    'produce→deliver latency per second (acks all, committed subscriber)',
    [
      { name: 'p50', points: r.seconds.map((s) => [s.t, s.p50ms]) },
      { name: 'p99', points: r.seconds.map((s) => [s.t, s.p99ms]) },
    ],
    { yLabel: 'ms', logY: true, markers, yFormat: (v) => `${v} ms` },
  );
  const load = timeSeriesSvg(
    'write rate per broker (bytes in + replicated, /metrics)',
    [
      ...ids.map((id) => ({ name: `broker ${id}`, points: r.seconds.filter((s) => s.load.has(id)).map((s): [number, number] => [s.t, s.load.get(id)! / 1024]) })),
      { name: 'threshold', color: '#999', points: r.seconds.map((s): [number, number] => [s.t, o.policy.thresholdBytesPerSec / 1024]) },
    ],
    { yLabel: 'KiB/s', markers, yFormat: (v) => `${Math.round(v)}` },
  );
  const placement = timeSeriesSvg(
    `replicas per broker (topic '${TOPIC}', ${PARTITIONS} partitions × RF 2)`,
    ids.map((id) => ({ name: `broker ${id}`, points: r.seconds.map((s): [number, number] => [s.t, s.replicas.get(id) ?? 0]) })),
    { yLabel: 'replicas', markers, yFormat: (v) => v.toFixed(1) },
  );
  fs.writeFileSync(path.join(dir, 'latency.svg'), latency);
  fs.writeFileSync(path.join(dir, 'load.svg'), load);
  fs.writeFileSync(path.join(dir, 'placement.svg'), placement);
  const rows = r.seconds.map(
    (s) =>
      `| ${s.t} | ${s.rate} | ${ids.map((id) => (s.load.has(id) ? Math.round(s.load.get(id)! / 1024) : '-')).join(' / ')} | ${Number.isNaN(s.p50ms) ? '-' : s.p50ms.toFixed(1)} | ${Number.isNaN(s.p99ms) ? '-' : s.p99ms.toFixed(1)} | ${ids.map((id) => `${s.replicas.get(id) ?? 0}/${s.leaders.get(id) ?? 0}`).join(' ')} | ${s.note} |`,
  );
  const md = [
    '# Autoscaling demonstration',
    '',
    `Outcome: ${r.outcome}.`,
    '',
    `Policy (bench/autoscale/policy.ts): add a broker when the busiest broker writes ≥ ${Math.round(o.policy.thresholdBytesPerSec / 1024)} KiB/s for ${o.policy.sustainSamples} samples in a row (1 s apart), at most ${o.policy.maxBrokers} brokers, ${o.policy.cooldownMs / 1_000} s between adds.`,
    `Traffic: ${o.fromRate} → ${o.toRate} msg/s of ${o.size} B over ${o.rampSeconds} s, acks all, topic '${TOPIC}' (${PARTITIONS} partitions, RF 2).`,
    '',
    '![latency](latency.svg)',
    '',
    '![load](load.svg)',
    '',
    '![placement](placement.svg)',
    '',
    `| t (s) | msg/s | write KiB/s (${ids.map((id) => `b${id}`).join(' / ')}) | p50 ms | p99 ms | replicas/leaders (${ids.map((id) => `b${id}`).join(' ')}) | event |`,
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'report.md'), md);
  return ['report.md', 'latency.svg', 'load.svg', 'placement.svg'].map((f) => path.join(dir, f));
}

export function parseDemoArgs(argv: string[]): DemoOptions {
  const o: DemoOptions = { ...DEFAULTS, policy: { ...DEFAULTS.policy } };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[++i];
    if (v === undefined) throw new TypeError(`${a} needs a value`);
    const n = Number(v);
    if (a === '--out') o.out = v;
    else if (!Number.isFinite(n) || n <= 0) throw new RangeError(`${a} needs a positive number, got '${v}'`);
    else if (a === '--max-seconds') o.maxSeconds = Math.round(n);
    else if (a === '--from-rate') o.fromRate = Math.round(n);
    else if (a === '--to-rate') o.toRate = Math.round(n);
    else if (a === '--ramp-seconds') o.rampSeconds = n;
    else if (a === '--size') o.size = Math.max(8, Math.round(n));
    else if (a === '--threshold-kib') o.policy.thresholdBytesPerSec = n * 1024;
    else throw new TypeError(`unknown option ${a} (--out DIR, --max-seconds N, --from-rate N, --to-rate N, --ramp-seconds N, --size B, --threshold-kib N)`);
  }
  return o;
}

async function main(): Promise<number> {
  const o = parseDemoArgs(process.argv.slice(2));
  const log = (line: string): void => void process.stdout.write(`[autoscale] ${line}\n`);
  const r = await runDemo(o, log);
  const files = writeReport(o.out, o, r);
  log(r.outcome);
  log(`report: ${files.join(', ')}`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`autoscale: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
