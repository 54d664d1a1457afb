// Produce and consume byte-rate quotas per principal, on one owner thread. Owners are separate threads
// with nothing shared on the live path, so each enforces its share: quota / owners per principal
// (a principal that uses one owner only gets that share; docs/security.md says so). Like Kafka's
// quotas, a request is served and then throttled: the broker works out how long the principal must
// wait for its balance to come back and says so (ProduceAck.throttleMs; consumers are simply sent
// less), instead of cutting the connection.
import type { LimitsConfig } from '../config.js';

/** Bytes per second with a burst of one second's worth; the balance may go negative (debt). */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly bytesPerSec: number,
    nowMs: number,
    readonly burst = bytesPerSec,
  ) {
    this.tokens = burst;
    this.last = nowMs;
  }

  private refill(nowMs: number): void {
    if (nowMs > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((nowMs - this.last) * this.bytesPerSec) / 1000);
      this.last = nowMs;
    }
  }

  /** Spends `bytes` (into debt if need be); returns the ms until the balance is back to zero (0 = within quota). */
  take(bytes: number, nowMs: number): number {
    this.refill(nowMs);
    this.tokens -= bytes;
    return this.delayMs(nowMs);
  }

  /** Ms until the balance is back to zero; 0 when it is not in debt. */
  delayMs(nowMs: number): number {
    this.refill(nowMs);
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.bytesPerSec);
  }

  /** Back to its full burst: the same as a new bucket. */
  full(nowMs: number): boolean {
    this.refill(nowMs);
    return this.tokens >= this.burst;
  }
}

export interface PrincipalQuota {
  produce: TokenBucket | null;
  consume: TokenBucket | null;
}

export class PrincipalQuotas {
  private readonly byPrincipal = new Map<string, PrincipalQuota>();
  private readonly produceRate: number;
  private readonly consumeRate: number;

  constructor(limits: Pick<LimitsConfig, 'produceBytesPerSec' | 'consumeBytesPerSec'>, owners: number) {
    this.produceRate = limits.produceBytesPerSec / owners;
    this.consumeRate = limits.consumeBytesPerSec / owners;
  }

  get enabled(): boolean {
    return this.produceRate > 0 || this.consumeRate > 0;
  }

  /** The principal's buckets on this owner; null when no quota is configured. */
  of(principal: string, nowMs: number): PrincipalQuota | null {
    if (!this.enabled) return null;
    let q = this.byPrincipal.get(principal);
    if (!q) {
      q = {
        produce: this.produceRate > 0 ? new TokenBucket(this.produceRate, nowMs) : null,
        consume: this.consumeRate > 0 ? new TokenBucket(this.consumeRate, nowMs) : null,
      };
      this.byPrincipal.set(principal, q);
    }
    return q;
  }

  /** Forgets principals whose buckets are full again (a full bucket is a new one): the map stays as small as the active set. */
  sweep(nowMs: number): void {
    for (const [k, q] of this.byPrincipal) if ((q.produce?.full(nowMs) ?? true) && (q.consume?.full(nowMs) ?? true)) this.byPrincipal.delete(k);
  }
}
