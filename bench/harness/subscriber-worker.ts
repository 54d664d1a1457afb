// A subscriber thread: opens its share of a run's subscribers, counts and timestamps every delivery
// (a few field reads and two histogram records; nothing is decoded beyond finding the payload),
// reports counts 5× a second and its histograms when told to finish. Holds only `ws`/TCP clients,
// never a uWS app, so ending the thread is always clean.
import { parentPort, workerData } from 'node:worker_threads';
import { targetByName } from '../targets/registry.js';
import type { Subscriber } from '../targets/target.js';
import { nowUs } from './clock.js';
import { LatencyRecorder } from './latency-recorder.js';
import type { FromWorker, SubscriberWorkerData, ToWorker } from './worker-messages.js';

const port = parentPort;
if (!port) throw new Error('subscriber-worker.js runs only as a worker thread');
const data = workerData as SubscriberWorkerData;
const post = (m: FromWorker): void => port.postMessage(m);

const recorder = new LatencyRecorder(data.layout);
const subs: Subscriber[] = [];
let ticker: NodeJS.Timeout | null = null;

async function connectAll(): Promise<void> {
  const client = targetByName(data.endpoint.target).client;
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < data.subscribers) {
      next++;
      const idx = recorder.addSubscriber();
      subs.push(await client.connectSubscriber(data.endpoint, data.options, (b) => recorder.record(idx, b, nowUs())));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, data.connectConcurrency) }, lane));
}

async function finish(): Promise<void> {
  if (ticker) clearInterval(ticker);
  const snapshot = recorder.snapshot();
  await Promise.allSettled(subs.map((s) => s.close()));
  post({ type: 'result', snapshot });
  port!.close();
}

port.on('message', (m: ToWorker) => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- one kind today; a new kind must not finish the worker
  if (m.type === 'finish') void finish();
});

connectAll().then(
  () => {
    ticker = setInterval(() => post({ type: 'count', received: recorder.received, warmupReceived: recorder.warmupReceived }), 200);
    post({ type: 'ready' });
  },
  async (err: unknown) => {
    await Promise.allSettled(subs.map((s) => s.close()));
    post({ type: 'error', message: err instanceof Error ? err.message : String(err) });
    port.close();
  },
);
