// Closed-loop probe: one message, wait for its delivery (and its ack), pause, next — alternating between
// targets message by message, so a noise burst on this shared 2-core VM hits every target alike.
// It also splits each trip into legs when the server stamps the payload (TICKBUS_PROBE_STAMPS=1):
//   payload  0  f64  probe send time
//           24  f64  server: message handler entered (relay) / Edge.onMessage entered (tickbus)
//           32  f64  tickbus: log append done            40  f64  tickbus: just before the Deliver is encoded and sent
//           48  f64  tickbus: onProduce entered (decode done)
//           56  f64  tickbus: writeSync started          64  f64  tickbus: writeSync done
// Every stamp is CLOCK_MONOTONIC in µs (process.hrtime), which is one clock for every process of the machine,
// unlike performance.timeOrigin (per process, ~1 ms apart). The relay stamps when the variable is set
// (targets/uws-relay-server.ts); the broker only with broker-stamps.patch applied to a scratch copy of the
// repository (measurement code stays out of the live path). Method and numbers: docs/latency.md. Usage:
//   TICKBUS_PROBE_STAMPS=1 node dist/bench/probes/closed-loop.js [count=3000] [pauseUs=1000] [targets=tickbus,uws-relay]
//   PROBE_ACKS=none|leader (tickbus's acks; default leader)
import { hrUs } from './hr-clock.js';
import { targetByName } from '../targets/registry.js';
import type { Publisher, RunningServer, TargetName } from '../targets/target.js';

const count = Number(process.argv[2] ?? 3000);
const pauseUs = Number(process.argv[3] ?? 1000);
const names = (process.argv[4] ?? 'tickbus,uws-relay').split(',') as TargetName[];
const acks = (process.env.PROBE_ACKS ?? 'leader') as 'none' | 'leader';
const SIZE = 100;

interface Lane {
  name: TargetName;
  server: RunningServer;
  pub: Publisher;
  close: () => Promise<void>;
  waitDeliver: (() => void) | null;
  waitAck: (() => void) | null;
  trip: number[];
  ack: number[];
  legs: number[][]; // [send→in, in→appended, appended→publish, publish→recv, in→produce, produce→write, write, write→appended]
}

const payload = new Uint8Array(SIZE);
const view = new DataView(payload.buffer);

async function lane(name: TargetName): Promise<Lane> {
  const t = targetByName(name);
  const server = await t.start({ mode: 'live' });
  const ep = await server.prepare({ name: `probe-${name}-${process.pid}`, mode: 'live', partitions: 1 });
  const l: Lane = { name, server, pub: null as unknown as Publisher, close: async () => undefined, waitDeliver: null, waitAck: null, trip: [], ack: [], legs: [[], [], [], [], [], [], [], []] };
  const sub = await t.client.connectSubscriber(ep, { from: 'latest' }, (bytes) => {
    const now = hrUs();
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const sent = v.getFloat64(0, true);
    l.trip.push(now - sent);
    const tin = v.getFloat64(24, true);
    const tapp = v.getFloat64(32, true);
    const tpub = v.getFloat64(40, true);
    if (tin > 0) {
      l.legs[0]!.push(tin - sent);
      if (tapp > 0) {
        l.legs[1]!.push(tapp - tin);
        l.legs[2]!.push(tpub - tapp);
        const tpr = v.getFloat64(48, true);
        const tws = v.getFloat64(56, true);
        const twe = v.getFloat64(64, true);
        l.legs[4]!.push(tpr - tin);
        l.legs[5]!.push(tws - tpr);
        l.legs[6]!.push(twe - tws);
        l.legs[7]!.push(tapp - twe);
      }
      l.legs[3]!.push(now - (tpub > 0 ? tpub : tin));
    }
    const w = l.waitDeliver;
    l.waitDeliver = null;
    w?.();
  });
  const pub = await t.client.connectPublisher(ep, {
    acks: name === 'tickbus' || name === 'tickbus-sdk' ? acks : 'none',
    partition: 0,
    onAck: () => {
      l.ack.push(hrUs() - sentAt);
      const w = l.waitAck;
      l.waitAck = null;
      w?.();
    },
  });
  l.pub = pub;
  l.close = async () => {
    await pub.close();
    await sub.close();
    await server.stop();
  };
  return l;
}

let sentAt = 0;

function spin(us: number): Promise<void> {
  // setTimeout(1) sleeps ≥ 1 ms; that is the pause the brief's closed loop used too.
  return new Promise((r) => setTimeout(r, Math.max(1, Math.round(us / 1000))));
}

async function one(l: Lane, seq: number): Promise<void> {
  payload.fill(0);
  const delivered = new Promise<void>((r) => (l.waitDeliver = r));
  const acked = l.pub.acknowledges ? new Promise<void>((r) => (l.waitAck = r)) : Promise.resolve();
  sentAt = hrUs();
  view.setFloat64(0, sentAt, true);
  view.setUint32(16, seq, true);
  l.pub.publish(payload, seq);
  await Promise.all([delivered, acked]);
}

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

const fmt = (x: number): string => (Number.isNaN(x) ? '–' : x.toFixed(1));

async function main(): Promise<void> {
  const lanes: Lane[] = [];
  for (const n of names) lanes.push(await lane(n));
  const warm = Math.min(500, Math.floor(count / 5));
  for (let i = 0; i < count + warm; i++) {
    if (i === warm) for (const l of lanes) { l.trip.length = 0; l.ack.length = 0; for (const x of l.legs) x.length = 0; }
    for (const l of lanes) {
      await one(l, i);
      await spin(pauseUs);
    }
  }
  console.log(`closed loop, ${count} messages per target, ${SIZE} B, pause ${pauseUs} µs, tickbus acks ${acks}; µs p50 / p90 / p99 / p99.9`);
  console.log('| target | trip | ack | send→server in | in→appended | appended→publish | publish→recv | in→produce (decode) | produce→write | writeSync | write→appended |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  const row = (xs: number[]): string => `${fmt(pct(xs, 50))} / ${fmt(pct(xs, 90))} / ${fmt(pct(xs, 99))} / ${fmt(pct(xs, 99.9))}`;
  for (const l of lanes) console.log(`| ${l.name} | ${row(l.trip)} | ${row(l.ack)} | ${l.legs.map(row).join(' | ')} |`);
  for (const l of lanes) await l.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
