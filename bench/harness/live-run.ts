// One measured point of a live scenario (latency, fanout, durable): subscribers up, publishers up,
// warm-up then measured messages on the open-loop timetable, a bounded drain, then the numbers.
import { errorMessage, withTimeout } from '../errors.js';
import { blankRunRecord, type RunRecord } from '../report/run-record.js';
import type { Acks, LoadScenario, Mode, Publisher, RunningServer, Target } from '../targets/target.js';
import { nowUs, sleep } from './clock.js';
import { cpuBetween, cpuMark, type CpuShare } from './cpu.js';
import { type Histogram, mergeSnapshots, newHistogram, type RunLayout } from './latency-recorder.js';
import { PayloadStamper } from './payload.js';
import { percentiles, spectrum } from './percentiles.js';
import type { Progress } from './progress.js';
import { judgeSaturation } from './saturation.js';
import { startSubscribers, type SubscriberGroup } from './subscriber-group.js';
import { runTimetable } from './timetable.js';
import { WakeTimer } from './wake-timer.js';

export interface PointSpec {
  scenario: LoadScenario;
  mode: Mode;
  acks: Acks;
  rate: number;
  size: number;
  durationS: number;
  warmupS: number;
  subscribers: number;
  publishers: number;
  partitions: number;
  /** 0: subscribers in the publisher's thread; N: spread over N worker threads. */
  subscriberThreads: number;
  /** Longest wait for deliveries after the last send. */
  drainTimeoutS: number;
}

let channelSeq = 0;

/** What one segment of a point measured: raw histograms and counts, merged over rounds by summarizeLive. */
export interface LiveSegment {
  sent: number;
  expected: number;
  received: number;
  acked: number;
  acknowledges: boolean;
  minPerSubscriber: number;
  intended: Histogram;
  actual: Histogram;
  lag: Histogram;
  ackIntended: Histogram;
  ackActual: Histogram;
  windowMeanUs: number[];
  sendSpanS: number;
  recvSpanS: number;
  truncated: boolean;
  cpu: CpuShare;
  error: string | null;
}

/**
 * Runs one segment of a point: fresh channel, subscribers, publishers, warm-up + measured messages on the
 * timetable, bounded drain. Noise on this VM comes in bursts of milliseconds, so a point is measured as
 * several short segments interleaved across targets (rounds), merged by summarizeLive.
 */
export async function runLiveSegment(target: Target, server: RunningServer, spec: PointSpec, progress: Progress, label: string): Promise<LiveSegment> {
  const warmupCount = Math.round(spec.rate * spec.warmupS);
  const measuredCount = Math.max(1, Math.round(spec.rate * spec.durationS));
  const perWindow = Math.max(1, Math.round(spec.rate * 0.25));
  const layout: RunLayout = { firstMeasuredSeq: warmupCount, perWindow, windows: Math.ceil(measuredCount / perWindow) };

  const ep = await server.prepare({ name: `bench-${spec.scenario}-${process.pid}-${++channelSeq}`, mode: spec.mode, partitions: spec.partitions });
  let subs: SubscriberGroup | null = null;
  let waker: WakeTimer | null = null;
  const pubs: Publisher[] = [];
  try {
    subs = await startSubscribers({
      client: target.client,
      endpoint: ep,
      count: spec.subscribers,
      options: { from: 'latest' },
      layout,
      threads: spec.subscriberThreads,
    });

    // Acks: the intended and actual send time of each measured message, so an ack can be timed.
    const sentIntended = new Float64Array(measuredCount);
    const sentActual = new Float64Array(measuredCount);
    const ackIntended = newHistogram();
    const ackActual = newHistogram();
    let acked = 0;
    // Set by onError, a callback: the cast keeps the compiler from narrowing it to null for the whole function.
    let failure = null as Error | null;
    const onAck = (seq: number): void => {
      const i = seq - warmupCount;
      if (i < 0 || i >= measuredCount) return;
      const now = nowUs();
      ackIntended.recordValue(Math.max(0, Math.round(now - sentIntended[i]!)));
      ackActual.recordValue(Math.max(0, Math.round(now - sentActual[i]!)));
      acked++;
    };
    const onError = (err: Error): void => {
      failure ??= err;
    };
    for (let p = 0; p < spec.publishers; p++) {
      pubs.push(await target.client.connectPublisher(ep, { acks: spec.acks, partition: p % spec.partitions, onAck, onError }));
    }
    const acknowledges = pubs.every((p) => p.acknowledges);

    const stamper = new PayloadStamper(spec.size);
    let sentMeasured = 0;
    progress.begin({
      label,
      plannedS: spec.warmupS + spec.durationS,
      startedAtMs: Date.now(),
      sent: () => sentMeasured,
      received: () => subs!.received(),
    });
    // Subscribers in worker threads: nothing in this thread needs it turning between sends (timetable.ts).
    if (spec.subscriberThreads > 0) waker = await WakeTimer.start();
    const cpu0 = cpuMark(server.pids);
    const P = pubs.length;
    const tt = await runTimetable({
      ...(waker && { waker }),
      rate: spec.rate,
      count: warmupCount + measuredCount,
      aborted: () => failure !== null,
      send: (seq, intended, actual) => {
        const measured = seq >= warmupCount;
        if (measured) {
          const i = seq - warmupCount;
          sentIntended[i] = intended;
          sentActual[i] = actual;
          sentMeasured++;
        }
        pubs[seq % P]!.publish(stamper.stamp(seq, intended, actual, measured), seq);
      },
    });

    // Drain: until every delivery (and ack) is in, nothing arrives for 2 s, or the drain timeout.
    const expected = sentMeasured * spec.subscribers;
    const drainEnd = Date.now() + spec.drainTimeoutS * 1000;
    let last = -1;
    let lastChangeMs = Date.now();
    while (Date.now() < drainEnd && failure === null) {
      if (subs.received() >= expected && (!acknowledges || acked >= sentMeasured)) break;
      // Warm-up deliveries count as progress: a saturated target may still be working through them.
      const got = subs.received() + subs.warmupReceived() + acked;
      if (got !== last) {
        last = got;
        lastChangeMs = Date.now();
      } else if (Date.now() - lastChangeMs > 2000) break;
      await sleep(20);
    }
    const cpu1 = cpuMark(server.pids);
    progress.end();

    const snaps = await subs.finish();
    subs = null;
    const merged = mergeSnapshots(snaps);
    const firstMeasuredUs = tt.startUs + (warmupCount * 1e6) / spec.rate;
    const intervalS = 1 / spec.rate;
    return {
      sent: sentMeasured,
      expected,
      received: merged.received,
      acked,
      acknowledges,
      minPerSubscriber: merged.minPerSubscriber,
      intended: merged.intended,
      actual: merged.actual,
      lag: tt.lag,
      ackIntended,
      ackActual,
      windowMeanUs: merged.windowMeanUs,
      sendSpanS: Math.max(intervalS, (tt.lastSendUs - firstMeasuredUs) / 1e6 + intervalS),
      recvSpanS: merged.received > 0 ? Math.max(intervalS, (merged.lastRecvUs - firstMeasuredUs) / 1e6) : 0,
      truncated: tt.truncated,
      cpu: cpuBetween(cpu0, cpu1),
      error: failure ? errorMessage(failure) : null,
    };
  } finally {
    progress.end();
    await waker?.close();
    if (subs) await subs.finish().catch(() => undefined);
    await Promise.allSettled(pubs.map((p) => withTimeout(p.close(), 5000, 'closing a publisher')));
    await server.release?.(ep).catch(() => undefined);
  }
}

/** Merges the segments (rounds) of one point into its record. */
export function summarizeLive(target: Target, server: RunningServer, spec: PointSpec, segments: LiveSegment[]): RunRecord {
  const record = emptyRecord(target, server, { ...spec, durationS: spec.durationS * segments.length });
  const intended = newHistogram();
  const actual = newHistogram();
  const lag = newHistogram();
  const ackI = newHistogram();
  const ackA = newHistogram();
  let sent = 0;
  let received = 0;
  let acked = 0;
  let sendSpan = 0;
  let recvSpan = 0;
  let minPerSum = 0;
  let truncated = false;
  let harnessCpu = 0;
  let serverCpu = 0;
  const acknowledges = segments.length > 0 && segments.every((s) => s.acknowledges);
  const errors: string[] = [];
  let verdict: string | null = null;
  for (const s of segments) {
    intended.add(s.intended);
    actual.add(s.actual);
    lag.add(s.lag);
    ackI.add(s.ackIntended);
    ackA.add(s.ackActual);
    sent += s.sent;
    received += s.received;
    acked += s.acked;
    sendSpan += s.sendSpanS;
    recvSpan += s.recvSpanS;
    minPerSum += s.minPerSubscriber;
    truncated ||= s.truncated;
    harnessCpu += s.cpu.harness_pct;
    serverCpu += s.cpu.server_pct;
    if (s.error) errors.push(s.error);
    // A point is saturated when any of its segments is (judged per segment: windows are per segment).
    verdict ??= judgeSaturation({
      rate: spec.rate,
      sendRate: s.sent / s.sendSpanS,
      perSubscriberRate: s.recvSpanS > 0 ? s.received / s.recvSpanS / spec.subscribers : 0,
      expected: s.expected,
      received: s.received,
      truncated: s.truncated,
      windowMeanUs: s.windowMeanUs,
      ackExpected: s.acknowledges ? s.sent : 0,
      acked: s.acked,
    });
  }
  record.sent = sent;
  record.received = received;
  record.send_rate = sendSpan > 0 ? Math.round(sent / sendSpan) : 0;
  record.delivery_rate = recvSpan > 0 ? Math.round(received / recvSpan) : 0;
  record.achieved_rate = Math.round(record.delivery_rate / spec.subscribers);
  record.latency_us = percentiles(intended);
  record.latency_actual_us = percentiles(actual);
  record.spectrum_us = spectrum(intended);
  record.send_lag_us = percentiles(lag);
  record.min_per_subscriber = minPerSum;
  record.cpu = segments.length ? { harness_pct: Math.round(harnessCpu / segments.length), server_pct: Math.round(serverCpu / segments.length) } : null;
  if (acknowledges) {
    record.acked = acked;
    record.ack_latency_us = percentiles(ackI);
    record.ack_latency_actual_us = percentiles(ackA);
  }
  record.saturated = verdict !== null;
  record.saturation_reason = verdict;
  record.error = errors.length ? errors.join('; ') : null;
  return record;
}

export function emptyRecord(target: Target, server: RunningServer | null, spec: Omit<PointSpec, 'subscriberThreads' | 'drainTimeoutS'>): RunRecord {
  return blankRunRecord({
    target: target.name,
    scenario: spec.scenario,
    rate: spec.rate,
    size: spec.size,
    subscribers: spec.subscribers,
    mode: spec.mode,
    acks: spec.acks,
    publishers: spec.publishers,
    partitions: spec.partitions,
    duration_s: spec.durationS,
    warmup_s: spec.warmupS,
    server: server ? `${server.version}; ${target.describe(spec.mode, spec.acks)}` : target.describe(spec.mode, spec.acks),
  });
}
