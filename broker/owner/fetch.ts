// Fetch: one bounded read from the log at an offset, answered with a FetchResult (a poll, not a stream).
import { asTickbusError, ErrorCode, TickbusError } from '../../schemas/errors.js';
import { encodeFrameView, type FrameOf } from '../../schemas/frames.js';
import type { OwnerContext } from './context.js';
import { requireLeader } from './leadership.js';
import type { ConnState } from './subscription.js';

/** Room left in a frame for the FetchResult's own fields. */
const FETCH_FRAME_OVERHEAD = 1024;

export function onFetch(ctx: OwnerContext, conn: ConnState, f: FrameOf<'Fetch'>): void {
  const p = ctx.registry.partitionOf(f.topic, f.partition);
  requireLeader(p, undefined);
  const max = Math.min(f.maxBytes > 0 ? f.maxBytes : ctx.config.catchUpChunkBytes, ctx.config.maxPayloadLength - FETCH_FRAME_OVERHEAD);
  // Past the log end is out of range; up to it a poll is valid (it sees committed records only).
  if (f.offset > p.log.nextOffset) {
    // Past the head is a client bug (or a log that lost its tail): say so, as Subscribe does, rather than
    // answering "nothing yet" to a poll that could never be served.
    throw new TickbusError(
      ErrorCode.OFFSET_OUT_OF_RANGE,
      `offset ${f.offset} is out of range for ${f.topic}/${f.partition}: the log holds ${p.log.logStartOffset} to ${p.log.nextOffset}`,
      { topic: f.topic, partition: f.partition },
    );
  }
  let batches: Uint8Array;
  try {
    // Committed batches only: between the high watermark and the log end the answer is empty, as at the head.
    batches = p.readCommitted(f.offset, max);
  } catch (err) {
    const e = asTickbusError(err, ErrorCode.STORAGE_ERROR);
    throw new TickbusError(e.code, e.message, { topic: f.topic, partition: f.partition, cause: err });
  }
  conn.ws?.send(
    encodeFrameView({
      type: 'FetchResult',
      requestId: f.requestId,
      topic: f.topic,
      partition: f.partition,
      highWatermark: p.highWatermark,
      logStartOffset: p.log.logStartOffset,
      batches,
    }),
    true,
    false,
  );
}
