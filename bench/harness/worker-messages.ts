// Every message between the harness's main thread and a subscriber worker, typed in one place.
// Errors cross as data ({ message }): an Error subclass loses its class through postMessage.
import type { Endpoint, SubscriberOptions } from '../targets/target.js';
import type { RecorderSnapshot, RunLayout } from './latency-recorder.js';

export interface SubscriberWorkerData {
  endpoint: Endpoint;
  subscribers: number;
  options: SubscriberOptions;
  layout: RunLayout;
  /** Subscriptions opened at once while connecting. */
  connectConcurrency: number;
}

export interface ToWorker { type: 'finish' }

export type FromWorker =
  | { type: 'ready' }
  | { type: 'count'; received: number; warmupReceived: number }
  | { type: 'result'; snapshot: RecorderSnapshot }
  | { type: 'error'; message: string };
