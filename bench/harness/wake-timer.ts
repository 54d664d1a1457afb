// A sub-millisecond wake-up for a thread that must keep serving I/O while it waits. Node's timers have 1 ms
// granularity, so the open-loop sender used to spin through setImmediate turns between messages less than
// 2.5 ms apart: at 1k msg/s that kept one of this VM's two cores busy for the whole run, a core taken from the
// server under test and from the subscriber threads. With this timer the sending thread sleeps in epoll
// (answering acks and worker reports as they come) and a helper thread, blocked in a futex with a µs timeout,
// posts it a message just before its next send is due.
import { Worker } from 'node:worker_threads';
import { TargetError, withTimeout } from '../errors.js';
import { benchEntry } from './entry-path.js';

export const CTL_REQUEST = 0;
export const CTL_STOP = 1;

export interface WakeTimerWorkerData {
  /** Int32 request counter, Int32 stop flag, Float64 wake time (nowUs clock). */
  shared: SharedArrayBuffer;
}

export class WakeTimer {
  private readonly ctl: Int32Array;
  private readonly at: Float64Array;
  private pending: (() => void) | null = null;
  private requests = 0;
  private readonly exited: Promise<void>;
  private alive = true;

  private constructor(
    private readonly worker: Worker,
    shared: SharedArrayBuffer,
  ) {
    this.ctl = new Int32Array(shared, 0, 2);
    this.at = new Float64Array(shared, 8, 1);
    this.exited = new Promise((resolve) =>
      worker.once('exit', () => {
        this.alive = false;
        // A thread that died (it should not) must not leave a sender waiting for ever: run what waits now.
        const fn = this.pending;
        this.pending = null;
        if (fn) setImmediate(fn);
        resolve();
      }),
    );
    worker.on('error', () => undefined); // 'exit' follows and is handled above
    worker.on('message', (m: unknown) => {
      // A wake for a request that a newer one replaced is dropped: only the latest request's callback runs.
      if (m !== this.requests) return;
      const fn = this.pending;
      this.pending = null;
      fn?.();
    });
  }

  static async start(): Promise<WakeTimer> {
    const shared = new SharedArrayBuffer(16);
    const worker = new Worker(benchEntry('harness/wake-timer-worker'), { workerData: { shared } satisfies WakeTimerWorkerData });
    const ready = new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', (err) => reject(new TargetError(`wake timer thread: ${err.message}`, { cause: err })));
    });
    try {
      await withTimeout(ready, 10_000, 'wake timer thread start');
    } catch (err) {
      await worker.terminate();
      throw err;
    }
    return new WakeTimer(worker, shared);
  }

  /** False once the timer's thread has ended. */
  get running(): boolean {
    return this.alive;
  }

  /** Runs `fn` on this thread once `atUs` (nowUs clock) has passed, plus the thread's wake-up time. Replaces an earlier request. */
  wakeAt(atUs: number, fn: () => void): void {
    if (!this.alive) {
      // No thread to wake us: the caller turns the event loop instead (the timetable then spins, as without a timer).
      setImmediate(fn);
      return;
    }
    this.pending = fn;
    this.at[0] = atUs;
    Atomics.store(this.ctl, CTL_REQUEST, ++this.requests);
    Atomics.notify(this.ctl, CTL_REQUEST);
  }

  async close(): Promise<void> {
    this.pending = null;
    Atomics.store(this.ctl, CTL_STOP, 1);
    Atomics.add(this.ctl, CTL_REQUEST, 1);
    Atomics.notify(this.ctl, CTL_REQUEST);
    await withTimeout(this.exited, 5_000, 'wake timer thread exit').catch(() => this.worker.terminate());
  }
}
