// The reassignment throttle's bucket on a driven clock: sends are admitted while it holds tokens, a send
// may overdraw it, and then nothing is admitted until the debt is paid back at the configured rate, when
// the waiting subscriptions are put back on the pump. Over a long run the bytes sent stay within one burst
// of rate × time.
import { describe, expect, it, vi } from 'vitest';
import { LearnerThrottle } from '../../../broker/owner/learner-throttle.js';
import type { Subscription } from '../../../broker/owner/subscription.js';

function sub(): Subscription & { resumed: number } {
  const s = { resumed: 0, resume: () => s.resumed++ };
  return s as unknown as Subscription & { resumed: number };
}

describe('learner throttle', () => {
  it('admits until overdrawn, then waits the debt out and resumes the waiting subscriptions', () => {
    vi.useFakeTimers();
    try {
      let now = 0;
      const t = new LearnerThrottle(10_000, () => now); // 10 kB/s: a 1 kB burst (100 ms)
      const s = sub();
      expect(t.admit(s)).toBe(true);
      t.spend(3_000); // 2 kB in debt
      expect(t.admit(s)).toBe(false);
      now += 150; // +1.5 kB: still 500 B in debt
      expect(t.admit(s)).toBe(false);
      vi.advanceTimersByTime(250);
      expect(s.resumed).toBe(1);
      now += 60;
      expect(t.admit(s)).toBe(true);
      t.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it('sends about rate × time over a long run, whatever the chunk sizes', () => {
    let now = 0;
    const rate = 1_000_000;
    const t = new LearnerThrottle(rate, () => now);
    const s = sub();
    for (let step = 0; step < 20_000; step++) {
      now += 0.5;
      if (t.admit(s)) t.spend(Math.min(t.available, 1 + ((step * 7919) % 64_000)));
    }
    t.close();
    // 10 s at 1 MB/s: 10 MB, plus at most the initial burst (100 ms worth).
    expect(t.sent).toBeLessThanOrEqual(rate * 10 + rate / 10 + 64_000);
    expect(t.sent).toBeGreaterThan(rate * 9);
  });

  it('rejects a rate that is not positive', () => {
    expect(() => new LearnerThrottle(0)).toThrow(RangeError);
  });
});
