// Leader election: clean from the ISR in preference order; unclean only when allowed; offline otherwise.
import { describe, expect, it } from 'vitest';
import { electLeader, isrWithoutDead } from '../../../broker/replication/leader-election.js';

const alive = (...ids: number[]) => (b: number) => ids.includes(b);

describe('electLeader', () => {
  it('picks the first live ISR member in preference order and drops dead ones from the ISR', () => {
    expect(electLeader({ replicas: [1, 2, 3], isr: [1, 2, 3], isAlive: alive(2, 3), unclean: false })).toEqual({ leader: 2, isr: [2, 3], unclean: false });
    // 3 is preferred over 2 only by position in replicas, not in the ISR list.
    expect(electLeader({ replicas: [3, 1, 2], isr: [2, 3], isAlive: alive(2, 3), unclean: false })).toEqual({ leader: 3, isr: [3, 2], unclean: false });
  });

  it('never elects a live replica outside the ISR without unclean election', () => {
    const r = electLeader({ replicas: [1, 2, 3], isr: [1], isAlive: alive(2, 3), unclean: false });
    expect(r.leader).toBeNull();
    expect(r.isr).toEqual([1]); // kept: the last ISR member can lead cleanly when it returns
  });

  it('with unclean election, takes the first live replica and flags it', () => {
    expect(electLeader({ replicas: [1, 2, 3], isr: [1], isAlive: alive(3, 2), unclean: true })).toEqual({ leader: 2, isr: [2], unclean: true });
    // A live ISR member still wins over an unclean choice.
    expect(electLeader({ replicas: [1, 2, 3], isr: [3], isAlive: alive(2, 3), unclean: true })).toEqual({ leader: 3, isr: [3], unclean: false });
  });

  it('prefers ISR members that did not restart since the ISR was written, and drops the restarted ones from the ISR', () => {
    const restarted = (...ids: number[]) => (b: number) => ids.includes(b);
    // 2 restarted (it may have lost an unsynced tail): 3 leads, and 2 must catch up to rejoin.
    expect(electLeader({ replicas: [1, 2, 3], isr: [1, 2, 3], isAlive: alive(2, 3), unclean: false, restarted: restarted(2) })).toEqual({
      leader: 3,
      isr: [3],
      unclean: false,
    });
    // Every live ISR member restarted: the first of them leads, as without the rule (the partition is not left offline).
    expect(electLeader({ replicas: [1, 2, 3], isr: [1, 2, 3], isAlive: alive(2, 3), unclean: false, restarted: restarted(2, 3) })).toEqual({
      leader: 2,
      isr: [2, 3],
      unclean: false,
    });
    // A restarted broker outside the live set changes nothing.
    expect(electLeader({ replicas: [1, 2, 3], isr: [1, 2, 3], isAlive: alive(2, 3), unclean: false, restarted: restarted(1) })).toEqual({
      leader: 2,
      isr: [2, 3],
      unclean: false,
    });
  });

  it('is offline when nobody is alive', () => {
    expect(electLeader({ replicas: [1, 2], isr: [1, 2], isAlive: alive(), unclean: true })).toEqual({ leader: null, isr: [1, 2], unclean: false });
  });
});

describe('isrWithoutDead', () => {
  it('removes dead followers but never the leader', () => {
    expect(isrWithoutDead([1, 2, 3], [1, 2, 3], 1, alive(1, 3))).toEqual([1, 3]);
    expect(isrWithoutDead([1, 2, 3], [1, 2], 1, alive())).toEqual([1]);
  });
});
