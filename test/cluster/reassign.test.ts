// Moving partitions in a live cluster (issue 13, items 1-3): one etcd and three broker processes, then a
// fourth. Adding a broker under acks=all SDK traffic moves partitions to it (learners catch up under the
// reassignment throttle, join the ISR, the move completes) with every acknowledged record exactly once;
// draining it empties it (no replica, no leadership, files gone) while traffic goes on; leadership returns
// to the preferred replica after a restart; a manual plan moves a partition where it says.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ClusterView } from '../../broker/control/cluster-view.js';
import { EtcdClient } from '../../broker/control/etcd.js';
import { isMoving, Keys, type PartitionRecord } from '../../broker/control/records.js';
import { partitionDir } from '../../broker/metadata/topic-store.js';
import { type Bus, connect } from '../../client/index.js';
import { type BrokerProcess, CLI, freePort, startBroker } from '../helpers/broker.js';
import { eventually, startCluster, type TestCluster } from '../helpers/cluster.js';

const exec = promisify(execFile);
const TOPIC = 'grow';
const PARTITIONS = 4;
const LEASE_TTL_MS = 2_000;
// prettier-ignore
const CONTROL_ARGS = [
  '--replica-lag-ms', '1000', '--preferred-leader-delay-ms', '1000', '--max-moves', '2', '--replace-after-ms', '4000',
  // Low enough that the preloaded backlog takes a visible part of a second to copy to a learner.
  '--reassign-throttle', '2000000',
];

let cluster: TestCluster;
let fourth: BrokerProcess | null = null;
let etcd: EtcdClient;
let keys: Keys;
const buses: Bus[] = [];

beforeAll(async () => {
  cluster = await startCluster({ brokers: 3, leaseTtlMs: LEASE_TTL_MS, args: CONTROL_ARGS, clusterName: 'reassign' });
  etcd = new EtcdClient([cluster.etcd.url]);
  keys = new Keys(cluster.clusterName);
}, 60_000);
afterAll(async () => {
  await Promise.allSettled(buses.map((b) => b.close()));
  await fourth?.stop().catch(() => undefined);
  await (etcd as EtcdClient | undefined)?.close();
  await (cluster as TestCluster | undefined)?.stop();
}, 60_000);

async function view(): Promise<ClusterView> {
  const v = new ClusterView(keys);
  v.reset((await etcd.list(keys.root)).entries);
  return v;
}

async function records(): Promise<PartitionRecord[]> {
  return (await view()).partitionsOf(TOPIC).map((p) => p.value);
}

async function bus(): Promise<Bus> {
  const b = await connect({ brokers: cluster.bootstrapUrls, clientId: 'reassign-test', requestTimeoutMs: 1_500, connectTimeoutMs: 1_500, deliveryTimeoutMs: 60_000, reconnect: { initialMs: 20, maxMs: 250 } });
  buses.push(b);
  return b;
}

/** acks=all sends round-robin over the partitions, a few in flight, recording each ack's latency. */
class Traffic {
  readonly acked: { value: string; partition: number; offset: number; sentAt: number; ms: number }[] = [];
  readonly failed: unknown[] = [];
  /** Sends without an answer yet, by send index: their partition and send time (for the failure message). */
  readonly pending = new Map<number, { partition: number; sentAt: number }>();
  private stopped = false;
  private readonly done: Promise<void>;
  constructor(
    private readonly b: Bus,
    private readonly prefix: string,
    private readonly window = 8,
    private readonly bytes = 200,
  ) {
    this.done = this.run();
  }
  private async run(): Promise<void> {
    const inflight = new Set<Promise<void>>();
    const pad = 'x'.repeat(this.bytes);
    for (let i = 0; !this.stopped && i < 1_000_000; i++) {
      const value = `${this.prefix}-${i}-${pad}`;
      const partition = i % PARTITIONS;
      const sentAt = performance.now();
      this.pending.set(i, { partition, sentAt });
      const id = i;
      const p = this.b.send(TOPIC, [{ value }], { acks: 'all', partition }).finally(() => this.pending.delete(id)).then(
        (acks) => {
          this.acked.push({ value, partition, offset: acks[0]!.offset, sentAt, ms: performance.now() - sentAt });
        },
        (err: unknown) => {
          this.failed.push(err);
        },
      );
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
      if (inflight.size >= this.window) await Promise.race(inflight);
      await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(inflight);
  }
  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
  /** Sends nothing more, without waiting for the answers (after a failed test: they may take deliveryTimeoutMs). */
  halt(): void {
    this.stopped = true;
  }
  /** Per partition: acked, waiting, and the age of the oldest waiting send. */
  describe(): string {
    const now = performance.now();
    const parts = [];
    for (let p = 0; p < PARTITIONS; p++) {
      const waiting = [...this.pending.values()].filter((w) => w.partition === p).map((w) => w.sentAt);
      const oldest = waiting.length > 0 ? Math.round(now - Math.min(...waiting)) : 0;
      parts.push(`p${p}: acked ${this.acked.filter((a) => a.partition === p).length}, waiting ${waiting.length} (oldest ${oldest} ms)`);
    }
    const last = this.failed.at(-1);
    return `${this.prefix}: ${parts.join('; ')}; failed ${this.failed.length}${last === undefined ? '' : ` (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`}`;
  }
  /** p50/p99/max of the acks sent within [from, to) (performance.now() times). */
  latency(from = 0, to = Infinity): { n: number; p50: number; p99: number; max: number } {
    const ms = this.acked.filter((a) => a.sentAt >= from && a.sentAt < to).map((a) => a.ms).sort((x, y) => x - y);
    const q = (f: number): number => Math.round((ms[Math.min(ms.length - 1, Math.floor(f * ms.length))] ?? NaN) * 10) / 10;
    return { n: ms.length, p50: q(0.5), p99: q(0.99), max: q(1) };
  }
}

/** Every record of every partition, read committed from the start; values by partition in offset order. */
async function readAll(b: Bus, expected: number): Promise<Map<number, { offset: number; value: string }[]>> {
  const out = new Map<number, { offset: number; value: string }[]>();
  for (let p = 0; p < PARTITIONS; p++) out.set(p, []);
  const sub = b.subscribe(TOPIC, { from: 'earliest' });
  const dec = new TextDecoder();
  let n = 0;
  sub.on('record', (r) => {
    out.get(r.partition)!.push({ offset: r.offset, value: dec.decode(r.value ?? undefined) });
    n++;
  });
  const end = Date.now() + 30_000;
  try {
    while (!(n >= expected && [...out.keys()].every((p) => sub.lag(p) === 0))) {
      if (Date.now() > end) throw new Error(`read ${n}/${expected} records within 30 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    await sub.close();
  }
  return out;
}

/** Each acknowledged value exactly once, at the partition and offset its ack named; nothing else. */
function expectExactlyOnce(traffic: Traffic[], log: Map<number, { offset: number; value: string }[]>): void {
  for (const t of traffic) expect(t.failed).toEqual([]);
  const acked = traffic.flatMap((t) => t.acked);
  let total = 0;
  for (const [p, recs] of log) {
    total += recs.length;
    expect(recs.map((r) => r.offset), `partition ${p}: offsets without holes or repeats`).toEqual(recs.map((_, i) => i));
    const at = new Map(recs.map((r) => [r.offset, r.value]));
    for (const a of acked.filter((x) => x.partition === p)) expect(at.get(a.offset), `${a.value.slice(0, 20)} at ${p}/${a.offset}`).toBe(a.value);
  }
  expect(new Set(acked.map((a) => a.value)).size).toBe(acked.length);
  expect(total).toBe(acked.length);
}

/**
 * What the cluster looked like when a wait ran out: each partition's record (leader, epoch, replicas, ISR,
 * move), the live brokers, the traffic per partition, the producers' counters and each broker's last log lines.
 */
async function clusterState(traffic: readonly Traffic[]): Promise<string> {
  const lines: string[] = [];
  try {
    const v = await view();
    lines.push(`brokers registered: [${[...v.brokers.keys()].join(',')}]; drains: [${[...v.drains.keys()].join(',')}]; reassign requests: ${v.reassignRequests.size}`);
    for (const { value: p } of v.partitionsOf(TOPIC)) {
      const move = isMoving(p) ? ` adding [${(p.addingReplicas ?? []).join(',')}] removing [${(p.removingReplicas ?? []).join(',')}]` : '';
      lines.push(`${TOPIC}/${p.partition}: leader ${p.leader} epoch ${p.leaderEpoch} replicas [${p.replicas.join(',')}] isr [${p.isr.join(',')}]${move}`);
    }
  } catch (err) {
    lines.push(`cluster records unreadable: ${String(err)}`);
  }
  for (const t of traffic) lines.push(t.describe());
  for (const b of buses) lines.push(`producer ${b.producerId}: ${JSON.stringify(b.producerStats)}`);
  const procs: [number, BrokerProcess][] = cluster.brokers.map((b, i) => [i + 1, b]);
  if (fourth) procs.push([4, fourth]);
  for (const [id, b] of procs) {
    const log = b.stderr().trimEnd().split('\n');
    // Owner restarts, lease losses and refused ISR changes first: they explain a stall; then the tail.
    const notable = log.filter((l) => /restart|fenced|refused|failed|cannot|not in sync|Error/.test(l)).slice(-15);
    lines.push(`--- broker ${id}: ${log.length} log lines; notable:\n${notable.join('\n')}\n--- broker ${id}, last 20 lines:\n${log.slice(-20).join('\n')}`);
  }
  return lines.join('\n');
}

/** eventually(), with the cluster's state in the error when the wait runs out. */
async function waitFor(cond: () => Promise<boolean>, what: string, ms: number, traffic: readonly Traffic[]): Promise<void> {
  try {
    await eventually(cond, what, ms);
  } catch (err) {
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${await clusterState(traffic)}`, { cause: err });
  }
}

async function noMoves(what: string, ms = 45_000): Promise<void> {
  await eventually(async () => {
    const v = await view();
    return v.reassignRequests.size === 0 && (await records()).every((p) => !isMoving(p));
  }, what, ms);
}

function dirHasLog(b: BrokerProcess, p: number): boolean {
  return fs.existsSync(partitionDir(b.dataDir, TOPIC, p));
}

function brokerOf(id: number): BrokerProcess {
  return id === 4 ? fourth! : cluster.broker(id);
}

async function cli(...args: string[]): Promise<{ code: number; lines: Record<string, unknown>[] }> {
  const r = await exec(process.execPath, [CLI, 'cluster', ...args, '--cluster', cluster.etcdUrl, '--cluster-name', cluster.clusterName], { timeout: 90_000 }).then(
    (x) => ({ code: 0, stdout: x.stdout }),
    (e: unknown) => {
      const err = e as { code?: number; stdout?: string; stderr?: string };
      console.log(`[reassign] cli ${args.join(' ')} failed: ${err.stderr ?? ''}`);
      return { code: err.code ?? -1, stdout: err.stdout ?? '' };
    },
  );
  return { code: r.code, lines: r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('reassignment', () => {
  const traffic: Traffic[] = [];
  // A test that failed mid-traffic must not leave its sends loading the cluster under the next one.
  afterEach(() => {
    for (const t of traffic) t.halt();
  });

  it('adding a broker under acks=all traffic moves partitions to it; every acked record exactly once', async () => {
    const b = await bus();
    await b.admin.createTopic(TOPIC, { partitions: PARTITIONS, replicationFactor: 2, minInsync: 2 });
    await waitFor(async () => (await records()).every((p) => p.isr.length === 2), 'every ISR full', 15_000, []);
    // A backlog for the learners to copy under the throttle.
    const preload = new Traffic(b, 'pre', 32, 1_000);
    traffic.push(preload);
    // Bounds: about 2 s here, about 18 s with the brokers stopped 90% of the time (SIGSTOP/SIGCONT cycles).
    await waitFor(() => Promise.resolve(preload.acked.length >= 2_000), 'preload acked', 45_000, [preload]);
    await preload.stop();

    const live = new Traffic(b, 'live');
    traffic.push(live);
    await waitFor(() => Promise.resolve(live.acked.length >= 200), 'traffic flowing', 30_000, [live]);
    const before = live.latency();
    const moveStart = performance.now();
    // prettier-ignore
    fourth = await startBroker({ args: [
      '--cluster', cluster.etcdUrl, '--cluster-name', cluster.clusterName, '--node-id', '4', '--zone', 'z4',
      '--owners', '1', '--owner-base-port', String(await freePort()), '--lease-ttl-ms', String(LEASE_TTL_MS), ...CONTROL_ARGS,
    ] });
    // Balanced: 8 replicas on 4 brokers, so the new one ends with 2 and nothing is moving.
    await eventually(async () => (await records()).filter((p) => p.replicas.includes(4) && !isMoving(p)).length === 2, 'two replicas on broker 4', 45_000);
    await noMoves('the moves to finish');
    const moveEnd = performance.now();
    await waitFor(() => Promise.resolve(live.acked.length >= before.n + 200), 'traffic after the move', 30_000, [live]);
    await live.stop();

    const recs = await records();
    const counts = [1, 2, 3, 4].map((id) => recs.filter((p) => p.replicas.includes(id)).length);
    expect(counts).toEqual([2, 2, 2, 2]);
    for (const p of recs) {
      expect(new Set(p.replicas.map((r) => `z${r}`)).size).toBe(2);
      expect(p.isr.sort()).toEqual([...p.replicas].sort());
      // Files only where the records say: the removed replicas' brokers deleted theirs.
      for (const id of [1, 2, 3, 4]) {
        await eventually(() => Promise.resolve(dirHasLog(brokerOf(id), p.partition) === p.replicas.includes(id)), `${TOPIC}/${p.partition} files on broker ${id} match the record`, 10_000);
      }
    }
    const during = live.latency(moveStart, moveEnd);
    console.log(`[reassign] acks=all latency before the move: ${JSON.stringify(before)}; during (${Math.round(moveEnd - moveStart)} ms): ${JSON.stringify(during)}`);
    expectExactlyOnce(traffic, await readAll(b, traffic.reduce((n, t) => n + t.acked.length, 0)));
  }, 120_000);

  it('draining a broker empties it (no replica, no leadership, files deleted) while traffic goes on', async () => {
    const b = await bus();
    const live = new Traffic(b, 'drain');
    traffic.push(live);
    await waitFor(() => Promise.resolve(live.acked.length >= 100), 'traffic flowing', 30_000, [live]);
    const held = (await records()).filter((p) => p.replicas.includes(4)).map((p) => p.partition);
    expect(held.length).toBeGreaterThan(0);
    const r = await cli('drain', '4', '--wait-ms', '60000');
    expect(r.code).toBe(0);
    expect(r.lines.at(-1)).toMatchObject({ event: 'drained', broker: 4, safeToStop: true });
    const n = live.acked.length;
    await waitFor(() => Promise.resolve(live.acked.length >= n + 100), 'traffic after the drain', 30_000, [live]);
    await live.stop();
    const recs = await records();
    for (const p of recs) {
      expect(p.replicas).not.toContain(4);
      expect(p.leader).not.toBe(4);
    }
    for (const p of held) await eventually(() => Promise.resolve(!dirHasLog(fourth!, p)), `${TOPIC}/${p} files deleted on broker 4`, 10_000);
    const status = await cli('status');
    expect(status.lines[0]).toMatchObject({ drains: [4], moves: [] });
    expectExactlyOnce(traffic, await readAll(b, traffic.reduce((n2, t) => n2 + t.acked.length, 0)));
    await fourth!.stop();
    fourth = null;
  }, 120_000);

  it('leadership returns to the preferred replica after it restarts', async () => {
    await noMoves('no moves');
    const rec = (await records()).find((p) => p.leader === p.replicas[0])!;
    const preferred = rec.leader;
    const victim = cluster.broker(preferred);
    await victim.stop();
    await eventually(async () => {
      const p = (await records())[rec.partition]!;
      return p.leader !== preferred && p.leader >= 0;
    }, 'another leader while the preferred one is down', 20_000);
    await victim.restart();
    await eventually(async () => {
      const p = (await records())[rec.partition]!;
      return p.leader === preferred && p.isr.includes(preferred);
    }, 'leadership back on the preferred replica', 30_000);
  }, 90_000);

  it('a manual plan moves a partition to the replicas it names', async () => {
    await noMoves('no moves');
    const recs = await records();
    const count = (id: number): number => recs.filter((p) => p.replicas.includes(id)).length;
    // Move one replica from a broker holding the most to one holding the fewest (8 replicas on 3 brokers:
    // 3, 3, 2): counts stay within one, so the balancer has no reason to move it back.
    const [least, ...others] = [1, 2, 3].sort((a, b) => count(a) - count(b));
    const most = others.find((id) => recs.some((x) => x.replicas.includes(id) && !x.replicas.includes(least!)))!;
    const p = recs.find((x) => x.replicas.includes(most) && !x.replicas.includes(least!))!;
    const target = p.replicas.map((r) => (r === most ? least! : r));
    const plan = JSON.stringify({ partitions: [{ topic: TOPIC, partition: p.partition, replicas: target }] });
    const r = await cli('reassign', '--plan', plan, '--wait-ms', '60000');
    expect(r.code).toBe(0);
    expect(r.lines.at(-1)).toMatchObject({ event: 'reassigned' });
    const after = (await records())[p.partition]!;
    expect([...after.replicas].sort()).toEqual([...target].sort());
    expect(target).toContain(after.leader);
    await eventually(() => Promise.resolve(!dirHasLog(cluster.broker(most), p.partition)), `files of ${TOPIC}/${p.partition} deleted on broker ${most}`, 10_000);
    expect(dirHasLog(cluster.broker(least!), p.partition)).toBe(true);
  }, 90_000);

  it('a broker gone longer than replaceAfterMs has its replicas placed on the others', async () => {
    await noMoves('no moves');
    const gone = 3;
    await cluster.broker(gone).stop();
    const stoppedAt = Date.now();
    await eventually(async () => {
      const recs = await records();
      return recs.every((p) => !p.replicas.includes(gone) && !isMoving(p) && p.isr.length === 2);
    }, `no replica left on broker ${gone}, every ISR full again`, 40_000);
    // Not before its time: the controller waits replaceAfterMs (4 s) for the broker to come back.
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(4_000);
    const status = await cli('status');
    expect((status.lines[0]!.brokers as { id: number; replicas: number }[]).find((b) => b.id === gone)).toBeUndefined();
  }, 60_000);
});
