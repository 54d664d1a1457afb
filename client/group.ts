// A consumer-group member: the client side of `subscribe(topic, { group })`.
//
// It keeps a dedicated bootstrap connection to the coordinator (assignments are pushed on it),
// heartbeats on it, and drives the subscription through assign() / revoke() / positions():
//   - an assignment that drops partitions: revoke them (the record being handled finishes first),
//     commit their final positions (auto-commit), THEN AssignmentAck — only after that ack does the
//     coordinator give them to another member, so no partition is ever read by two members at once;
//   - an assignment that adds partitions: FetchOffsets, then read each from its committed offset
//     (or from the subscription's `from` where nothing is committed).
// Everything that changes the membership (assignments, a lost session, reconnecting) runs through
// one serial queue, in arrival order. Commits do not: a handler may call commit() while a revoke
// waits for that handler to finish.
//
// When the session is lost (connection closed, or the coordinator dropped the member), the
// coordinator has already given its partitions away: the member stops reading all of them at once,
// without committing (it would be fenced), and joins again as a new member after a backoff.
import { errorFromFrame, type Frame, type FrameOf, type PartitionOffsetWire } from '../schemas/frames.js';
import type { Backoff } from './backoff.js';
import type { BusInternals, GroupMember } from './bus-internals.js';
import type { JoinGroupFn } from './bus.js';
import type { Connection } from './connection.js';
import { ErrorCode, TickbusError } from './errors.js';
import type { SubscribeOptions, Subscription } from './subscription.js';

export const GROUP_DEFAULTS = {
  autoCommit: true,
  autoCommitIntervalMs: 5_000,
  sessionTimeoutMs: 10_000,
} as const;

interface GroupSettings {
  autoCommit: boolean;
  autoCommitIntervalMs: number;
  sessionTimeoutMs: number;
}

type Event =
  | { kind: 'connect' }
  | { kind: 'assignment'; frame: FrameOf<'GroupAssignment'>; session: number }
  | { kind: 'lost'; err: TickbusError; session: number };

/** Validates the group options of SubscribeOptions; throws TypeError/RangeError naming the option. */
export function groupSettings(opts: SubscribeOptions): GroupSettings {
  const autoCommit = opts.autoCommit ?? GROUP_DEFAULTS.autoCommit;
  if (typeof autoCommit !== 'boolean') throw new TypeError(`autoCommit must be a boolean, got ${String(autoCommit)}`);
  const intIn = (name: string, v: number, min: number, max: number): number => {
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`${name} must be an integer, got ${String(v)}`);
    if (v < min || v > max) throw new RangeError(`${name} must be between ${min} and ${max}, got ${v}`);
    return v;
  };
  return {
    autoCommit,
    autoCommitIntervalMs: intIn('autoCommitIntervalMs', opts.autoCommitIntervalMs ?? GROUP_DEFAULTS.autoCommitIntervalMs, 1, 3_600_000),
    // The coordinator's bounds (broker/groups/coordinator.ts).
    sessionTimeoutMs: intIn('sessionTimeoutMs', opts.sessionTimeoutMs ?? GROUP_DEFAULTS.sessionTimeoutMs, 100, 600_000),
  };
}

function unref(t: ReturnType<typeof setTimeout>): void {
  // A timer of the group never keeps a Node process alive by itself (the socket does, while open).
  (t as { unref?: () => void }).unref?.();
}

class GroupSession implements GroupMember {
  private conn: Connection | null = null;
  private memberId = '';
  /** Generation of the newest assignment taken (commits carry it). */
  private generation = -1;
  /** Partitions this member has handed to the subscription. */
  private readonly owned = new Set<number>();
  private readonly lastCommitted = new Map<number, number>();
  /** Bumped whenever a connection/membership is abandoned: frames and answers of older ones are ignored. */
  private session = 0;
  private joinRequestId = 0;

  private readonly queue: Event[] = [];
  private running = false;
  private idleWaiters: (() => void)[] = [];

  private heartbeatTimer: ReturnType<typeof setInterval> | null = null;
  private commitTimer: ReturnType<typeof setInterval> | null = null;
  private joinTimer: ReturnType<typeof setTimeout> | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly backoff: Backoff;
  private closing: Promise<void> | null = null;

  constructor(
    private readonly bus: BusInternals,
    private readonly topic: string,
    private readonly group: string,
    private readonly sub: Subscription,
    private readonly settings: GroupSettings,
  ) {
    this.backoff = bus.newBackoff();
    this.heartbeatTimer = setInterval(() => this.heartbeat(), Math.max(50, Math.floor(settings.sessionTimeoutMs / 3)));
    unref(this.heartbeatTimer);
    if (settings.autoCommit) {
      this.commitTimer = setInterval(() => {
        this.commitPositions(false).catch(() => undefined); // the next interval (or the final commit) tries again
      }, settings.autoCommitIntervalMs);
      unref(this.commitTimer);
    }
    this.push({ kind: 'connect' });
  }

  // ------------------------------------------------------------------ GroupMember

  commit(): Promise<void> {
    return this.commitPositions(true);
  }

  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  // ------------------------------------------------------------------ the serial queue

  private push(ev: Event): void {
    this.queue.push(ev);
    if (!this.running) void this.pump();
  }

  private async pump(): Promise<void> {
    this.running = true;
    try {
      for (let ev = this.queue.shift(); ev; ev = this.queue.shift()) {
        try {
          if (ev.kind === 'connect') await this.connect();
          else if (ev.kind === 'assignment') await this.apply(ev.frame, ev.session);
          else await this.lose(ev.err, ev.session);
        } catch (err) {
          // A step failed half-way (a commit or offset fetch timed out...): start over as a new member.
          const e = err instanceof TickbusError ? err : new TickbusError(ErrorCode.INTERNAL, String(err), { cause: err });
          if (this.closing === null) this.queue.unshift({ kind: 'lost', err: e, session: this.session });
        }
      }
    } finally {
      this.running = false;
      const ws = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of ws) w();
    }
  }

  /** Resolves when the queue is empty (or after `ms`: a stuck step must not block close()). */
  private idle(ms: number): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.idleWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  // ------------------------------------------------------------------ steps

  private async connect(): Promise<void> {
    if (this.closing || this.sub.closed) return;
    const session = ++this.session;
    let conn: Connection;
    try {
      conn = await this.bus.openBootstrap({
        onFrame: (f) => this.onFrame(f, session),
        onClose: (err) => this.push({ kind: 'lost', err, session }),
      });
    } catch (err) {
      const e = err instanceof TickbusError ? err : new TickbusError(ErrorCode.CONNECTION_CLOSED, String(err), { cause: err });
      this.retryOrFail(e);
      return;
    }
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- close() may have run during the await
    if (this.closing || session !== this.session) {
      conn.close();
      return;
    }
    this.conn = conn;
    const join: FrameOf<'JoinGroup'> = { type: 'JoinGroup', requestId: 0, group: this.group, topic: this.topic, memberId: '', sessionTimeoutMs: this.settings.sessionTimeoutMs };
    // Posted, not requested: the answer is a GroupAssignment, which the connection hands to onFrame
    // like every pushed one (an ErrorReply for it comes there too, matched by request id).
    conn.post(join);
    this.joinRequestId = join.requestId;
    this.joinTimer = setTimeout(() => {
      this.joinTimer = null;
      this.push({ kind: 'lost', err: new TickbusError(ErrorCode.TIMEOUT, `JoinGroup '${this.group}' had no answer within ${this.bus.options.requestTimeoutMs} ms`), session });
    }, this.bus.options.requestTimeoutMs);
    unref(this.joinTimer);
  }

  private onFrame(f: Frame, session: number): void {
    if (session !== this.session) return;
    if (f.type === 'GroupAssignment') {
      if (f.group === this.group && f.topic === this.topic) this.push({ kind: 'assignment', frame: f, session });
      return;
    }
    if (f.type !== 'ErrorReply') return;
    const err = errorFromFrame(f);
    if (f.requestId !== 0 && f.requestId === this.joinRequestId) {
      // The join was refused: UNKNOWN_TOPIC, a bad option... are final; SHUTTING_DOWN and the like are retried.
      if (err.retryable) this.push({ kind: 'lost', err, session });
      else this.fail(err);
      return;
    }
    if (f.requestId !== 0 || f.topic !== this.topic) return; // connection-wide errors: the close that follows says it
    if (f.code === ErrorCode.UNKNOWN_MEMBER) this.push({ kind: 'lost', err, session });
    else if (!err.retryable) this.fail(err); // TOPIC_DELETED
  }

  private async apply(f: FrameOf<'GroupAssignment'>, session: number): Promise<void> {
    if (session !== this.session || this.closing || !this.conn) return;
    if (this.memberId === '') {
      if (f.requestId !== this.joinRequestId) return;
      this.memberId = f.memberId;
      if (this.joinTimer) clearTimeout(this.joinTimer);
      this.joinTimer = null;
      this.backoff.reset();
    } else if (f.memberId !== this.memberId) return;
    if (f.generation <= this.generation) return;
    this.generation = f.generation;
    const next = new Set(f.partitions);
    const lost = [...this.owned].filter((p) => !next.has(p));
    const gained = f.partitions.filter((p) => !this.owned.has(p));

    if (lost.length > 0) {
      const positions = await this.sub.revoke(lost);
      for (const p of lost) this.owned.delete(p);
      if (this.settings.autoCommit) await this.send(this.changed(positions, lost)).catch(() => undefined); // fenced: the next owner re-reads
      for (const p of lost) this.lastCommitted.delete(p);
    }
    // Only now may the coordinator give the dropped partitions to another member.
    this.conn.post({ type: 'AssignmentAck', group: this.group, memberId: this.memberId, generation: f.generation });

    if (gained.length > 0) {
      const answer = await this.conn.call({ type: 'FetchOffsets', requestId: 0, group: this.group, topic: this.topic });
      if (answer.type !== 'OffsetsResult') throw new TickbusError(ErrorCode.MALFORMED_FRAME, `FetchOffsets was answered with ${answer.type}`);
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- close() may have run during the await
      if (session !== this.session || this.closing !== null || this.sub.closed) return;
      const committed = new Map(answer.offsets.map((o) => [o.partition, o.offset]));
      const starts = new Map<number, number>();
      for (const p of gained) {
        const c = committed.get(p);
        if (c === undefined) continue; // nothing committed: the subscription's `from`
        starts.set(p, c);
        this.lastCommitted.set(p, c);
      }
      this.sub.assign(gained, starts);
      for (const p of gained) this.owned.add(p);
    }
  }

  /** The session is gone: stop reading everything (no commit: it would be fenced), then join again. */
  private async lose(err: TickbusError, session: number): Promise<void> {
    if (session !== this.session) return;
    this.session++;
    if (this.joinTimer) clearTimeout(this.joinTimer);
    this.joinTimer = null;
    const conn = this.conn;
    this.conn = null;
    this.memberId = '';
    this.generation = -1;
    this.lastCommitted.clear();
    const all = [...this.owned];
    this.owned.clear();
    if (all.length > 0) await this.sub.revoke(all);
    conn?.close();
    if (this.closing || this.sub.closed) return;
    this.retryOrFail(new TickbusError(ErrorCode.CONNECTION_CLOSED, `consumer group '${this.group}' session lost: ${err.message}`, { cause: err, topic: this.topic }));
  }

  private retryOrFail(err: TickbusError): void {
    if (this.closing) return;
    if (!err.retryable && err.code !== ErrorCode.CONNECTION_CLOSED) return this.fail(err);
    if (this.backoff.attempts >= this.bus.options.reconnect.maxRetries || this.bus.closing) {
      return this.fail(new TickbusError(ErrorCode.CONNECTION_CLOSED, `could not rejoin consumer group '${this.group}' after ${this.backoff.attempts} attempts: ${err.message}`, { cause: err, topic: this.topic, retryable: false }));
    }
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.push({ kind: 'connect' });
    }, this.backoff.next());
  }

  private fail(err: TickbusError): void {
    if (this.closing) return;
    this.sub.failWith(err); // closes the subscription, which closes this member
  }

  // ------------------------------------------------------------------ heartbeats and commits

  private heartbeat(): void {
    // A subscription closed before this member was attached to it cannot close the member: do it here.
    if (this.sub.closed && this.closing === null) {
      void this.close();
      return;
    }
    const conn = this.conn;
    if (!conn || conn.closed || this.memberId === '' || this.closing) return;
    const session = this.session;
    conn.request(
      { type: 'Heartbeat', requestId: 0, group: this.group, memberId: this.memberId, generation: this.generation },
      (err) => {
        // TIMEOUT and CONNECTION_CLOSED say nothing new: the session timeout or the close event decides.
        if (err?.code === ErrorCode.UNKNOWN_MEMBER) this.push({ kind: 'lost', err, session });
      },
      this.settings.sessionTimeoutMs,
    );
  }

  /** Offsets in `positions` of `partitions` that differ from what this member last committed. */
  private changed(positions: Map<number, number>, partitions: Iterable<number>): PartitionOffsetWire[] {
    const out: PartitionOffsetWire[] = [];
    for (const p of partitions) {
      const offset = positions.get(p);
      if (offset !== undefined && offset !== this.lastCommitted.get(p)) out.push({ partition: p, offset });
    }
    return out;
  }

  /** Commits the subscription's positions of the partitions this member owns (auto-commit and commit()). */
  private commitPositions(explicit: boolean): Promise<void> {
    if (this.memberId === '' || !this.conn || this.conn.closed) {
      if (!explicit) return Promise.resolve();
      return Promise.reject(new TickbusError(ErrorCode.CONNECTION_CLOSED, `not a member of group '${this.group}' right now (joining): commit again once records arrive`, { topic: this.topic }));
    }
    return this.send(this.changed(this.sub.positions(), this.owned));
  }

  private async send(offsets: PartitionOffsetWire[]): Promise<void> {
    const conn = this.conn;
    if (offsets.length === 0 || !conn) return;
    const session = this.session;
    try {
      await conn.call({ type: 'CommitOffsets', requestId: 0, group: this.group, topic: this.topic, memberId: this.memberId, generation: this.generation, offsets });
    } catch (err) {
      if (err instanceof TickbusError && err.code === ErrorCode.UNKNOWN_MEMBER && this.closing === null) this.push({ kind: 'lost', err, session });
      throw err;
    }
    if (session === this.session) for (const o of offsets) this.lastCommitted.set(o.partition, o.offset);
  }

  // ------------------------------------------------------------------ leaving

  private async doClose(): Promise<void> {
    for (const t of [this.heartbeatTimer, this.commitTimer]) if (t) clearInterval(t);
    for (const t of [this.joinTimer, this.retryTimer]) if (t) clearTimeout(t);
    this.heartbeatTimer = this.commitTimer = this.joinTimer = this.retryTimer = null;
    // Let an assignment being applied finish, so what it assigned is committed below.
    await this.idle(2 * this.bus.options.requestTimeoutMs);
    const conn = this.conn;
    const member = this.memberId;
    this.session++;
    try {
      const all = [...this.owned];
      this.owned.clear();
      const positions = all.length > 0 ? await this.sub.revoke(all) : new Map<number, number>();
      if (conn && !conn.closed && member !== '') {
        if (this.settings.autoCommit) await this.send(this.changed(positions, all)).catch(() => undefined);
        // Leaving (rather than letting the session time out) hands the partitions on at once.
        await conn.call({ type: 'LeaveGroup', requestId: 0, group: this.group, memberId: member }).catch(() => undefined);
      }
    } finally {
      this.conn = null;
      this.memberId = '';
      conn?.close();
    }
  }
}

export const joinGroup: JoinGroupFn = (bus, topic, group, sub, opts) => {
  let settings: GroupSettings;
  try {
    settings = groupSettings(opts);
  } catch (err) {
    sub.failWith(new TickbusError(ErrorCode.INVALID_REQUEST, `subscribe('${topic}', { group: '${group}' }): ${err instanceof Error ? err.message : String(err)}`, { topic }));
    return { commit: () => Promise.reject(new TickbusError(ErrorCode.INVALID_REQUEST, 'the subscription failed', { topic })), close: () => Promise.resolve() };
  }
  return new GroupSession(bus, topic, group, sub, settings);
};
