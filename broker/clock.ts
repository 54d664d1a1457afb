// The broker's two clocks, named for what they are for, so no call site has to guess.
//
//   wall clock  — what is STORED and compared with stored times: a batch's append timestamp, the time
//                 index, `from: {timestamp}` lookups, segment age and retention. It must agree with the
//                 producer's and operator's idea of "now" (Date.now), even if it may jump when NTP steps.
//   monotonic   — what is MEASURED: timeouts, sweep intervals, how long a consumer has been stalled,
//                 shutdown grace periods, group session expiry. It never jumps, but its zero is arbitrary
//                 (thread start): never store it, never compare it with a stored time.
//
// The mistake this module exists to prevent: `performance.timeOrigin + performance.now()` looks like a
// wall-clock reading but is a monotonic clock anchored once per thread; it drifts from the wall clock
// (measured on long-lived threads and after suspend) and each worker thread has its own anchor.

/** Wall-clock time in microseconds since the Unix epoch: for append timestamps and anything stored. */
export function wallClockUs(): number {
  return Date.now() * 1000;
}

/** Wall-clock time in milliseconds since the Unix epoch: for retention and segment age (compared with stored times). */
export function wallClockMs(): number {
  return Date.now();
}

/** Monotonic milliseconds from an arbitrary origin: for timeouts, intervals and stall measurements only. */
export function monotonicMs(): number {
  return performance.now();
}
