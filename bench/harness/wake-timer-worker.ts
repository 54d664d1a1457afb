// The wake timer's thread (wake-timer.ts): sleeps in a futex until the time it was asked for, then posts
// one message to the harness's main thread. It never runs an event loop: it only blocks and posts.
import { parentPort, workerData } from 'node:worker_threads';
import { nowUs } from './clock.js';
import { CTL_REQUEST, CTL_STOP, type WakeTimerWorkerData } from './wake-timer.js';

const port = parentPort;
if (!port) throw new Error('wake-timer-worker.js runs only as a worker thread');
const { shared } = workerData as WakeTimerWorkerData;
const ctl = new Int32Array(shared, 0, 2);
const at = new Float64Array(shared, 8, 1);

port.postMessage('ready');
let seen = 0;
for (;;) {
  Atomics.wait(ctl, CTL_REQUEST, seen);
  seen = Atomics.load(ctl, CTL_REQUEST);
  if (Atomics.load(ctl, CTL_STOP) !== 0) break;
  // Sleep until the requested time; a newer request (the value moved) restarts the wait with its time.
  for (let left = at[0]! - nowUs(); left > 0; left = at[0]! - nowUs()) {
    if (Atomics.wait(ctl, CTL_REQUEST, seen, left / 1000) === 'not-equal') seen = Atomics.load(ctl, CTL_REQUEST);
  }
  if (Atomics.load(ctl, CTL_STOP) !== 0) break;
  port.postMessage(seen);
}
port.close();
