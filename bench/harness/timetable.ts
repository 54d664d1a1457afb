// The open-loop sender: message i is due at start + i / rate, whatever happened to message i-1.
// A late turn sends everything that is due at once, each message keeping its intended time, so a stall
// shows up as latency (measured from the intended time) instead of as a silent pause in the load:
// that is the coordinated-omission correction.
//
// How it waits (Node has no sub-millisecond sleep that still serves I/O):
//  - more than SLEEP_ABOVE_US until the next message: setTimeout for the whole milliseconds minus one
//    (the thread sleeps in epoll; it wakes ~1 ms early, a wakeup costs ~60 µs on this VM);
//  - closer than that: setImmediate turns. Each turn polls I/O with a zero timeout, so deliveries to
//    subscribers in this thread are read as soon as they arrive (no wakeup cost, the thread is awake);
//  - within SPIN_US of the deadline: a short busy wait, so the send is on time to a few µs.
// So at rates above ~500 msg/s the sending thread stays busy (one core), but it never blocks I/O for more than
// MAX_BURST sends, and at low rates it sleeps.
// With a `waker` (wake-timer.ts; runs whose subscribers are in worker threads) the thread sleeps in epoll
// until WAKE_LEAD_US before each send instead of turning: at 1k msg/s the sender takes a fifth of a core
// instead of a whole one. Runs with a subscriber in this thread keep turning: sleeping would add this
// thread's wake-up to every delivery it reads. `bench micro` measures the lag this leaves (actual - intended)
// against a no-op publisher; every run reports its own lag as `send_lag_us`.
import { nowUs } from './clock.js';
import { newHistogram, type Histogram } from './latency-recorder.js';
import type { WakeTimer } from './wake-timer.js';

const SLEEP_ABOVE_US = 2_500;
const SPIN_US = 25;
/** How early the wake timer wakes the sender: a thread woken from epoll here takes ~60 µs, more under load. */
const WAKE_LEAD_US = 200;
/** Most sends in one turn before I/O is served again (a late harness catches up in slices). */
const MAX_BURST = 256;

export interface TimetableOptions {
  rate: number;
  /** Messages in total (warm-up included). */
  count: number;
  /** Sends one message. `intendedUs` is its slot on the timetable; `actualUs` is now. */
  send: (seq: number, intendedUs: number, actualUs: number) => void;
  /** Stop early (e.g. the target failed). Checked once per turn. */
  aborted?: () => boolean;
  /** Hard stop: no message is sent after this many µs past the planned end (a harness that cannot keep up). */
  overrunLimitUs?: number;
  /** First slot this far in the future (lets a caller finish setting up). */
  leadUs?: number;
  /** Sleep between sends with this timer instead of turning the event loop (see the top of this file). */
  waker?: WakeTimer;
}

export interface TimetableResult {
  sent: number;
  startUs: number;
  /** Actual time of the last send. */
  lastSendUs: number;
  /** actual - intended per message, µs. */
  lag: Histogram;
  /** True when the overrun limit cut the run short. */
  truncated: boolean;
}

export function runTimetable(opts: TimetableOptions): Promise<TimetableResult> {
  const { rate, count, send } = opts;
  if (!(rate > 0) || !Number.isFinite(rate)) throw new RangeError(`rate must be a positive number of messages per second, got ${rate}`);
  const interval = 1e6 / rate;
  const startUs = nowUs() + (opts.leadUs ?? 2_000);
  const plannedEndUs = startUs + count * interval;
  const overrun = opts.overrunLimitUs ?? Math.max(5_000_000, count * interval);
  const lag = newHistogram();
  let seq = 0;
  let lastSendUs = startUs;
  let truncated = false;

  return new Promise<TimetableResult>((resolve, reject) => {
    const finish = (): void => resolve({ sent: seq, startUs, lastSendUs, lag, truncated });
    const turn = (): void => {
      try {
        if (opts.aborted?.()) return finish();
        let due = startUs + seq * interval;
        let now = nowUs();
        if (due > now && due - now <= SPIN_US) {
          while (now < due) now = nowUs();
        }
        let burst = 0;
        while (seq < count && due <= now && burst < MAX_BURST) {
          send(seq, due, now);
          lag.recordValue(Math.round(now - due));
          lastSendUs = now;
          seq++;
          burst++;
          due = startUs + seq * interval;
          now = nowUs();
        }
        if (seq >= count) return finish();
        if (now > plannedEndUs + overrun) {
          truncated = true;
          return finish();
        }
        const wait = due - now;
        if (opts.waker && wait > WAKE_LEAD_US) opts.waker.wakeAt(due - WAKE_LEAD_US, turn);
        else if (wait > SLEEP_ABOVE_US) setTimeout(turn, Math.floor(wait / 1000) - 1);
        else setImmediate(turn);
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    };
    turn();
  });
}
