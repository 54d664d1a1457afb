// The slow-consumer sweep, run every SWEEP_MS by the owner. Live subscribers whose socket buffer passed
// slowConsumerBytes go back to catch-up reads (they stop costing the live path anything); a socket that
// stays blocked without draining anything for slowConsumerTimeoutMs is not reading at all and is cut
// off with SLOW_CONSUMER. A consumer that reads, however slowly, is never cut off: it falls behind in
// catch-up, where its cost is bounded by the catch-up high-water mark, until retention passes it.
// Stall times are measured (monotonic clock), never stored.
import { ErrorCode, TickbusError } from '../../schemas/errors.js';
import { CloseCode } from '../edge/session.js';
import { logLine } from '../logger.js';
import type { OwnerContext } from './context.js';
import { Counter } from './counters.js';

export function sweepSlowConsumers(ctx: OwnerContext, nowMonoMs: number): void {
  const { slowConsumerBytes: limit, slowConsumerTimeoutMs: timeoutMs } = ctx.config;
  const blockedAt = Math.floor(limit / 2);
  for (const conn of ctx.edge.sessions) {
    if (conn.subs.size === 0 || !conn.ws) continue;
    const buffered = conn.ws.getBufferedAmount();
    if (buffered > limit) {
      for (const sub of conn.subs.values()) {
        if (sub.mode === 'live') {
          sub.leaveLive();
          ctx.counters.add(Counter.slowConsumerMoves);
        }
      }
    }
    if (buffered < blockedAt) {
      conn.stalledSince = 0;
      continue;
    }
    if (conn.stalledSince === 0) conn.stalledSince = nowMonoMs;
    else if (nowMonoMs - Math.max(conn.stalledSince, conn.lastDrain) > timeoutMs) {
      ctx.counters.add(Counter.slowConsumerDisconnects);
      logLine('slow consumer disconnected', { owner: ctx.ownerId, conn: conn.id, buffered });
      ctx.edge.reject(
        conn,
        new TickbusError(
          ErrorCode.SLOW_CONSUMER,
          `consumer did not read for ${timeoutMs} ms with ${buffered} bytes waiting; reconnect and resume from your last offset`,
        ),
        CloseCode.POLICY,
      );
    }
  }
}
