// What the SDK's inner parts (the consumer-group member in group.ts) may use of a connected client.
// Kept in its own module so group.ts, subscription.ts and bus.ts need no import cycle.
import type { Frame } from '../schemas/frames.js';
import type { Backoff } from './backoff.js';
import type { Connection, ConnectionListener } from './connection.js';
import type { TopicMeta } from './metadata.js';
import type { ResolvedOptions } from './options.js';

/** Frames that carry a request id (the connection assigns it; pass 0). */
export type RequestFrame = Extract<Frame, { requestId: number }>;

export interface BusInternals {
  readonly options: ResolvedOptions;
  readonly clientId: string;
  /**
   * One request on the client's shared bootstrap connection (reopened as needed). Resolves with the
   * answer frame; an ErrorReply rejects with its TickbusError (retryable ones too: the caller decides).
   */
  bootstrapRequest(frame: RequestFrame, timeoutMs?: number): Promise<Frame>;
  /**
   * A dedicated bootstrap connection for a session that receives pushed frames (a group member's
   * GroupAssignment): `listener.onFrame` gets every frame that answers no request of it, and
   * `listener.onClose` its end. The caller owns it and closes it.
   */
  openBootstrap(listener: ConnectionListener): Promise<Connection>;
  /** Topic metadata (cached; `refresh` asks the broker). Rejects UNKNOWN_TOPIC for a missing topic. */
  metadata(topic: string, refresh?: boolean): Promise<TopicMeta>;
  /** A backoff with the client's reconnect settings (exponential, full jitter). */
  newBackoff(): Backoff;
  /** True once bus.close() started. */
  readonly closing: boolean;
}

/**
 * The consumer-group side of a subscription, returned by group.ts's joinGroup(). The subscription
 * calls these; the member drives the subscription through sub.assign() / sub.revoke() / sub.positions().
 */
export interface GroupMember {
  /** Commits the subscription's current positions of the member's partitions to the group. */
  commit(): Promise<void>;
  /** Leaves the group: final commit (if auto-commit), revoke, LeaveGroup. Called by sub.close(). */
  close(): Promise<void>;
}
