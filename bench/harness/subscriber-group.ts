// The subscribers of one run, wherever they live: in the publisher's thread (one subscriber: same clock,
// no thread hop, no extra wakeup) or spread over worker threads (fanout: one receiving thread would be the
// bottleneck we measured; with `ws` one topped out near 150-200k deliveries/s).
import { Worker } from 'node:worker_threads';
import { TargetError, withTimeout } from '../errors.js';
import type { Endpoint, Subscriber, SubscriberOptions, TargetClient } from '../targets/target.js';
import { nowUs } from './clock.js';
import { benchEntry } from './entry-path.js';
import { LatencyRecorder, type RecorderSnapshot, type RunLayout } from './latency-recorder.js';
import type { FromWorker, SubscriberWorkerData, ToWorker } from './worker-messages.js';

export interface SubscriberGroup {
  /** Measured deliveries so far (from workers: as of their last report, ≤ 200 ms old). */
  received(): number;
  warmupReceived(): number;
  /** Closes every subscriber and returns what each recorder saw. */
  finish(): Promise<RecorderSnapshot[]>;
}

export interface SubscriberGroupOptions {
  client: TargetClient;
  endpoint: Endpoint;
  count: number;
  options: SubscriberOptions;
  layout: RunLayout;
  /** 0: in this thread. N > 0: spread over N worker threads. */
  threads: number;
}

export async function startSubscribers(o: SubscriberGroupOptions): Promise<SubscriberGroup> {
  return o.threads <= 0 ? startInline(o) : startInWorkers(o);
}

async function startInline(o: SubscriberGroupOptions): Promise<SubscriberGroup> {
  const recorder = new LatencyRecorder(o.layout);
  const subs: Subscriber[] = [];
  try {
    for (let i = 0; i < o.count; i++) {
      const idx = recorder.addSubscriber();
      subs.push(await o.client.connectSubscriber(o.endpoint, o.options, (b) => recorder.record(idx, b, nowUs())));
    }
  } catch (err) {
    await Promise.allSettled(subs.map((s) => s.close()));
    throw err;
  }
  return {
    received: () => recorder.received,
    warmupReceived: () => recorder.warmupReceived,
    finish: async () => {
      const snap = recorder.snapshot();
      await Promise.allSettled(subs.map((s) => s.close()));
      return [snap];
    },
  };
}

interface WorkerSlot {
  worker: Worker;
  received: number;
  warmupReceived: number;
  result: Promise<RecorderSnapshot>;
  exited: Promise<void>;
}

async function startInWorkers(o: SubscriberGroupOptions): Promise<SubscriberGroup> {
  const threads = Math.min(o.threads, o.count);
  const entry = benchEntry('harness/subscriber-worker');
  const slots: WorkerSlot[] = [];
  const readies: Promise<void>[] = [];
  for (let t = 0; t < threads; t++) {
    const share = Math.floor(o.count / threads) + (t < o.count % threads ? 1 : 0);
    const data: SubscriberWorkerData = { endpoint: o.endpoint, subscribers: share, options: o.options, layout: o.layout, connectConcurrency: 16 };
    const worker = new Worker(entry, { workerData: data });
    let resolveReady!: () => void;
    let rejectAll!: (e: Error) => void;
    let resolveResult!: (s: RecorderSnapshot) => void;
    const ready = new Promise<void>((res, rej) => {
      resolveReady = res;
      rejectAll = rej;
    });
    const result = new Promise<RecorderSnapshot>((res, rej) => {
      resolveResult = res;
      const prev = rejectAll;
      rejectAll = (e) => {
        prev(e);
        rej(e);
      };
    });
    result.catch(() => undefined);
    const slot: WorkerSlot = {
      worker,
      received: 0,
      warmupReceived: 0,
      result,
      exited: new Promise((res) => worker.once('exit', () => res())),
    };
    worker.on('message', (m: FromWorker) => {
      switch (m.type) {
        case 'ready':
          return resolveReady();
        case 'count':
          slot.received = m.received;
          slot.warmupReceived = m.warmupReceived;
          return;
        case 'result':
          slot.received = m.snapshot.received;
          return resolveResult(m.snapshot);
        case 'error':
          return rejectAll(new TargetError(`subscriber thread: ${m.message}`));
      }
    });
    worker.on('error', (err) => rejectAll(new TargetError(`subscriber thread crashed: ${err.message}`, { cause: err })));
    worker.once('exit', (code) => rejectAll(new TargetError(`subscriber thread exited (code ${code}) before reporting`)));
    slots.push(slot);
    readies.push(ready);
  }
  const stopAll = async (): Promise<void> => {
    await Promise.allSettled(slots.map((s) => s.worker.terminate()));
  };
  try {
    await withTimeout(Promise.all(readies), 60_000 + o.count * 50, `connecting ${o.count} subscribers`);
  } catch (err) {
    await stopAll();
    throw err;
  }
  return {
    received: () => slots.reduce((n, s) => n + s.received, 0),
    warmupReceived: () => slots.reduce((n, s) => n + s.warmupReceived, 0),
    finish: async () => {
      for (const s of slots) s.worker.postMessage({ type: 'finish' } satisfies ToWorker);
      try {
        const snaps = await withTimeout(Promise.all(slots.map((s) => s.result)), 30_000, 'subscriber threads reporting');
        await withTimeout(Promise.all(slots.map((s) => s.exited)), 10_000, 'subscriber threads exiting').catch(stopAll);
        return snaps;
      } catch (err) {
        await stopAll();
        throw err;
      }
    },
  };
}
