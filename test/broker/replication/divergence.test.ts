// Fetch validation and follower truncation: the KIP-101 scenarios, KIP-279's multi-epoch case, and
// each branch of the follower's rule.
import { describe, expect, it } from 'vitest';
import {
  followerHighWatermark,
  followerTruncation,
  recoveredHighWatermark,
  validateFetch,
} from '../../../broker/replication/divergence.js';
import { EpochHistory } from '../../../broker/replication/epoch-history.js';

const hist = (...p: [number, number][]) => new EpochHistory(p.map(([epoch, startOffset]) => ({ epoch, startOffset })));

describe('validateFetch (leader side)', () => {
  const leader = { leaderEpoch: 3, history: hist([1, 0], [3, 4]), logStartOffset: 0, logEndOffset: 6 };

  it('serves a follower whose last epoch ends at or after its fetch offset', () => {
    expect(validateFetch({ currentLeaderEpoch: 3, fetchOffset: 4, lastFetchedEpoch: 1 }, leader)).toEqual({ kind: 'serve', fetchOffset: 4 });
    expect(validateFetch({ currentLeaderEpoch: 3, fetchOffset: 6, lastFetchedEpoch: 3 }, leader)).toEqual({ kind: 'serve', fetchOffset: 6 });
    expect(validateFetch({ currentLeaderEpoch: 3, fetchOffset: 0, lastFetchedEpoch: -1 }, leader)).toEqual({ kind: 'serve', fetchOffset: 0 });
  });

  it('answers a diverging epoch when the follower has records past where its epoch ends here (KIP-279)', () => {
    expect(validateFetch({ currentLeaderEpoch: 3, fetchOffset: 5, lastFetchedEpoch: 1 }, leader)).toEqual({ kind: 'diverging', divergingEpoch: 1, divergingEndOffset: 4 });
    // An epoch we never had (another leader's epoch 2): the largest we know below it.
    expect(validateFetch({ currentLeaderEpoch: 3, fetchOffset: 4, lastFetchedEpoch: 2 }, leader)).toEqual({ kind: 'diverging', divergingEpoch: 1, divergingEndOffset: 4 });
    // Same epoch, longer log than ours.
    expect(validateFetch({ currentLeaderEpoch: 3, fetchOffset: 7, lastFetchedEpoch: 3 }, leader)).toEqual({ kind: 'diverging', divergingEpoch: 3, divergingEndOffset: 6 });
  });

  it('fences a request from another epoch before looking at offsets (KIP-320)', () => {
    expect(validateFetch({ currentLeaderEpoch: 2, fetchOffset: 99, lastFetchedEpoch: 2 }, leader)).toEqual({ kind: 'fenced-epoch', leaderEpoch: 3 });
    expect(validateFetch({ currentLeaderEpoch: 4, fetchOffset: 0, lastFetchedEpoch: -1 }, leader)).toEqual({ kind: 'unknown-epoch', leaderEpoch: 3 });
  });

  it('answers out of range below the log start or past the end with no epoch to compare', () => {
    const trimmed = { ...leader, logStartOffset: 2 };
    expect(validateFetch({ currentLeaderEpoch: 3, fetchOffset: 1, lastFetchedEpoch: -1 }, trimmed).kind).toBe('out-of-range');
    expect(validateFetch({ currentLeaderEpoch: 3, fetchOffset: 7, lastFetchedEpoch: -1 }, leader).kind).toBe('out-of-range');
  });
});

describe('followerTruncation (follower side)', () => {
  it('KIP-101 scenario 1: a restarted follower keeps a committed record it had, where HW truncation lost it', () => {
    // A leads epoch 1 with m0, m1; B has both, but B's high watermark says 1 (it had not heard HW=2).
    // B restarts. Before KIP-101 it truncated to its HW, dropping m1, then became leader: m1, acked, lost.
    const bLog = 2;
    const bHw = recoveredHighWatermark(1, 0, bLog);
    expect(bHw).toBe(1); // nothing is truncated on restart; the HW is only bounded by the log
    // A dies; B leads epoch 2 from its whole log.
    const b = { leaderEpoch: 2, history: hist([1, 0], [2, 2]), logStartOffset: 0, logEndOffset: bLog };
    // A returns and fetches: its epoch 1 ends at 2 on B too, so nothing diverges and m1 survives.
    expect(validateFetch({ currentLeaderEpoch: 2, fetchOffset: 2, lastFetchedEpoch: 1 }, b)).toEqual({ kind: 'serve', fetchOffset: 2 });
  });

  it('KIP-101 scenario 2: after both replicas crash, the old leader drops the record the new leader never had', () => {
    // A led epoch 1 and wrote m0, m1; B had only m0, so HW = 1. Both crash; B restarts first, leads
    // epoch 2 and writes m2 at offset 1. A returns with m1 at offset 1: the logs diverge at 1.
    const b = { leaderEpoch: 2, history: hist([1, 0], [2, 1]), logStartOffset: 0, logEndOffset: 2 };
    const aHistory = hist([1, 0]);
    const v = validateFetch({ currentLeaderEpoch: 2, fetchOffset: 2, lastFetchedEpoch: 1 }, b);
    expect(v).toEqual({ kind: 'diverging', divergingEpoch: 1, divergingEndOffset: 1 });
    if (v.kind !== 'diverging') return;
    const d = followerTruncation(v, { history: aHistory, logEndOffset: 2, highWatermark: 1, uncleanLeaderElection: false });
    expect(d).toEqual({ kind: 'truncate', truncateTo: 1, completed: true });
    aHistory.truncateFromEnd(1);
    // Next fetch: consistent, and A copies m2 — the replicas agree again (pre-KIP-101 they stayed apart).
    expect(validateFetch({ currentLeaderEpoch: 2, fetchOffset: 1, lastFetchedEpoch: aHistory.latestEpoch() }, b)).toEqual({ kind: 'serve', fetchOffset: 1 });
  });

  it('refuses to truncate below its high watermark unless unclean leader election is on', () => {
    const answer = { divergingEpoch: 1, divergingEndOffset: 1 };
    const view = { history: hist([1, 0]), logEndOffset: 2, highWatermark: 2, uncleanLeaderElection: false };
    expect(followerTruncation(answer, view)).toEqual({ kind: 'refuse', truncateTo: 1, highWatermark: 2 });
    expect(followerTruncation(answer, { ...view, uncleanLeaderElection: true })).toEqual({ kind: 'truncate', truncateTo: 1, completed: true });
  });

  it('KIP-279: a follower that missed epochs truncates to where the shared epoch ends on either side', () => {
    // Leader C: epoch 1 at 0..2, epoch 3 from 3. Follower B: epoch 1 at 0..1, epoch 2 (uncommitted) at 2..3.
    const c = { leaderEpoch: 3, history: hist([1, 0], [3, 3]), logStartOffset: 0, logEndOffset: 5 };
    const b = hist([1, 0], [2, 2]);
    const v = validateFetch({ currentLeaderEpoch: 3, fetchOffset: 4, lastFetchedEpoch: 2 }, c);
    expect(v).toEqual({ kind: 'diverging', divergingEpoch: 1, divergingEndOffset: 3 });
    if (v.kind !== 'diverging') return;
    expect(followerTruncation(v, { history: b, logEndOffset: 4, highWatermark: 0, uncleanLeaderElection: false })).toEqual({ kind: 'truncate', truncateTo: 2, completed: true });
  });

  it('takes an intermediate step when it knows only an older epoch than the one the leader named', () => {
    const f = hist([1, 0], [3, 2]);
    const d = followerTruncation({ divergingEpoch: 2, divergingEndOffset: 5 }, { history: f, logEndOffset: 4, highWatermark: 0, uncleanLeaderElection: false });
    expect(d).toEqual({ kind: 'truncate', truncateTo: 2, completed: false });
  });

  it('uses the leader end offset when it knows no epoch at all, and its HW when the leader knows none', () => {
    const empty = { history: new EpochHistory(), logEndOffset: 3, highWatermark: 0, uncleanLeaderElection: false };
    expect(followerTruncation({ divergingEpoch: 2, divergingEndOffset: 1 }, empty)).toEqual({ kind: 'truncate', truncateTo: 1, completed: true });
    expect(followerTruncation({ divergingEpoch: -1, divergingEndOffset: -1 }, { ...empty, highWatermark: 2 })).toEqual({ kind: 'truncate', truncateTo: 2, completed: true });
  });

  it('never truncates past its own log end', () => {
    const d = followerTruncation({ divergingEpoch: 1, divergingEndOffset: 50 }, { history: hist([1, 0], [2, 10]), logEndOffset: 12, highWatermark: 0, uncleanLeaderElection: false });
    expect(d).toEqual({ kind: 'truncate', truncateTo: 10, completed: true });
    const e = followerTruncation({ divergingEpoch: 5, divergingEndOffset: 50 }, { history: new EpochHistory(), logEndOffset: 7, highWatermark: 0, uncleanLeaderElection: false });
    expect(e).toEqual({ kind: 'truncate', truncateTo: 7, completed: true });
  });
});

describe('high watermark on a follower', () => {
  it('is the leader’s, bounded by its own log; after a lost tail, bounded by the recovered log', () => {
    expect(followerHighWatermark(10, 7)).toBe(7);
    expect(followerHighWatermark(5, 7)).toBe(5);
    expect(recoveredHighWatermark(10, 0, 6)).toBe(6);
    expect(recoveredHighWatermark(1, 3, 6)).toBe(3);
  });
});
