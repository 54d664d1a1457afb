// The reassignment throttle: catch-up bytes a leader's owner sends to learners (replicas a reassignment is
// adding, outside the ISR) are paced by one token bucket per owner, so copying a partition to a new broker
// cannot starve live produce and delivery on the same thread and socket buffers (Kafka's
// leader.replication.throttled.rate, KIP-73). Only catch-up reads are paced: a learner that reaches the
// head joins the live append stream like any follower, and ISR members are never throttled.
// The budget is per owner thread (`bytesPerSec / owners`), so a broker as a whole sends about `bytesPerSec`.
import type { Subscription } from './subscription.js';

/** Tokens never pile up beyond this much time's worth: an idle bucket allows one short burst, not a flood. */
const BURST_MS = 100;

export class LearnerThrottle {
  private tokens: number;
  private last: number;
  private readonly waiting = new Set<Subscription>();
  private timer: NodeJS.Timeout | null = null;
  /** Bytes sent through the bucket (for logs and tests). */
  sent = 0;

  constructor(
    readonly bytesPerSec: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!Number.isFinite(bytesPerSec) || bytesPerSec <= 0) throw new RangeError(`bytesPerSec must be positive, got ${bytesPerSec}`);
    this.tokens = this.cap;
    this.last = this.now();
  }

  private get cap(): number {
    return Math.max(1024, (this.bytesPerSec * BURST_MS) / 1000);
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.cap, this.tokens + ((t - this.last) * this.bytesPerSec) / 1000);
    this.last = t;
  }

  /** Bytes that may be sent now (at least 1 when admit() said yes: a batch larger than that goes into debt). */
  get available(): number {
    return Math.max(1, Math.floor(this.tokens));
  }

  /**
   * Whether `sub` may send now. If not, it is resumed (put back on the catch-up pump) once the bucket
   * has refilled past zero; the caller returns 'blocked'.
   */
  admit(sub: Subscription): boolean {
    this.refill();
    if (this.tokens > 0) return true;
    this.waiting.add(sub);
    if (!this.timer) {
      const ms = Math.ceil(((1 - this.tokens) * 1000) / this.bytesPerSec);
      this.timer = setTimeout(this.wake, Math.max(1, ms));
      this.timer.unref();
    }
    return false;
  }

  /** `bytes` were sent (the bucket may go negative: the next sends wait it out). */
  spend(bytes: number): void {
    this.tokens -= bytes;
    this.sent += bytes;
  }

  private readonly wake = (): void => {
    this.timer = null;
    const subs = [...this.waiting];
    this.waiting.clear();
    for (const s of subs) s.resume();
  };

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.waiting.clear();
  }
}
