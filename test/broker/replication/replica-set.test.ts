// The leader's view of its replicas: high watermark, minInsync gate, ISR shrink and expand, and the
// KIP-497 "maximal ISR" rule, driven call by call with explicit time.
import { describe, expect, it } from 'vitest';
import { ReplicaSet, type ReplicaSetOptions } from '../../../broker/replication/replica-set.js';

function make(o: Partial<ReplicaSetOptions> = {}): ReplicaSet {
  return new ReplicaSet({
    leaderId: 1,
    leaderEpoch: 5,
    replicas: [1, 2, 3],
    isr: [1, 2, 3],
    minInsync: 2,
    replicaLagTimeMs: 100,
    logEndOffset: 0,
    highWatermark: 0,
    nowMs: 0,
    ...o,
  });
}

describe('ReplicaSet high watermark', () => {
  it('is the lowest log end over the ISR, leader included, once every member has fetched', () => {
    const rs = make();
    expect(rs.onLeaderAppend(10, 1)).toEqual({});
    expect(rs.onFollowerFetch(2, 10, 2)).toEqual({}); // 3 has not fetched in this epoch: unknown
    expect(rs.onFollowerFetch(3, 4, 3)).toEqual({ highWatermark: 4 });
    expect(rs.onFollowerFetch(3, 10, 4)).toEqual({ highWatermark: 10 });
    expect(rs.highWatermark).toBe(10);
  });

  it('never moves back', () => {
    const rs = make({ logEndOffset: 10, highWatermark: 8 });
    rs.onFollowerFetch(2, 10, 1);
    // min is 6, below 8: HW stays (and 3, short of records it once had, is proposed out: below)
    expect(rs.onFollowerFetch(3, 6, 1)).toEqual({ proposeIsr: [1, 2] });
    expect(rs.highWatermark).toBe(8);
  });

  it('does not advance while the ISR is below minInsync (product choice), and acks=all is refused', () => {
    const rs = make({ isr: [1], minInsync: 2 });
    expect(rs.canAppendAcksAll()).toBe(false);
    expect(rs.onLeaderAppend(3, 1)).toEqual({});
    expect(rs.highWatermark).toBe(0);
    const one = make({ isr: [1], minInsync: 1 });
    expect(one.canAppendAcksAll()).toBe(true);
    expect(one.onLeaderAppend(3, 1)).toEqual({ highWatermark: 3 });
  });
});

describe('ReplicaSet ISR changes', () => {
  it('proposes removing a follower not caught up for replicaLagTimeMs (Kafka lastCaughtUpTimeMs)', () => {
    const rs = make();
    rs.onLeaderAppend(10, 0);
    rs.onFollowerFetch(2, 10, 10);
    rs.onFollowerFetch(3, 5, 10); // behind, and behind the leader's end at its previous fetch (0 → unknown)
    expect(rs.tick(100)).toEqual({});
    rs.onFollowerFetch(2, 10, 100);
    expect(rs.tick(101)).toEqual({ proposeIsr: [1, 2] }); // 3 last caught up at t=0 (start of the epoch)
  });

  it('counts a follower as caught up when it reaches the leader end of its previous fetch', () => {
    const rs = make();
    rs.onLeaderAppend(10, 0);
    rs.onFollowerFetch(2, 10, 0);
    rs.onFollowerFetch(3, 4, 50); // leader end at this fetch: 10
    rs.onLeaderAppend(20, 60); // the leader keeps moving
    rs.onFollowerFetch(3, 10, 90); // reached 10: caught up as of its previous fetch, t=50
    rs.onFollowerFetch(2, 20, 140);
    expect(rs.tick(150)).toEqual({}); // 150 - 50 = 100, not past the lag time
    expect(rs.tick(151)).toEqual({ proposeIsr: [1, 2] });
  });

  it('proposes adding a follower once it reaches the HW and the epoch start offset, having fetched in this epoch', () => {
    // New leader at epoch start 10 with a lagging local HW of 4 (it had not heard the old leader's HW).
    const rs = make({ isr: [1, 2], logEndOffset: 10, highWatermark: 4 });
    expect(rs.onFollowerFetch(3, 6, 1)).toEqual({}); // ≥ HW but below the epoch start (KAFKA-7128)
    expect(rs.onFollowerFetch(3, 10, 2)).toEqual({ proposeIsr: [1, 2, 3] });
  });

  it('counts a pending addition in the HW at once, and a pending removal until it commits (KIP-497)', () => {
    const rs = make({ isr: [1, 2], logEndOffset: 0 });
    rs.onLeaderAppend(5, 0);
    rs.onFollowerFetch(2, 5, 1);
    expect(rs.highWatermark).toBe(5);
    expect(rs.onFollowerFetch(3, 5, 2)).toEqual({ proposeIsr: [1, 2, 3] });
    rs.onLeaderAppend(9, 3);
    rs.onFollowerFetch(2, 9, 4);
    // 3 is only proposed, but HW already waits for it: if the proposal commits, 3 holds everything below HW.
    expect(rs.highWatermark).toBe(5);
    expect(rs.onIsrCommitted([1, 2, 3])).toEqual({});
    expect(rs.onFollowerFetch(3, 9, 5)).toEqual({ highWatermark: 9 });

    // Now 3 lags; its removal is proposed, and until it commits HW still waits for 3.
    rs.onLeaderAppend(12, 10);
    rs.onFollowerFetch(2, 12, 11);
    expect(rs.tick(200)).toEqual({ proposeIsr: [1, 2] });
    expect(rs.onLeaderAppend(12, 201)).toEqual({});
    expect(rs.highWatermark).toBe(9);
    // The compare-and-swap lost: etcd still says [1, 2, 3]. Nothing below HW is missing on 3.
    expect(rs.onIsrCommitted([1, 2, 3])).toEqual({});
    expect(rs.tick(202)).toEqual({ proposeIsr: [1, 2] });
    expect(rs.onIsrCommitted([1, 2])).toEqual({ highWatermark: 12 });
  });

  it('counts only the ISR without pending removals for acks=all', () => {
    const rs = make({ isr: [1, 2], logEndOffset: 3 });
    expect(rs.canAppendAcksAll()).toBe(true);
    expect(rs.tick(500)).toEqual({ proposeIsr: [1] });
    expect(rs.canAppendAcksAll()).toBe(false);
  });

  it('proposes removing an ISR member at once when it comes back below the HW (it lost committed records)', () => {
    const rs = make({ logEndOffset: 10, highWatermark: 0 });
    rs.onFollowerFetch(2, 10, 1);
    expect(rs.onFollowerFetch(3, 10, 1)).toEqual({ highWatermark: 10 });
    // 3 restarts without its unsynced tail (or with a damaged segment cut): it fetches from 7, well within
    // replicaLagTimeMs of its last catch-up, and leaves the ISR now; HW does not move back.
    expect(rs.onFollowerFetch(3, 7, 2)).toEqual({ proposeIsr: [1, 2] });
    expect(rs.highWatermark).toBe(10);
    expect(rs.countedIsr).toEqual([1, 2]);
    rs.onIsrCommitted([1, 2]);
    // Caught up again, it is proposed back in as any follower outside the ISR.
    expect(rs.onFollowerFetch(3, 10, 3)).toEqual({ proposeIsr: [1, 2, 3] });
    // A member at the HW (not past it) stays.
    const at = make({ logEndOffset: 10, highWatermark: 10 });
    expect(at.onFollowerFetch(2, 10, 1)).toEqual({});
  });

  it('keeps one proposal in flight', () => {
    const rs = make({ isr: [1], minInsync: 1, logEndOffset: 0 });
    expect(rs.onFollowerFetch(2, 0, 1)).toEqual({ proposeIsr: [1, 2] });
    expect(rs.onFollowerFetch(3, 0, 1)).toEqual({});
    rs.onIsrCommitted([1, 2]);
    expect(rs.onFollowerFetch(3, 0, 2)).toEqual({ proposeIsr: [1, 2, 3] });
  });
});

describe('ReplicaSet input checks', () => {
  it('rejects bad options and calls the rules cannot make sense of', () => {
    expect(() => make({ isr: [2, 3] })).toThrow(RangeError);
    expect(() => make({ minInsync: 0 })).toThrow(RangeError);
    expect(() => make({ highWatermark: 5, logEndOffset: 4 })).toThrow(RangeError);
    expect(() => make({ replicas: [1, 2, 2] })).toThrow(RangeError);
    const rs = make({ logEndOffset: 4 });
    expect(() => rs.onFollowerFetch(9, 0, 0)).toThrow(RangeError);
    expect(() => rs.onFollowerFetch(2, 5, 0)).toThrow(RangeError);
    expect(() => rs.onLeaderAppend(3, 0)).toThrow(RangeError);
    expect(() => rs.onIsrCommitted([2, 3])).toThrow(RangeError);
  });
});
