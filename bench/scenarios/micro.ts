// Scenario `micro`: tinybench microbenchmarks of the pieces on the live path, and of the harness itself
// (what it costs per message, and how well its timetable holds against a publisher that does nothing).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Bench } from 'tinybench';
import { crc32c } from '../../schemas/crc32c.js';
import { decodeFrame, encodeFrame, encodeFrameView } from '../../schemas/frames.js';
import { encodeBatch, stampBatch } from '../../schemas/record-batch.js';
import { errorMessage } from '../errors.js';
import { nowUs } from '../harness/clock.js';
import { benchEntry } from '../harness/entry-path.js';
import { LatencyRecorder } from '../harness/latency-recorder.js';
import { PayloadStamper } from '../harness/payload.js';
import { percentiles } from '../harness/percentiles.js';
import { runTimetable } from '../harness/timetable.js';
import type { MicroRecord } from '../report/run-record.js';
import type { ScenarioContext } from './context.js';

export async function microScenario(ctx: ScenarioContext): Promise<void> {
  const quick = ctx.options.quick;
  const size = ctx.options.size;
  const bench = new Bench({ time: quick ? 100 : 1000, warmupTime: quick ? 20 : 200 });
  const notes = new Map<string, string>();
  const add = (name: string, note: string, fn: () => unknown): void => {
    notes.set(name, note);
    bench.add(name, fn);
  };

  const payload = new Uint8Array(size).fill(7);
  const batch = encodeBatch([{ value: payload }]);
  const produce = encodeFrame({ type: 'Produce', requestId: 1, topic: 'bench', partition: 0, acks: 'leader', batch });
  const deliver = encodeFrame({ type: 'Deliver', topic: 'bench', partition: 0, highWatermark: 1, live: true, batches: batch });
  add('frame encode Produce (view)', `${size} B record, shared builder`, () => encodeFrameView({ type: 'Produce', requestId: 1, topic: 'bench', partition: 0, acks: 'leader', batch }));
  add('frame decode Produce', 'views into the input, no copy of the batch', () => decodeFrame(produce));
  add('frame decode Deliver', 'views into the input', () => decodeFrame(deliver));
  add('record batch encode (1 record)', `encodeBatch, ${size} B value`, () => encodeBatch([{ value: payload }]));
  let off = 0;
  add('record batch stamp', 'stampBatch: offset, epoch, append time + stamp CRC', () => stampBatch(batch, 0, off++, 1, 1_700_000_000_000_000));
  add(`crc32c ${batch.length} B`, 'the record CRC a producer computes per batch', () => crc32c(batch, 32, batch.length));

  const stamper = new PayloadStamper(size);
  const rec = new LatencyRecorder({ firstMeasuredSeq: 0, perWindow: 1000, windows: 1000 });
  const sub = rec.addSubscriber();
  let seq = 0;
  add('harness: clock read', 'performance.timeOrigin + performance.now()', () => nowUs());
  add('harness: stamp payload', 'per message on the publisher', () => stamper.stamp(seq++, 1, 2, true));
  const stamped = stamper.stamp(1, nowUs(), nowUs(), true);
  add('harness: record delivery', 'per delivery on a subscriber: 2 HdrHistogram records + window', () => rec.record(sub, stamped, nowUs()));

  const cleanups: (() => Promise<void>)[] = [];
  await addLogAppend(bench, notes, batch, cleanups).catch((err: unknown) => ctx.progress.note(`  micro: log append skipped (${errorMessage(err)})`));
  const echo = new Worker(benchEntry('scenarios/micro-echo-worker'));
  cleanups.push(async () => {
    echo.postMessage('stop');
    await new Promise((r) => echo.once('exit', r));
  });
  await new Promise<void>((resolve) => {
    echo.once('online', () => resolve());
  });
  let nonce = 0;
  notes.set('thread hop: main ↔ worker postMessage round trip', 'back to back (the worker stays awake); an idle worker adds a wakeup (~60 µs here)');
  bench.add('thread hop: main ↔ worker postMessage round trip', () =>
    new Promise<void>((resolve) => {
      echo.once('message', () => resolve());
      echo.postMessage(nonce++);
    }),
  );

  ctx.progress.note(`micro: ${bench.tasks.length} tinybench tasks, ${quick ? 0.1 : 1} s each`);
  try {
    await bench.run();
  } finally {
    for (const c of cleanups) await c().catch(() => undefined);
  }
  for (const t of bench.tasks) {
    const r = t.result;
    if (!r || !('latency' in r)) continue;
    const lat = r.latency;
    const record: MicroRecord = {
      name: t.name,
      ops_per_s: Math.round(r.throughput.mean),
      mean_ns: Math.round(lat.mean * 1e6),
      p50_ns: Math.round((lat.p50 ?? lat.mean) * 1e6),
      p99_ns: Math.round((lat.p99 ?? lat.mean) * 1e6),
      samples: lat.samples.length,
      note: notes.get(t.name) ?? '',
    };
    ctx.micro.push(record);
    ctx.progress.note(`  ${record.name.padEnd(50)} ${String(record.ops_per_s).padStart(10)} ops/s  p50 ${record.p50_ns} ns  p99 ${record.p99_ns} ns`);
  }

  // The timetable against a publisher that does nothing: the lag left is the harness's (and the VM's) own.
  for (const rate of quick ? [10_000] : [1_000, 10_000, 50_000]) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const tt = await runTimetable({ rate, count: Math.round(rate * (quick ? 0.3 : 2)), send: () => undefined });
    const cpu = process.cpuUsage(c0);
    const lag = percentiles(tt.lag);
    const cpuPct = Math.round((100 * (cpu.user + cpu.system)) / 1000 / (performance.now() - t0));
    const record: MicroRecord = {
      name: `harness: timetable lag at ${rate} msg/s, no-op publisher`,
      ops_per_s: rate,
      mean_ns: Math.round(tt.lag.mean * 1000),
      p50_ns: lag.p50 * 1000,
      p99_ns: lag.p99 * 1000,
      samples: tt.sent,
      note: `actual - intended send time; p99.9 ${lag.p99_9} µs, max ${lag.max} µs; CPU ${cpuPct} % of one core`,
    };
    ctx.micro.push(record);
    ctx.progress.note(`  ${record.name.padEnd(50)} lag p50 ${lag.p50} µs  p99 ${lag.p99} µs  p99.9 ${lag.p99_9} µs  max ${lag.max} µs  CPU ${cpuPct} %`);
  }
}

/** PartitionLog.append of one 1-record batch (page cache write + sparse index), fsync policy 'os'. */
async function addLogAppend(bench: Bench, notes: Map<string, string>, batch: Uint8Array, cleanups: (() => Promise<void>)[]): Promise<void> {
  const mod = await import('../../broker/log/partition-log.js');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickbus-bench-log-'));
  const log = mod.PartitionLog.open(dir, { fsync: 'os' });
  cleanups.push(async () => {
    log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const name = 'log append (1 record, page cache)';
  notes.set(name, 'PartitionLog.append: check, stamp, write to the active segment; no fsync');
  const buf = batch.slice();
  bench.add(name, () => {
    log.append(buf, 0, buf.length, 1, Date.now() * 1000);
  });
  const flushName = 'log append + flush (fdatasync)';
  notes.set(flushName, 'one record appended then PartitionLog.flush(): the durable ack floor');
  bench.add(flushName, async () => {
    log.append(buf, 0, buf.length, 1, Date.now() * 1000);
    await log.flush();
  });
}
