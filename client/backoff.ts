// Reconnect and retry delays: exponential growth with "full jitter" (AWS Architecture Blog,
// "Exponential Backoff And Jitter"): delay = random(0, min(maxMs, initialMs * 2^attempt)).
// Full jitter spreads a crowd of clients that lost the same broker at the same instant, so a
// restarted broker is not hit by all of them in one burst.

export interface BackoffOptions {
  /** Upper bound of the first delay, ms. */
  initialMs: number;
  /** Upper bound of every delay, ms. */
  maxMs: number;
}

/** The ceiling of the delay before retry number `attempt` (0-based): min(maxMs, initialMs * 2^attempt). */
export function backoffCeiling(attempt: number, opts: BackoffOptions): number {
  // 2^attempt overflows to Infinity past ~1023; min() keeps the result bounded either way.
  return Math.min(opts.maxMs, opts.initialMs * Math.pow(2, Math.min(attempt, 1023)));
}

/** A delay drawn uniformly from [0, ceiling(attempt)). `random` returns [0, 1) like Math.random. */
export function backoffDelay(attempt: number, opts: BackoffOptions, random: () => number = Math.random): number {
  return Math.floor(random() * backoffCeiling(attempt, opts));
}

/** Counts attempts and hands out the next delay; reset() after a success. */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly opts: BackoffOptions,
    private readonly random: () => number = Math.random,
  ) {}

  /** How many delays were handed out since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  next(): number {
    return backoffDelay(this.attempt++, this.opts, this.random);
  }

  reset(): void {
    this.attempt = 0;
  }
}
