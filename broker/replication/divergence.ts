// Log reconciliation between a follower and its leader, both sides, as pure functions of offsets and
// epoch histories (Kafka KIP-101 "use leader epoch rather than high watermark for truncation",
// KIP-279 "fix log divergence ... with the diverging epoch in the fetch response", KIP-320 "leader
// epoch in fetch requests"). The owner feeds them what it knows and carries out the answer: serve,
// or truncate and fetch again. Every fetch is checked, so a follower never appends after a divergence.
import { EpochHistory, UNDEFINED_EPOCH, UNDEFINED_OFFSET } from './epoch-history.js';

// ---------------------------------------------------------------- the leader's side

export interface FetchPosition {
  /** The leader epoch the follower believes current (KIP-320 fencing token). */
  readonly currentLeaderEpoch: number;
  /** The follower's log end offset: the next offset it wants. */
  readonly fetchOffset: number;
  /** The epoch of the last batch the follower has (its history's latest epoch), -1 for an empty log. */
  readonly lastFetchedEpoch: number;
}

export interface LeaderLogView {
  readonly leaderEpoch: number;
  readonly history: EpochHistory;
  readonly logStartOffset: number;
  readonly logEndOffset: number;
}

export type FetchValidation =
  /** Consistent: serve records from fetchOffset. */
  | { readonly kind: 'serve'; readonly fetchOffset: number }
  /** The follower's log diverges from ours: it must truncate (followerTruncation) and fetch again. */
  | { readonly kind: 'diverging'; readonly divergingEpoch: number; readonly divergingEndOffset: number }
  /** The follower's epoch is older than ours (KIP-320 FENCED_LEADER_EPOCH): it must refresh its metadata. */
  | { readonly kind: 'fenced-epoch'; readonly leaderEpoch: number }
  /** The follower's epoch is newer than ours (UNKNOWN_LEADER_EPOCH): we have not learned it yet; retry. */
  | { readonly kind: 'unknown-epoch'; readonly leaderEpoch: number }
  /** The offset is outside our log (below retention, or past the end with no epoch to compare). */
  | { readonly kind: 'out-of-range'; readonly logStartOffset: number; readonly logEndOffset: number };

/**
 * The leader's check of one fetch (Kafka Partition.fetchRecords). Order matters: the epoch fence
 * first (KIP-320: a request from another epoch's view says nothing about our log), then the
 * divergence check (KIP-279: if the largest epoch we know ≤ lastFetchedEpoch is not that epoch, or it
 * ends before fetchOffset, the follower holds records we never had), then the range.
 */
export function validateFetch(req: FetchPosition, leader: LeaderLogView): FetchValidation {
  if (req.currentLeaderEpoch < leader.leaderEpoch) return { kind: 'fenced-epoch', leaderEpoch: leader.leaderEpoch };
  if (req.currentLeaderEpoch > leader.leaderEpoch) return { kind: 'unknown-epoch', leaderEpoch: leader.leaderEpoch };
  if (req.lastFetchedEpoch !== UNDEFINED_EPOCH) {
    const end = leader.history.endOffsetFor(req.lastFetchedEpoch, leader.logEndOffset);
    if (end.epoch < req.lastFetchedEpoch || end.endOffset < req.fetchOffset) {
      return { kind: 'diverging', divergingEpoch: end.epoch, divergingEndOffset: end.endOffset };
    }
  }
  if (req.fetchOffset < leader.logStartOffset || req.fetchOffset > leader.logEndOffset) {
    return { kind: 'out-of-range', logStartOffset: leader.logStartOffset, logEndOffset: leader.logEndOffset };
  }
  return { kind: 'serve', fetchOffset: req.fetchOffset };
}

// ---------------------------------------------------------------- the follower's side

export interface FollowerLogView {
  readonly history: EpochHistory;
  readonly logEndOffset: number;
  /** The follower's local high watermark (what it last learned from a leader, bounded by its log end). */
  readonly highWatermark: number;
  /** The partition's unclean-leader-election setting (off by default). */
  readonly uncleanLeaderElection: boolean;
}

export type TruncationDecision =
  /**
   * Truncate the log (and the epoch history, truncateFromEnd) to `truncateTo`, then fetch again.
   * `completed` false: we knew no epoch the leader named, so this is an intermediate step (Kafka's
   * "intermediateOffsetToTruncateTo"); the next fetch carries an older lastFetchedEpoch.
   */
  | { readonly kind: 'truncate'; readonly truncateTo: number; readonly completed: boolean }
  /**
   * The truncation would remove records below our high watermark: records that were committed.
   * With clean elections only that cannot happen, so it means an unclean election or a bug; we stop
   * replicating this partition and report rather than destroy committed data.
   */
  | { readonly kind: 'refuse'; readonly truncateTo: number; readonly highWatermark: number };

/**
 * Where the follower truncates after a diverging-epoch answer (Kafka
 * AbstractFetcherThread.getOffsetTruncationState, which KIP-279 reuses for the fetch response):
 * - the leader knows no epoch ≤ ours (`{ -1, -1 }`): nothing to compare; fall back to our high
 *   watermark, the pre-KIP-101 rule, which is the only offset the leader vouched for;
 * - we know the leader's diverging epoch: the smaller of its end on the leader and its end here;
 * - we know only an older epoch than that one: truncate to where our older epoch ends, not completed
 *   (the next fetch asks about that older epoch);
 * - we know no epoch ≤ it at all: the leader's end offset for it.
 * Never past our own log end. Below the high watermark only with unclean leader election.
 */
export function followerTruncation(
  answer: { readonly divergingEpoch: number; readonly divergingEndOffset: number },
  follower: FollowerLogView,
): TruncationDecision {
  const leo = follower.logEndOffset;
  let truncateTo: number;
  let completed = true;
  if (answer.divergingEndOffset === UNDEFINED_OFFSET || answer.divergingEpoch === UNDEFINED_EPOCH) {
    truncateTo = Math.min(follower.highWatermark, leo);
  } else {
    const mine = follower.history.endOffsetFor(answer.divergingEpoch, leo);
    if (mine.epoch === UNDEFINED_EPOCH) {
      truncateTo = Math.min(answer.divergingEndOffset, leo);
    } else if (mine.epoch !== answer.divergingEpoch) {
      truncateTo = Math.min(mine.endOffset, leo);
      completed = false;
    } else {
      truncateTo = Math.min(mine.endOffset, answer.divergingEndOffset, leo);
    }
  }
  if (truncateTo < follower.highWatermark && !follower.uncleanLeaderElection) {
    return { kind: 'refuse', truncateTo, highWatermark: follower.highWatermark };
  }
  return { kind: 'truncate', truncateTo, completed };
}

/**
 * A follower's high watermark from a fetch response: the leader's, never past what we hold
 * (Kafka Partition.updateFollowerFetchState's follower side, Log.updateHighWatermark bounded by LEO).
 */
export function followerHighWatermark(leaderHighWatermark: number, logEndOffset: number): number {
  return Math.min(leaderHighWatermark, logEndOffset);
}

/**
 * What a replica truncates when it restarts: nothing. Before KIP-101, Kafka truncated a restarting
 * follower to its checkpointed high watermark, and that lost committed records (KIP-101 scenario 1:
 * the follower's HW lags the leader's, it truncates a committed record, then becomes leader). Since
 * KIP-101 the log is kept whole and the first fetch's divergence check decides; only a truncation
 * below the high watermark needs unclean leader election (see followerTruncation's 'refuse').
 *
 * The checkpointed high watermark may be past the recovered log end (fsync not 'always': the
 * unflushed tail is gone), so it is bounded by the log: we only claim what we hold.
 */
export function recoveredHighWatermark(checkpointedHighWatermark: number, logStartOffset: number, logEndOffset: number): number {
  return Math.max(logStartOffset, Math.min(checkpointedHighWatermark, logEndOffset));
}
