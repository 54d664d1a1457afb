// The other end of the main ↔ worker postMessage hop in `bench micro`: answers every message at once.
import { parentPort } from 'node:worker_threads';

parentPort?.on('message', (m: unknown) => {
  if (m === 'stop') parentPort?.close();
  else parentPort?.postMessage(m);
});
