// `tickbus bench replication`: what acks 'all' on a replicated partition costs (issue 9). Two points in
// one run, same load, same machine: a single-node broker with acks 'leader' (the baseline), and a local
// 3-broker cluster with its own etcd (started by `tickbus dev-cluster`, the newcomer's command) with a
// topic of replication factor 3, min.insync 2 and acks 'all'. Each point sends one 100-byte message per
// Produce at a fixed rate over the raw wire (the `tickbus` target's client half) and records
// produce→ack and produce→deliver (a committed subscriber, so delivery waits for the high watermark too)
// in HdrHistograms. The report is the percentiles and their ratio to the baseline; the goal is ≤ 2× at p99.
import { TargetError } from '../errors.js';
import { startDevCluster } from '../harness/dev-cluster.js';
import { type Histogram, newHistogram } from '../harness/latency-recorder.js';
import { sendPaced } from '../harness/paced-sender.js';
import { type Percentiles, percentiles } from '../harness/percentiles.js';
import { parseRateArgs, type RateOptions, runRateCli } from './rate-args.js';
import { startTickbusServer, tickbusTarget } from '../targets/tickbus.js';
import { WireConnection } from '../targets/tickbus-wire.js';
import type { Acks, Endpoint } from '../targets/target.js';

export type ReplicationOptions = RateOptions;

export interface ReplicationPoint {
  name: string;
  count: number;
  ack: Percentiles;
  deliver: Percentiles;
}

const USAGE = `
Usage: tickbus bench replication [--rate N] [--duration S] [--warmup S] [--size B]

Runs single-node acks 'leader' and a local 3-broker cluster (dev-cluster, own etcd) with acks 'all'
(replication factor 3, min.insync 2) at the same fixed rate; prints produce→ack and produce→deliver
p50/p99/p99.9 (µs) and the cluster's ratio to the single node.
  --rate N       messages per second                  [2000]
  --duration S   measured seconds per point           [5]
  --warmup S     unmeasured seconds before it         [1]
  --size B       payload bytes (at least 8)           [100]
`;

export function parseReplicationArgs(argv: string[]): ReplicationOptions | null {
  return parseRateArgs(argv, { rate: 2_000, durationMs: 5_000, warmupMs: 1_000, size: 100 }, USAGE);
}

export const REPLICATION_USAGE = USAGE;

/** Sends at a fixed rate (1 ms ticks), records ack and deliver latency in µs of the messages sent after warm-up. */
async function measure(ep: Endpoint, acks: Acks | 'all', o: ReplicationOptions): Promise<{ count: number; ack: Histogram; deliver: Histogram }> {
  const total = Math.ceil((o.rate * (o.warmupMs + o.durationMs)) / 1_000);
  const warm = Math.ceil((o.rate * o.warmupMs) / 1_000);
  const sentAt = new Float64Array(total);
  const ack = newHistogram();
  const deliver = newHistogram();
  let acked = 0;
  let delivered = 0;
  // Set by onError; the cast keeps the compiler from narrowing it to null in the loops below.
  let failure = null as Error | null;
  const sub = await tickbusTarget.client.connectSubscriber(ep, { from: 'latest' }, (payload) => {
    const seq = new DataView(payload.buffer, payload.byteOffset, 8).getUint32(0, true);
    delivered++;
    if (seq >= warm && seq < total) deliver.recordValue(Math.max(1, Math.round((performance.now() - sentAt[seq]!) * 1_000)));
  });
  // The tickbus target's publisher sends the acks value as given; 'all' is a wire value it does not name.
  const pub = await tickbusTarget.client.connectPublisher(ep, {
    acks: acks as Acks,
    partition: 0,
    onAck: (seq) => {
      acked++;
      if (seq >= warm) ack.recordValue(Math.max(1, Math.round((performance.now() - sentAt[seq]!) * 1_000)));
    },
    onError: (err) => {
      failure ??= err;
    },
  });
  try {
    await sendPaced({ rate: o.rate, size: o.size, sentAt, send: (payload, seq) => pub.publish(payload, seq), failure: () => failure });
    const end = performance.now() + 10_000;
    while ((acked < total || delivered < total) && performance.now() < end) {
      if (failure) throw failure;
      await new Promise((r) => setTimeout(r, 5));
    }
    if (acked < total || delivered < total) throw new TargetError(`${acked}/${total} acked, ${delivered}/${total} delivered within 10 s of the last send`);
    return { count: total - warm, ack, deliver };
  } finally {
    await pub.close();
    await sub.close();
  }
}

async function clusterEndpoint(bootstrap: string, name: string): Promise<Endpoint> {
  const admin = await WireConnection.open(bootstrap, 'tickbus-bench-admin');
  try {
    await admin.request({ type: 'CreateTopic', requestId: 0, name, partitions: 1, config: null, replicationFactor: 3, minInsync: 2 }, 'MetadataResult');
    // All three in the ISR, so acks 'all' waits for two followers, as in steady state.
    const end = Date.now() + 15_000;
    for (;;) {
      const md = await admin.request({ type: 'Metadata', requestId: 0, topics: [name] }, 'MetadataResult');
      const p = md.type === 'MetadataResult' ? md.topics[0]?.partitions[0] : undefined;
      if (p?.endpoint && p.isr?.length === 3) return { target: 'tickbus', mode: 'live', url: bootstrap, channel: name, partitions: 1, extra: { endpoints: [p.endpoint] } };
      if (Date.now() > end) throw new TargetError(`cluster topic '${name}' has no leader with a full ISR after 15 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await admin.close();
  }
}

export async function runReplicationBench(o: ReplicationOptions, progress: (line: string) => void = () => undefined): Promise<ReplicationPoint[]> {
  const points: ReplicationPoint[] = [];
  const point = (name: string, r: { count: number; ack: Histogram; deliver: Histogram }): void => {
    points.push({ name, count: r.count, ack: percentiles(r.ack), deliver: percentiles(r.deliver) });
  };

  progress('single node, acks leader');
  const single = await startTickbusServer({ mode: 'live' }, 'tickbus');
  try {
    const ep = await single.prepare({ name: 'bench-repl-single', mode: 'live', partitions: 1 });
    point('single node, acks leader', await measure(ep, 'leader', o));
  } finally {
    await single.stop();
  }

  progress('3-broker cluster (dev-cluster), RF 3, min.insync 2, acks all');
  const cluster = await startDevCluster({ brokers: 3 });
  try {
    const ep = await clusterEndpoint(cluster.brokers[0]!.url, 'bench-repl-all');
    point('3-broker cluster, acks all', await measure(ep, 'all', o));
  } finally {
    // The brokers' log lines (ISR shrinks and expands, elections) explain a tail: ask for them with this.
    if (process.env.TICKBUS_BENCH_CLUSTER_LOG) process.stderr.write(cluster.output());
    await cluster.stop();
  }
  return points;
}

const fmt = (us: number): string => (us >= 10_000 ? `${(us / 1_000).toFixed(1)} ms` : `${us} µs`);

export function replicationReport(points: ReplicationPoint[], o: ReplicationOptions): string {
  const [base, all] = points;
  const rows = points.map((p) => `| ${p.name} | ${p.count} | ${fmt(p.ack.p50)} | ${fmt(p.ack.p99)} | ${fmt(p.ack.p99_9)} | ${fmt(p.deliver.p50)} | ${fmt(p.deliver.p99)} | ${fmt(p.deliver.p99_9)} |`);
  const ratio = (k: keyof Percentiles, which: 'ack' | 'deliver'): string => (base && all ? `${(all[which][k] / Math.max(1, base[which][k])).toFixed(2)}×` : '-');
  return [
    `### acks all on a 3-broker cluster vs single-node acks leader (${o.rate} msg/s, ${o.size} B, ${o.durationMs / 1_000} s measured after ${o.warmupMs / 1_000} s)`,
    '',
    '| point | messages | ack p50 | ack p99 | ack p99.9 | deliver p50 | deliver p99 | deliver p99.9 |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    `| ratio (cluster / single) | | ${ratio('p50', 'ack')} | ${ratio('p99', 'ack')} | ${ratio('p99_9', 'ack')} | ${ratio('p50', 'deliver')} | ${ratio('p99', 'deliver')} | ${ratio('p99_9', 'deliver')} |`,
    '',
  ].join('\n');
}

/** `tickbus bench replication ...` */
export function runReplicationCli(argv: string[]): Promise<number> {
  return runRateCli('replication', argv, { parse: parseReplicationArgs, usage: USAGE, run: runReplicationBench, report: replicationReport });
}
