// Produce: the live path's write half, one synchronous run from decoded frame to ack:
//   partitionOf → Partition.appendAndPublish (stamp in place, writeSync, uWS publish) → ProduceAck
// `f.batch` is a view into uWS's message buffer, valid only until the handler returns: it is stamped,
// written and published before then, never kept.
import { asTickbusError, ErrorCode, TickbusError } from '../../schemas/errors.js';
import { encodeFrameView, type FrameOf } from '../../schemas/frames.js';
import { monotonicMs, wallClockUs } from '../clock.js';
import type { OwnerContext } from './context.js';
import { Counter } from './counters.js';
import { requireLeader } from './leadership.js';
import type { ConnState } from './subscription.js';

/** Debt past this (ms of the principal's rate) refuses produce requests until it is paid off. */
export const MAX_THROTTLE_MS = 30_000;

const nowAck: FrameOf<'ProduceAck'> = { type: 'ProduceAck', requestId: 0, topic: '', partition: 0, baseOffset: 0, recordCount: 0, highWatermark: 0, duplicate: false, throttleMs: 0 };

export function onProduce(ctx: OwnerContext, conn: ConnState, f: FrameOf<'Produce'>): void {
  const p = ctx.registry.partitionOf(f.topic, f.partition);
  const leader = requireLeader(p, f.leaderEpoch);
  // acks=all with too few in-sync replicas is refused before anything is appended (Kafka's rule).
  if (leader !== null && f.acks === 'all') leader.checkAcksAll();
  // Quota: served, then throttled (the ack says how long to wait). Only a producer that ignores the hint
  // runs far enough into debt to be refused, and then only this request (retryable).
  const now = ctx.quotas.enabled ? monotonicMs() : 0;
  const quota = ctx.quotas.enabled ? ctx.quotas.of(conn.principal, now)?.produce : null;
  if (quota && quota.delayMs(now) > MAX_THROTTLE_MS) {
    throw new TickbusError(
      ErrorCode.LIMIT_EXCEEDED,
      `principal '${conn.principal}' is over its produce quota by more than ${MAX_THROTTLE_MS} ms of its rate: wait for ProduceAck.throttleMs before sending`,
      { retryable: true, topic: f.topic, partition: f.partition },
    );
  }
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
  const throttleMs = quota ? quota.take(f.batch.length, monotonicMs()) : 0;
  if (f.acks === 'none') return;
  const synchronous = f.acks === 'leader' && p.log.config.fsync !== 'always';
  // Acknowledged now (acks leader, no fsync policy in the way): the ack is encoded at once, so one frame
  // object serves every produce (no allocation per message on the live path). Later acks keep their own.
  const ack = synchronous ? nowAck : { ...nowAck };
  ack.requestId = f.requestId;
  ack.topic = f.topic;
  ack.partition = f.partition;
  ack.baseOffset = res.baseOffset;
  ack.recordCount = res.recordCount;
  ack.highWatermark = p.highWatermark;
  ack.duplicate = res.duplicate;
  ack.throttleMs = throttleMs;
  if (synchronous) {
    conn.ws?.send(encodeFrameView(ack), true, false);
    return;
  }
  if (leader !== null && f.acks === 'all') {
    // Cluster: acknowledged once every in-sync replica has it (the high watermark passed the batch). A
    // duplicate waits too: the original may not be committed yet.
    leader.awaitCommit(conn, res.baseOffset + res.recordCount - 1, ack);
    return;
  }
  // durable, fsync 'always' (no ack before the fsync, whatever acks the producer asked for) and, on one node,
  // 'all' (the log is the only replica): group commit — one fdatasync answers every batch appended before it.
  p.log.flush().then(
    () => {
      if (conn.open) conn.ws?.send(encodeFrameView(ack), true, false);
    },
    (err: unknown) => {
      if (conn.open) ctx.edge.sendError(conn, asTickbusError(err, ErrorCode.STORAGE_ERROR), f.requestId);
    },
  );
}
