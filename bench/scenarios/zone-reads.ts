// `tickbus bench zone-reads`: what reading from the nearest replica costs (issue 13, zone-aware reads).
// One run on a local 3-broker dev-cluster (zones z1..z3, own etcd), one topic of replication factor 3:
// a producer at a fixed rate (acks 'all'), and two committed subscribers started together — one with no
// zone (the leader serves it) and one in a follower's zone (that follower serves it, Subscribe.fromReplica).
// Reported side by side: produce→deliver latency for each, and the follower's staleness two ways:
//   - per record, how much later the follower-served subscriber got it than the leader-served one;
//   - the high-watermark lag in records (leader HW − follower HW), sampled from both brokers' /metrics
//     every 20 ms (two HTTP reads a few hundred µs apart: an upper bound at the scale of a batch).
// A follower learns the HW from the leader's next frame after the commit (a batch, or the HW-only
// Deliver the leader sends when its HW moves), so the extra delay is about one replication round trip.
import { connect, type Bus, type Subscription } from '../../client/index.js';
import { TargetError } from '../errors.js';
import { partitionGauge } from '../harness/broker-metrics.js';
import { sleep } from '../harness/clock.js';
import { startDevCluster } from '../harness/dev-cluster.js';
import { type Histogram, newHistogram } from '../harness/latency-recorder.js';
import { sendPaced } from '../harness/paced-sender.js';
import { type Percentiles, percentiles } from '../harness/percentiles.js';
import { parseRateArgs, type RateOptions, runRateCli } from './rate-args.js';

export type ZoneReadsOptions = RateOptions;

export interface ZoneReadsResult {
  count: number;
  leaderId: number;
  followerId: number;
  /** produce→deliver, µs. */
  leader: Percentiles;
  follower: Percentiles;
  /** Follower-served delivery minus leader-served delivery of the same record, µs (records the follower got first count as 1 µs). */
  extraDelay: Percentiles;
  /** Leader HW − follower HW in records, sampled from /metrics. */
  hwLag: Percentiles;
  hwSamples: number;
  /** Resubscribes of the follower-served subscription during the run (0: it stayed on the follower). */
  moves: number;
}

const USAGE = `
Usage: tickbus bench zone-reads [--rate N] [--duration S] [--warmup S] [--size B]

Starts a local 3-broker cluster (dev-cluster, zones z1..z3, own etcd), a topic with replication factor 3,
a producer with acks 'all', and two committed subscribers: one read from the leader, one from the follower
in its zone (connect({ zone })). Prints produce→deliver p50/p99/p99.9 for both and the follower's staleness
(extra delay per record, high-watermark lag in records).
  --rate N       messages per second                  [1000]
  --duration S   measured seconds                     [5]
  --warmup S     unmeasured seconds before it         [1]
  --size B       payload bytes (at least 8)           [100]
`;

export function parseZoneReadsArgs(argv: string[]): ZoneReadsOptions | null {
  return parseRateArgs(argv, { rate: 1_000, durationMs: 5_000, warmupMs: 1_000, size: 100 }, USAGE);
}

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new TargetError(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

export async function runZoneReadsBench(o: ZoneReadsOptions, progress: (line: string) => void = () => undefined): Promise<ZoneReadsResult> {
  progress('starting a 3-broker dev-cluster');
  const cluster = await startDevCluster({ brokers: 3 });
  const buses: Bus[] = [];
  const open = async (zone?: string): Promise<Bus> => {
    const b = await connect({ brokers: cluster.brokers.map((x) => x.url), clientId: 'bench-zone-reads', ...(zone ? { zone } : {}) });
    buses.push(b);
    return b;
  };
  try {
    const topic = 'bench-zone-reads';
    const producer = await open();
    await producer.admin.createTopic(topic, { partitions: 1, replicationFactor: 3, minInsync: 2 });
    let leaderId = -1;
    let followerId = -1;
    await until(async () => {
      const d = await producer.admin.describeTopic(topic);
      const p = d.partitions[0];
      if (p?.isr.length !== 3 || p.leaderId < 0) return false;
      leaderId = p.leaderId;
      followerId = p.replicas.find((id) => id !== leaderId)!;
      return true;
    }, 'a leader with all three replicas in sync');
    const leaderBroker = cluster.brokers.find((b) => b.nodeId === leaderId)!;
    const followerBroker = cluster.brokers.find((b) => b.nodeId === followerId)!;
    progress(`leader broker ${leaderId}, follower-read subscriber in zone ${followerBroker.zone}`);

    const total = Math.ceil((o.rate * (o.warmupMs + o.durationMs)) / 1_000);
    const warm = Math.ceil((o.rate * o.warmupMs) / 1_000);
    const sentAt = new Float64Array(total);
    const side = (sub: Subscription) => {
      const at = new Float64Array(total).fill(-1);
      const h = newHistogram();
      let n = 0;
      sub.on('record', (r) => {
        const v = r.value!;
        const seq = new DataView(v.buffer, v.byteOffset, 4).getUint32(0, true);
        if (seq >= total || at[seq]! >= 0) return;
        const now = performance.now();
        at[seq] = now;
        n++;
        if (seq >= warm) h.recordValue(Math.max(1, Math.round((now - sentAt[seq]!) * 1_000)));
      });
      return { at, h, count: () => n };
    };
    const leaderSub = (await open()).subscribe(topic, { partitions: [0], from: 'earliest' });
    const followerSub = (await open(followerBroker.zone)).subscribe(topic, { partitions: [0], from: 'earliest' });
    const L = side(leaderSub);
    const F = side(followerSub);
    await until(() => leaderSub.readsFrom(0) !== null && followerSub.readsFrom(0)?.fromReplica === true, 'both subscriptions placed (the zoned one on the follower)');
    // 'earliest' on the new, empty topic: both get every record, however late their SubscribeOk comes.

    const hwLag = newHistogram();
    let hwSamples = 0;
    const sampling = { on: true };
    const sampler = (async () => {
      while (sampling.on) {
        const [lh, fh] = await Promise.all([
          partitionGauge(leaderBroker, 'tickbus_partition_high_watermark', topic, 0),
          partitionGauge(followerBroker, 'tickbus_partition_high_watermark', topic, 0),
        ]);
        if (lh !== null && fh !== null) {
          hwLag.recordValue(Math.max(0, lh - fh) + 1); // +1: HdrHistogram's lowest value is 1; subtracted in the report
          hwSamples++;
        }
        await sleep(20);
      }
    })();

    progress(`sending ${total} messages at ${o.rate}/s with acks all`);
    let failure = null as Error | null;
    await sendPaced({
      rate: o.rate,
      size: o.size,
      sentAt,
      send: (payload) => {
        producer.send(topic, [{ value: payload.slice() }], { partition: 0, acks: 'all' }).catch((err: unknown) => {
          failure ??= err instanceof Error ? err : new TargetError(String(err));
        });
      },
      failure: () => failure,
    });
    await until(() => L.count() >= total && F.count() >= total, `both subscribers to receive ${total} records (leader ${L.count()}, follower ${F.count()})`, 15_000);
    sampling.on = false;
    await sampler;

    const extra: Histogram = newHistogram();
    for (let s = warm; s < total; s++) extra.recordValue(Math.max(1, Math.round((F.at[s]! - L.at[s]!) * 1_000)));
    const lag = percentiles(hwLag);
    const minus1 = (p: Percentiles): Percentiles => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, Math.max(0, v - 1)])) as unknown as Percentiles;
    return {
      count: total - warm,
      leaderId,
      followerId,
      leader: percentiles(L.h),
      follower: percentiles(F.h),
      extraDelay: percentiles(extra),
      hwLag: minus1(lag),
      hwSamples,
      moves: followerSub.stats.resubscribes,
    };
  } finally {
    await Promise.allSettled(buses.map((b) => b.close()));
    await cluster.stop();
  }
}

const fmt = (us: number): string => (us >= 10_000 ? `${(us / 1_000).toFixed(1)} ms` : `${us} µs`);

export function zoneReadsReport(r: ZoneReadsResult, o: ZoneReadsOptions): string {
  return [
    `### Reading from the follower in the consumer's zone vs from the leader (${o.rate} msg/s, ${o.size} B, acks all, ${o.durationMs / 1_000} s measured after ${o.warmupMs / 1_000} s)`,
    '',
    '| subscriber | messages | deliver p50 | deliver p99 | deliver p99.9 | max |',
    '| --- | --- | --- | --- | --- | --- |',
    `| leader (broker ${r.leaderId}) | ${r.count} | ${fmt(r.leader.p50)} | ${fmt(r.leader.p99)} | ${fmt(r.leader.p99_9)} | ${fmt(r.leader.max)} |`,
    `| follower in its zone (broker ${r.followerId}) | ${r.count} | ${fmt(r.follower.p50)} | ${fmt(r.follower.p99)} | ${fmt(r.follower.p99_9)} | ${fmt(r.follower.max)} |`,
    '',
    '| staleness of the follower | p50 | p99 | p99.9 | max |',
    '| --- | --- | --- | --- | --- |',
    `| extra delay per record (follower − leader delivery) | ${fmt(r.extraDelay.p50)} | ${fmt(r.extraDelay.p99)} | ${fmt(r.extraDelay.p99_9)} | ${fmt(r.extraDelay.max)} |`,
    `| HW lag, records (${r.hwSamples} samples of /metrics) | ${r.hwLag.p50} | ${r.hwLag.p99} | ${r.hwLag.p99_9} | ${r.hwLag.max} |`,
    '',
    `The follower-read subscription moved ${r.moves} time(s) during the run (0: the follower served it throughout).`,
    '',
  ].join('\n');
}

/** `tickbus bench zone-reads ...` */
export function runZoneReadsCli(argv: string[]): Promise<number> {
  return runRateCli('zone-reads', argv, { parse: parseZoneReadsArgs, usage: USAGE, run: runZoneReadsBench, report: zoneReadsReport });
}
