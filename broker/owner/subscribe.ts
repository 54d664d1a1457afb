// Subscribe, Unsubscribe and Credit: where a subscription starts, and its credit window.
// The subscription itself (catch-up reads, joining and leaving the live stream) is subscription.ts.
import { asTickbusError, ErrorCode, TickbusError } from '../../schemas/errors.js';
import { encodeFrameView, type FrameOf } from '../../schemas/frames.js';
import type { OwnerContext } from './context.js';
import { monotonicMs } from '../clock.js';
import { requireLeader, requireReplicaRead } from './leadership.js';
import type { Partition } from './partition.js';
import { type ConnState, Subscription, subKey } from './subscription.js';

type Start = FrameOf<'Subscribe'>['starts'][number];

export function onSubscribe(ctx: OwnerContext, conn: ConnState, f: FrameOf<'Subscribe'>): void {
  if (f.starts.length === 0) throw new TickbusError(ErrorCode.INVALID_REQUEST, `Subscribe to '${f.topic}' names no partition`);
  for (const s of f.starts) {
    // Each partition succeeds or fails alone.
    try {
      const p = ctx.registry.partitionOf(f.topic, s.partition);
      const isolation = f.isolation ?? 'committed';
      let follower = false;
      if (f.fromReplica === true) {
        // Zone-aware reads: a follower has only committed records to give (its append stream is the leader's, unconfirmed).
        if (isolation !== 'committed') throw new TickbusError(ErrorCode.INVALID_REQUEST, `a read from a replica is committed-only; isolation '${isolation}' reads from the leader`, { topic: f.topic, partition: s.partition });
        follower = requireReplicaRead(p, s.leaderEpoch, monotonicMs()) !== null;
      } else requireLeader(p, s.leaderEpoch);
      const start = startOffset(p, s, isolation, follower);
      const key = subKey(p.topicId, p.partition);
      conn.subs.get(key)?.close(); // a new Subscribe replaces the old one; frames before SubscribeOk were the old one's
      const credit = f.creditBytes > 0 ? f.creditBytes : Infinity;
      const sub = new Subscription(conn, p, start, credit, ctx.pump, isolation);
      conn.subs.set(key, sub);
      conn.ws?.send(
        encodeFrameView({
          type: 'SubscribeOk',
          requestId: f.requestId,
          topic: f.topic,
          partition: p.partition,
          startOffset: start,
          highWatermark: p.highWatermark,
          logStartOffset: p.log.logStartOffset,
        }),
        true,
        false,
      );
      sub.start();
    } catch (err) {
      ctx.edge.sendError(conn, asTickbusError(err), f.requestId);
    }
  }
}

/**
 * Where a subscription starts. Committed reads start at most at the high watermark — except that in a
 * cluster an offset up to the log end is accepted and waits for the high watermark to reach it: a
 * consumer resuming on a new leader whose high watermark has not caught up yet must not be refused.
 * Isolation 'leader' reads up to the log end. On a follower serving a replica read any offset from the
 * log start is accepted (read-your-writes: the consumer's own write may not have reached this replica
 * yet): the subscription waits for the high watermark, at most followerReadMaxLagMs (follower-role.ts).
 */
function startOffset(p: Partition, s: Start, isolation: 'committed' | 'leader', follower: boolean): number {
  const log = p.log;
  const head = isolation === 'leader' && p.replica !== null ? p.logEndOffset : p.highWatermark;
  const limit = s.kind === 'offset' && follower ? Number.MAX_SAFE_INTEGER : s.kind === 'offset' && p.replica !== null ? p.logEndOffset : head;
  switch (s.kind) {
    case 'earliest':
      return log.logStartOffset;
    case 'latest':
      return limit;
    case 'timestamp':
      return Math.min(log.offsetForTimestamp(s.value), limit);
    case 'offset':
      if (s.value < log.logStartOffset || s.value > limit) {
        throw new TickbusError(
          ErrorCode.OFFSET_OUT_OF_RANGE,
          `offset ${s.value} is out of range for ${p.topic}/${p.partition}: the log holds ${log.logStartOffset} to ${limit}`,
          { topic: p.topic, partition: p.partition },
        );
      }
      return s.value;
  }
}

export function onUnsubscribe(ctx: OwnerContext, conn: ConnState, f: FrameOf<'Unsubscribe'>): void {
  const topicId = ctx.registry.topicId(f.topic);
  if (topicId === undefined) return;
  for (const partition of f.partitions) {
    const key = subKey(topicId, partition);
    conn.subs.get(key)?.close();
    conn.subs.delete(key);
  }
}

export function onCredit(ctx: OwnerContext, conn: ConnState, f: FrameOf<'Credit'>): void {
  const topicId = ctx.registry.topicId(f.topic);
  if (topicId === undefined) return;
  conn.subs.get(subKey(topicId, f.partition))?.grant(f.bytes);
}
