// The open-loop sender's sub-millisecond wake-up (bench/harness/wake-timer.ts): it never calls back early,
// a newer request replaces an older one, and its thread ends on close(). The sender driven by it keeps the
// timetable's promises: every message sent, none before its slot. No timing bound is asserted (speed is the
// bench's business, not a test's).
import { describe, expect, it } from 'vitest';
import { nowUs } from '../../bench/harness/clock.js';
import { runTimetable } from '../../bench/harness/timetable.js';
import { WakeTimer } from '../../bench/harness/wake-timer.js';

describe('WakeTimer', () => {
  it('calls back on this thread no earlier than asked, and only the latest request', async () => {
    const timer = await WakeTimer.start();
    try {
      for (const delayUs of [0, 300, 1_500, 4_000]) {
        const at = nowUs() + delayUs;
        const woke = await new Promise<number>((resolve) => timer.wakeAt(at, () => resolve(nowUs())));
        expect(woke, `${delayUs} µs`).toBeGreaterThanOrEqual(at);
      }
      // A second request replaces the first: the first callback never runs, even though its time came first.
      const calls: string[] = [];
      const first = nowUs() + 1_000;
      timer.wakeAt(first, () => calls.push('first'));
      const second = await new Promise<number>((resolve) => timer.wakeAt(first + 2_000, () => resolve(nowUs())));
      expect(second).toBeGreaterThanOrEqual(first + 2_000);
      expect(calls).toEqual([]);
    } finally {
      await timer.close();
    }
  });

  it('drives the open-loop sender: every message sent, none before its slot', async () => {
    const timer = await WakeTimer.start();
    const early: number[] = [];
    let sends = 0;
    try {
      const res = await runTimetable({
        rate: 2_000,
        count: 300,
        waker: timer,
        send: (seq, intended, actual) => {
          sends++;
          if (actual < intended) early.push(seq);
        },
      });
      expect(res.sent).toBe(300);
      expect(res.truncated).toBe(false);
    } finally {
      await timer.close();
    }
    expect(sends).toBe(300);
    expect(early).toEqual([]);
  });

  it('ends its thread on close(), also while a request is pending', async () => {
    const timer = await WakeTimer.start();
    let called = false;
    timer.wakeAt(nowUs() + 60_000_000, () => (called = true));
    await timer.close();
    expect(called).toBe(false);
    expect(timer.running).toBe(false);
    // With its thread gone a request still runs (at once, on a later turn) rather than never.
    await new Promise<void>((resolve) => timer.wakeAt(nowUs() + 60_000_000, resolve));
  });
});
