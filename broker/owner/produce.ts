// Produce: the live path's write half, one synchronous run from decoded frame to ack:
//   partitionOf → Partition.appendAndPublish (stamp in place, writeSync, uWS publish) → ProduceAck
// `f.batch` is a view into uWS's message buffer, valid only until the handler returns: it is stamped,
// written and published before then, never kept.
import { asTickbusError, ErrorCode } from '../../schemas/errors.js';
import { encodeFrameView, type FrameOf } from '../../schemas/frames.js';
import { wallClockUs } from '../clock.js';
import type { OwnerContext } from './context.js';
import { Counter } from './counters.js';
import { requireLeader } from './leadership.js';
import type { ConnState } from './subscription.js';

export function onProduce(ctx: OwnerContext, conn: ConnState, f: FrameOf<'Produce'>): void {
  const p = ctx.registry.partitionOf(f.topic, f.partition);
  const leader = requireLeader(p, f.leaderEpoch);
  // acks=all with too few in-sync replicas is refused before anything is appended (Kafka's rule).
  if (leader !== null && f.acks === 'all') leader.checkAcksAll();
  const c = ctx.counters;
  c.add(Counter.produceRequests);
  // The append time is stored (time index, retention, `from: {timestamp}`): wall clock, never monotonic.
  const res = p.appendAndPublish(f.batch, wallClockUs());
  if (res.duplicate) c.add(Counter.duplicateBatches);
  else {
    c.add(Counter.recordsIn, res.recordCount);
    c.add(Counter.bytesIn, f.batch.length);
    c.add(Counter.deliverFrames);
  }
  if (f.acks === 'none') return;
  const ack: FrameOf<'ProduceAck'> = {
    type: 'ProduceAck',
    requestId: f.requestId,
    topic: f.topic,
    partition: f.partition,
    baseOffset: res.baseOffset,
    recordCount: res.recordCount,
    highWatermark: p.highWatermark,
    duplicate: res.duplicate,
  };
  if (leader !== null && f.acks === 'all') {
    // Cluster: acknowledged once every in-sync replica has it (the high watermark passed the batch). A
    // duplicate waits too: the original may not be committed yet.
    leader.awaitCommit(conn, res.baseOffset + res.recordCount - 1, ack);
    return;
  }
  // fsync 'always' means no ack before the fsync, whatever acks the producer asked for. On one node 'all' is
  // 'durable' (the log is the only replica).
  if (f.acks === 'leader' && p.log.config.fsync !== 'always') {
    conn.ws?.send(encodeFrameView(ack), true, false);
    return;
  }
  // durable: group commit — one fdatasync answers every batch appended before it started.
  p.log.flush().then(
    () => {
      if (conn.open) conn.ws?.send(encodeFrameView(ack), true, false);
    },
    (err: unknown) => {
      if (conn.open) ctx.edge.sendError(conn, asTickbusError(err, ErrorCode.STORAGE_ERROR), f.requestId);
    },
  );
}
