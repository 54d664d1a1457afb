// The busy-poll window: after touch() the loop keeps turning (one setImmediate after another) until the
// window has passed without another touch, then stops scheduling: an idle owner sleeps again.
import { describe, expect, it } from 'vitest';
import { BusyPoll } from '../../../broker/owner/busy-poll.js';

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('BusyPoll', () => {
  it('spins for its window after the last touch, then stops', async () => {
    const poll = new BusyPoll(20);
    expect(poll.spinning).toBe(false);
    const start = performance.now();
    poll.touch();
    expect(poll.spinning).toBe(true);
    let turns = 0;
    // Bounded: the window is 20 ms; 2 s is far past it.
    while (poll.spinning && performance.now() - start < 2_000) {
      await turn();
      turns++;
      // A touch inside the window extends it.
      if (turns === 10) poll.touch();
    }
    expect(poll.spinning).toBe(false);
    expect(performance.now() - start).toBeGreaterThanOrEqual(19);
    // The loop turned many times meanwhile: it never slept through the window.
    expect(turns).toBeGreaterThan(10);
  });

  it('a touch while spinning schedules no second spin', async () => {
    const poll = new BusyPoll(5);
    poll.touch();
    poll.touch();
    const start = performance.now();
    while (poll.spinning && performance.now() - start < 2_000) await turn();
    expect(poll.spinning).toBe(false);
  });
});
