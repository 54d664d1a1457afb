// A subscription to one topic: records in offset order per partition, with no gap and no duplicate,
// across reconnects, broker restarts and the broker's slow-consumer fallbacks.
//
// The invariant lives in one place, the receive filter (onDeliver): for each partition the client
// keeps `received`, the next offset it expects from the wire.
//   - records below it are duplicates (a Deliver may start inside an earlier batch): skipped;
//   - a batch that starts above it is a GAP: nothing past it is taken; the partition is
//     resubscribed from `received` on the same socket, and Deliver frames of the partition are
//     dropped until the new SubscribeOk (the broker's order: SubscribeOk, then its deliveries);
//   - a corrupt batch (CRC) is treated like a gap.
// Resubscribing after any disconnect also starts at `received`, so what was received once is never
// asked for again, and what was not is always asked for.
//
// Leaders: every Subscribe carries the leader epoch the metadata names; NOT_LEADER, a fenced or
// unknown epoch, NOT_OWNER, a dropped owner socket or a partition without a leader (endpoint '')
// all resubscribe from `received` on whichever broker the refreshed metadata names. With
// isolation 'leader' records arrive before they are committed, so a failover can truncate some
// the application has seen: the new leader then refuses `received` as past its head, and the
// subscription says so with a 'truncated' event and resumes below it (onOutOfRange).
//
// Zone-aware reads: with connect({ zone }) a committed subscription reads each partition from an
// in-sync replica in that zone when there is one (replica-choice.ts). Any error or disconnect from a
// replica (stale, stopped, out of range there) moves the partition to the leader or another in-zone
// replica by the same resubscribe from `received`, so the move is gap-free and duplicate-free too.
//
// Delivery: received frames are queued as chunks (views into the socket's message, no copy) and
// decoded one batch at a time as the application takes records, from the socket's message handler
// itself when the application uses a callback (no extra turn on the live path).
//
// Flow control: with creditBytes > 0 the broker sends at most that many bytes ahead of Credit
// frames. A chunk's bytes are granted back once all its records were taken, in grants of half the
// window; a paused subscription takes nothing, so it grants nothing and the broker stops.
import type { Frame, FrameOf, Isolation, StartSpec } from '../schemas/frames.js';
import {
  BATCH_HEADER_SIZE,
  BatchCheck,
  batchAppendTimeUs,
  batchBaseOffset,
  batchLength,
  batchRecordCount,
  checkBatch,
  type DecodedRecord,
  forEachRecord,
} from '../schemas/record-batch.js';
import { Backoff } from './backoff.js';
import type { BusInternals, GroupMember } from './bus-internals.js';
import type { Connection } from './connection.js';
import { Emitter } from './emitter.js';
import { ErrorCode, TickbusError } from './errors.js';
import { retriedAfterRefresh } from './metadata.js';
import type { ResolvedOptions } from './options.js';
import { OwnerLinks } from './owner-links.js';
import { readTarget, REPLICA_RETRY_MS } from './replica-choice.js';
import type { Transport } from './transport.js';

/** Where a subscription starts in a partition without a position. */
export type From = 'earliest' | 'latest' | { offset: number } | { timestamp: number };

export interface SubscribeOptions {
  /** Start position of every partition. Default 'latest' (new records only). For a group: used where nothing is committed. */
  from?: From;
  /** Partitions to read. Default: all. Not with `group`. */
  partitions?: number[];
  /** Consumer group: the topic's partitions are divided among the group's members. */
  group?: string;
  /** Flow-control window per partition, bytes. Default 1 MiB; 0 = no window (the broker sends as fast as it can). */
  creditBytes?: number;
  /** Group: commit positions periodically and on close/rebalance. Default true. */
  autoCommit?: boolean;
  /** Group: period of auto-commit, ms. Default 5000. */
  autoCommitIntervalMs?: number;
  /** Group: the coordinator drops a member silent this long, ms. Default 10 000. */
  sessionTimeoutMs?: number;
  /**
   * 'committed' (default): only records every in-sync replica has (below the high watermark): never
   * taken back by a failover. 'leader': records as soon as the leader appends them (lowest latency);
   * after a failover some may be truncated, and the subscription says so with a 'truncated' event.
   */
  isolation?: Isolation;
}

/** A failover truncated records an isolation 'leader' subscription had received; it resumes at `offset`. */
export interface TruncationInfo {
  topic: string;
  partition: number;
  /** The offset delivery resumes from: records at or after it that were seen before may have been replaced. */
  offset: number;
}

/** One delivered record. key, value and header values are views into the received frame (zero-copy). */
export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: number;
  /** Producer create time, ms since the epoch. */
  timestamp: number;
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers: Record<string, Uint8Array>;
}

export interface SubscriptionEvents {
  /** Callback form; a handler may return a promise: the next record waits for it. */
  record: [rec: ConsumedRecord];
  /** A typed error: OFFSET_OUT_OF_RANGE (records lost to retention), TOPIC_DELETED, UNKNOWN_PARTITION, retries exhausted... */
  error: [err: TickbusError];
  /** A connection of the subscription dropped; it resumes by itself. */
  disconnect: [err: TickbusError];
  /** Partitions resubscribed after a disconnect, retryable error or gap. */
  resume: [partitions: number[]];
  /** A gap (or corrupt batch) was seen: the partition is resubscribed from `expected`. */
  gap: [partition: number, expected: number, got: number];
  /** Isolation 'leader' only: a failover truncated records this subscription received; it resumes at `info.offset`. */
  truncated: [info: TruncationInfo];
  close: [];
}

export interface SubscriptionStats {
  records: number;
  /** Bytes of Deliver frames received. */
  bytes: number;
  gaps: number;
  corruptBatches: number;
  resubscribes: number;
  disconnects: number;
  creditGranted: number;
  /** 'truncated' events: a failover took back records this subscription had received (isolation 'leader'). */
  truncations: number;
}

type StartPos = { kind: 'earliest' } | { kind: 'latest' } | { kind: 'offset'; value: number } | { kind: 'timestamp'; value: number };
/** 'checking': a resubscribe was refused as out of range; fresh metadata decides why (onOutOfRange). */
type CursorState = 'pending' | 'subscribing' | 'checking' | 'active' | 'failed' | 'gone';

/** The subscription's place in one partition. */
interface Cursor {
  partition: number;
  /** Used while no offset is known (never subscribed, or repositioned by seek/assign). */
  start: StartPos;
  /** Next offset expected from the wire; -1 until the first SubscribeOk. */
  received: number;
  /** Next offset not yet handed to the application; -1 until known. */
  delivered: number;
  highWatermark: number;
  logStartOffset: number;
  state: CursorState;
  /** Incremented on every Subscribe: answers and chunks of an older one are recognised. */
  gen: number;
  conn: Connection | null;
  /** Bytes of fully consumed frames not yet granted back. */
  consumed: number;
  /** Leader epoch the metadata named when the cursor was last placed on a broker; -1 unknown. */
  leaderEpoch: number;
  /** When a resubscribe was first refused as past the head (ms), while that lasts; -1 otherwise. */
  outOfRangeSince: number;
  /** Zone-aware reads: the cursor is (being) placed on a follower, not the leader. */
  fromReplica: boolean;
  /** Replica endpoints that failed this partition → until when (ms) they are passed over. */
  avoid: Map<string, number>;
}

/** The cursor leaves its connection: answers and chunks of its current Subscribe are ignored from now on. */
function detach(c: Cursor, state: CursorState): void {
  c.state = state;
  c.conn = null;
  c.gen++;
}

/** A received Deliver frame's kept batches, [pos, end) of `bytes`. */
interface Chunk {
  cursor: Cursor;
  gen: number;
  bytes: Uint8Array;
  pos: number;
  end: number;
  /** Next offset to hand out from this chunk: records below are duplicates. */
  next: number;
  frameBytes: number;
}

function nowUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

/** `null` is in the type because JavaScript callers pass it, and get the TypeError below for it. */
export function startPos(from: From | number | null | undefined, what = 'from'): StartPos {
  if (from === undefined || from === 'latest') return { kind: 'latest' };
  if (from === 'earliest') return { kind: 'earliest' };
  if (typeof from === 'number') return { kind: 'offset', value: checkOffset(from, what) };
  if (typeof from === 'object' && from !== null) {
    if ('offset' in from) return { kind: 'offset', value: checkOffset(from.offset, `${what}.offset`) };
    if ('timestamp' in from) return { kind: 'timestamp', value: checkOffset(from.timestamp, `${what}.timestamp`) };
  }
  throw new TypeError(`${what} must be 'earliest', 'latest', { offset } or { timestamp }, got ${JSON.stringify(from)}`);
}

function checkOffset(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new RangeError(`${what} must be a non-negative integer, got ${String(v)}`);
  return v;
}

export interface SubscriptionContext {
  bus: BusInternals;
  options: ResolvedOptions;
  transport: Transport;
  /** Called once the subscription is closed (the client forgets it). */
  onClosed(sub: Subscription): void;
}

export class Subscription extends Emitter<SubscriptionEvents> implements AsyncIterable<ConsumedRecord> {
  readonly topic: string;
  /** Delivery latency of the last record handed out: broker ingress (batch append time) → handler, µs. */
  latencyUs = 0;
  readonly stats: SubscriptionStats = { records: 0, bytes: 0, gaps: 0, corruptBatches: 0, resubscribes: 0, disconnects: 0, creditGranted: 0, truncations: 0 };

  private readonly cursors = new Map<number, Cursor>();
  private readonly links: OwnerLinks;
  private readonly creditBytes: number;
  private readonly backoff: Backoff;
  private readonly maxRetries: number;
  private readonly checkCrcs: boolean;
  private readonly from: StartPos;
  private readonly isolation: Isolation;
  /** Zone for zone-aware reads; null: always the leader (no zone, or isolation 'leader', which only the leader serves). */
  private readonly zone: string | null;

  private queue: Chunk[] = [];
  private qHead = 0;
  private current: Chunk | null = null;
  private decoded: ConsumedRecord[] = [];
  private di = 0;
  private decodedAppendUs = 0;

  private paused = false;
  private closedFlag = false;
  /** close() started: nothing more is handed out. */
  private stopping = false;
  private closing: Promise<void> | null = null;
  private mode: 'none' | 'iterator' | 'callback' = 'none';
  private iterating = false;
  private waiter: { resolve: (r: IteratorResult<ConsumedRecord>) => void; reject: (e: unknown) => void } | null = null;
  private pendingError: TickbusError | null = null;
  /** Partition of the record the application is handling (callback running, or yielded and next() not yet called). */
  private inHandler = -1;
  private handlerIdle: (() => void)[] = [];
  private dispatching = false;

  private resumeTimer: ReturnType<typeof setTimeout> | null = null;
  private resuming = false;
  private resumeAgain = false;
  private member: GroupMember | null = null;

  constructor(
    private readonly ctx: SubscriptionContext,
    topic: string,
    opts: SubscribeOptions,
  ) {
    super();
    this.topic = topic;
    this.from = startPos(opts.from);
    // Checked as unknown: JavaScript callers get this message, whatever the types promise.
    const iso: unknown = opts.isolation ?? 'committed';
    if (iso !== 'committed' && iso !== 'leader') throw new TypeError(`isolation must be 'committed' or 'leader', got ${JSON.stringify(iso)}`);
    this.isolation = iso;
    this.zone = iso === 'committed' ? ctx.options.zone : null;
    const cb = opts.creditBytes ?? 1024 * 1024;
    if (!Number.isInteger(cb) || cb < 0 || cb > 0xffff_ffff) throw new RangeError(`creditBytes must be an integer from 0 to 4294967295, got ${String(cb)}`);
    this.creditBytes = cb;
    this.backoff = new Backoff(ctx.options.reconnect);
    this.maxRetries = ctx.options.reconnect.maxRetries;
    this.checkCrcs = ctx.options.checkCrcs;
    // Keepalive: a leader that stopped without closing its sockets (a paused process, a lost host) is
    // noticed after about 2 × requestTimeoutMs of silence, and the partitions move to the new leader.
    this.links = new OwnerLinks(
      ctx.options,
      ctx.transport,
      {
        onFrame: (f, size, conn) => this.onFrame(f, size, conn),
        onClose: (err, conn) => this.onConnectionClose(err, conn),
      },
      Math.max(1, Math.floor(ctx.options.requestTimeoutMs / 2)),
    );
  }

  // ------------------------------------------------------------------ public API

  /** Stops handing out records and granting credit (the broker stops within one window). */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.wake();
  }

  get isPaused(): boolean {
    return this.paused;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Partitions this subscription currently reads. */
  get partitions(): number[] {
    return [...this.cursors.keys()].sort((a, b) => a - b);
  }

  /** Where a partition is read from now (zone-aware reads): the owner endpoint and whether it is a follower. */
  readsFrom(partition: number): { url: string; fromReplica: boolean } | null {
    const c = this.cursors.get(partition);
    return c?.conn && (c.state === 'active' || c.state === 'subscribing') ? { url: c.conn.url, fromReplica: c.fromReplica } : null;
  }

  /** Records the broker has and this subscription has not handed out: high watermark − next offset. */
  lag(partition?: number): number {
    if (partition !== undefined) {
      const c = this.cursors.get(partition);
      return c ? cursorLag(c) : 0;
    }
    let sum = 0;
    for (const c of this.cursors.values()) sum += cursorLag(c);
    return sum;
  }

  /** Next offset to hand out, per partition (where known): what a consumer group commits. */
  positions(): Map<number, number> {
    const out = new Map<number, number>();
    for (const c of this.cursors.values()) {
      const pos = cursorPosition(c);
      if (pos >= 0) out.set(c.partition, pos);
    }
    return out;
  }

  /** Repositions one partition (e.g. to 'earliest' after OFFSET_OUT_OF_RANGE). Queued records of it are dropped. */
  seek(partition: number, from: From | number): void {
    this.place(partition, startPos(from, 'seek'));
    this.kickResume();
  }

  /**
   * Adds partitions (or repositions ones already read) at the given starts: an offset, 'earliest'
   * or 'latest'; a partition missing from `starts` starts at the subscription's `from`.
   */
  assign(partitions: number[], starts = new Map<number, number | 'earliest' | 'latest'>()): void {
    for (const p of partitions) {
      const s = starts.get(p);
      this.place(p, s === undefined ? this.from : startPos(s, `start of partition ${p}`));
    }
    this.kickResume();
  }

  private place(p: number, start: StartPos): void {
    if (this.closedFlag) throw new TickbusError(ErrorCode.INVALID_REQUEST, 'assign() or seek() on a closed subscription');
    if (!Number.isInteger(p) || p < 0) throw new RangeError(`partition must be a non-negative integer, got ${String(p)}`);
    const old = this.cursors.get(p);
    if (!old) {
      this.cursors.set(p, {
        partition: p,
        start,
        received: -1,
        delivered: -1,
        highWatermark: -1,
        logStartOffset: -1,
        state: 'pending',
        gen: 0,
        conn: null,
        consumed: 0,
        leaderEpoch: -1,
        outOfRangeSince: -1,
        fromReplica: false,
        avoid: new Map(),
      });
      return;
    }
    this.purge(old);
    old.start = start;
    old.received = -1;
    old.delivered = -1;
    old.consumed = 0;
    old.outOfRangeSince = -1;
    old.gen++;
    // On a live socket the new Subscribe replaces the old one; otherwise the next resume subscribes.
    if (old.conn && !old.conn.closed && old.state !== 'failed') this.subscribeCursor(old, old.conn);
    else {
      old.state = 'pending';
      old.conn = null;
    }
  }

  /**
   * Stops reading `partitions`: their queued records are dropped, the broker is told, and once the
   * record the application is handling (if any) is done, resolves with each one's next offset.
   */
  async revoke(partitions: number[]): Promise<Map<number, number>> {
    const out = new Map<number, number>();
    const byConn = new Map<Connection, number[]>();
    for (const p of partitions) {
      const c = this.cursors.get(p);
      if (!c) continue;
      this.purge(c);
      if (c.conn && !c.conn.closed && (c.state === 'active' || c.state === 'subscribing')) {
        const list = byConn.get(c.conn) ?? [];
        list.push(p);
        byConn.set(c.conn, list);
      }
      detach(c, 'gone');
      this.cursors.delete(p);
      const pos = cursorPosition(c);
      if (pos >= 0) out.set(p, pos);
    }
    for (const [conn, parts] of byConn) conn.post({ type: 'Unsubscribe', requestId: 0, topic: this.topic, partitions: parts });
    if (this.inHandler >= 0 && partitions.includes(this.inHandler)) await new Promise<void>((r) => this.handlerIdle.push(r));
    return out;
  }

  /** Group only: commits the current positions now. */
  commit(): Promise<void> {
    if (!this.member) return Promise.reject(new TickbusError(ErrorCode.INVALID_REQUEST, 'commit() needs a consumer group: subscribe(topic, { group })'));
    return this.member.commit();
  }

  /** Stops the subscription: leaves the group (if any), unsubscribes, closes its connections. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.doClose(null);
    return this.closing;
  }

  override on<K extends keyof SubscriptionEvents>(event: K, fn: (...args: SubscriptionEvents[K]) => unknown): this {
    if (event === 'record') {
      if (this.mode === 'iterator') throw new TypeError("a subscription is consumed either with for-await or with on('record'), not both");
      this.mode = 'callback';
      super.on(event, fn);
      queueMicrotask(() => this.wake());
      return this;
    }
    return super.on(event, fn);
  }

  [Symbol.asyncIterator](): AsyncIterator<ConsumedRecord> {
    if (this.mode === 'callback') throw new TypeError("a subscription is consumed either with for-await or with on('record'), not both");
    if (this.iterating) throw new TypeError('a subscription has one iterator at a time');
    this.mode = 'iterator';
    this.iterating = true;
    return {
      next: () => this.nextRecord(),
      return: async () => {
        this.iterating = false;
        this.handlerDone();
        await this.close();
        return { done: true, value: undefined };
      },
    };
  }

  // ------------------------------------------------------------------ wiring (used by bus.ts / group.ts)

  /** Reads `partitions` (all when undefined) from the subscription's start. Retries while the broker is unreachable. */
  async start(partitions: number[] | undefined): Promise<void> {
    for (;;) {
      if (this.closedFlag) return;
      try {
        const meta = await this.ctx.bus.metadata(this.topic, this.backoff.attempts > 0);
        const n = meta.partitions.length;
        const list = partitions ?? meta.partitions.map((p) => p.partition);
        for (const p of list) {
          if (p >= n) {
            throw new TickbusError(ErrorCode.UNKNOWN_PARTITION, `topic '${this.topic}' has ${n} partition${n === 1 ? '' : 's'}; partition ${p} does not exist`, {
              topic: this.topic,
              partition: p,
            });
          }
        }
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- close() may have run during the await
        if (!this.closedFlag) this.assign(list);
        return;
      } catch (err) {
        const e = err instanceof TickbusError ? err : new TickbusError(ErrorCode.INTERNAL, String(err), { cause: err });
        if (!e.retryable || this.backoff.attempts >= this.maxRetries) {
          this.surface(e, true);
          return;
        }
        await new Promise((r) => setTimeout(r, this.backoff.next()));
      }
    }
  }

  attachGroup(member: GroupMember): void {
    this.member = member;
  }

  /** Ends the subscription with a typed error (reported like any other). */
  failWith(err: TickbusError): void {
    for (const c of this.cursors.values()) c.state = 'failed';
    this.surface(err, true);
  }

  // ------------------------------------------------------------------ subscribing and resuming

  private kickResume(): void {
    if (this.resumeTimer) {
      clearTimeout(this.resumeTimer);
      this.resumeTimer = null;
    }
    void this.resumePending(false);
  }

  private scheduleResume(): void {
    if (this.closedFlag || this.resumeTimer) return;
    if (this.resuming) {
      this.resumeAgain = true;
      return;
    }
    if (this.backoff.attempts >= this.maxRetries) {
      const err = new TickbusError(
        ErrorCode.CONNECTION_CLOSED,
        `could not resubscribe to '${this.topic}' after ${this.backoff.attempts} attempts (reconnect.maxRetries); positions are kept: subscribe again from sub.positions()`,
        { topic: this.topic, retryable: false },
      );
      for (const c of this.cursors.values()) if (c.state === 'pending') c.state = 'failed';
      this.surface(err, true);
      return;
    }
    this.resumeTimer = setTimeout(() => {
      this.resumeTimer = null;
      void this.resumePending(true);
    }, this.backoff.next());
  }

  /** Subscribes every pending partition on its owner; `refresh` asks for fresh metadata first. */
  private async resumePending(refresh: boolean): Promise<void> {
    if (this.closedFlag) return;
    if (this.resuming) {
      this.resumeAgain = true;
      return;
    }
    this.resuming = true;
    try {
      const pending = [...this.cursors.values()].filter((c) => c.state === 'pending');
      if (pending.length === 0) return;
      let meta;
      try {
        meta = await this.ctx.bus.metadata(this.topic, refresh);
      } catch (err) {
        const e = err instanceof TickbusError ? err : new TickbusError(ErrorCode.INTERNAL, String(err), { cause: err });
        if (e.retryable) this.resumeAgain = true;
        else this.failCursors(pending, e);
        return;
      }
      const byUrl = new Map<string, Cursor[]>();
      for (const c of pending) {
        const pm = meta.partitions[c.partition];
        if (!pm) {
          this.failCursors([c], new TickbusError(ErrorCode.UNKNOWN_PARTITION, `topic '${this.topic}' has ${meta.partitions.length} partitions; partition ${c.partition} does not exist`, { topic: this.topic, partition: c.partition }));
          continue;
        }
        const target = readTarget(pm, this.zone, avoided(c));
        if (target.endpoint === '') {
          // No leader yet (failover under way): try again with fresh metadata after backoff.
          this.resumeAgain = true;
          continue;
        }
        c.leaderEpoch = pm.leaderEpoch;
        c.fromReplica = target.fromReplica;
        const list = byUrl.get(target.endpoint) ?? [];
        list.push(c);
        byUrl.set(target.endpoint, list);
      }
      const opened = await Promise.allSettled([...byUrl.keys()].map((url) => this.links.get(url)));
      let i = 0;
      for (const [url, cs] of byUrl) {
        const r = opened[i++]!;
        if (r.status === 'rejected') {
          for (const c of cs) this.leaveReplica(c, url);
          this.resumeAgain = true;
          continue;
        }
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- close() may have run during the await
        for (const c of cs) if (c.state === 'pending' && this.cursors.get(c.partition) === c && !this.closedFlag) this.subscribeCursor(c, r.value);
      }
    } finally {
      this.resuming = false;
      if (this.resumeAgain) {
        this.resumeAgain = false;
        if ([...this.cursors.values()].some((c) => c.state === 'pending')) this.scheduleResume();
      }
    }
  }

  private subscribeCursor(c: Cursor, conn: Connection): void {
    const gen = ++c.gen;
    c.state = 'subscribing';
    c.conn = conn;
    c.consumed = 0;
    const start: StartSpec =
      c.received >= 0
        ? { partition: c.partition, kind: 'offset', value: c.received, leaderEpoch: c.leaderEpoch }
        : { partition: c.partition, ...c.start, leaderEpoch: c.leaderEpoch };
    const resumed = c.received >= 0;
    const frame: Frame = { type: 'Subscribe', requestId: 0, topic: this.topic, starts: [start], creditBytes: this.creditBytes, isolation: this.isolation };
    if (c.fromReplica) frame.fromReplica = true;
    conn.request(frame, (err, f) => {
      if (c.gen !== gen || this.cursors.get(c.partition) !== c || this.closedFlag) return; // superseded
      if (err) return this.onSubscribeError(c, err);
      if (f?.type !== 'SubscribeOk' || f.partition !== c.partition) {
        return this.onSubscribeError(c, new TickbusError(ErrorCode.CONNECTION_CLOSED, `Subscribe was answered with ${f?.type ?? 'nothing'}`));
      }
      this.onSubscribed(c, f, resumed);
    });
  }

  private onSubscribed(c: Cursor, f: FrameOf<'SubscribeOk'>, resumed: boolean): void {
    if (resumed && f.startOffset !== c.received) {
      // The broker must start exactly where we asked: anything else would be a gap or a repeat.
      this.onSubscribeError(c, new TickbusError(ErrorCode.OFFSET_OUT_OF_RANGE, `asked ${this.topic}/${c.partition} for offset ${c.received}, the broker started at ${f.startOffset}`, { topic: this.topic, partition: c.partition, retryable: false }));
      return;
    }
    c.state = 'active';
    c.outOfRangeSince = -1;
    c.received = f.startOffset;
    if (c.delivered < 0) c.delivered = f.startOffset;
    c.highWatermark = f.highWatermark;
    c.logStartOffset = f.logStartOffset;
    this.backoff.reset();
    if (resumed) {
      this.stats.resubscribes++;
      this.emit('resume', [c.partition]);
    }
  }

  private onSubscribeError(c: Cursor, err: TickbusError): void {
    const conn = c.conn;
    c.conn = null;
    if (c.fromReplica) {
      // Whatever a replica refused (stale, out of range there, not a follower any more), the leader
      // answers with authority: move there (or to another in-zone replica) from the same offset.
      this.leaveReplica(c, conn?.url ?? null);
      c.state = 'pending';
      this.scheduleResume();
      return;
    }
    // UNKNOWN_TOPIC included (retriedAfterRefresh): resuming asks metadata first.
    if (retriedAfterRefresh(err)) {
      c.state = 'pending';
      this.scheduleResume();
      return;
    }
    if (err.code === ErrorCode.OFFSET_OUT_OF_RANGE && c.received >= 0) {
      void this.onOutOfRange(c, err);
      return;
    }
    this.failCursors([c], err);
  }

  /**
   * A resubscribe at `received` was refused as out of range. Fresh metadata says which side:
   *   - below the log start: retention deleted records never delivered: reported, never skipped;
   *   - past the head, isolation 'leader': a failover truncated records we received (the new leader
   *     never had them). Told with a 'truncated' event, then resumed from the new leader's high
   *     watermark (or our position, if lower): re-reading a few records is safe, skipping is not;
   *   - past the head otherwise (or metadata not yet showing a shorter log): a new leader's high
   *     watermark trails the old one's until its followers report in, so this passes by itself:
   *     retried with backoff, and reported only if it lasts longer than requestTimeoutMs.
   */
  private async onOutOfRange(c: Cursor, err: TickbusError): Promise<void> {
    c.state = 'checking';
    const gen = c.gen;
    const current = (): boolean => c.gen === gen && c.state === 'checking' && this.cursors.get(c.partition) === c && !this.closedFlag;
    let pm;
    try {
      pm = (await this.ctx.bus.metadata(this.topic, true)).partitions[c.partition];
    } catch {
      pm = undefined; // unknown for now: treated as inconclusive below
    }
    if (!current()) return;
    const now = Date.now();
    if (c.outOfRangeSince < 0) c.outOfRangeSince = now;
    const e = new TickbusError(err.code, err.message, { topic: this.topic, partition: c.partition, retryable: false, cause: err.cause });
    if (pm && c.received < pm.logStartOffset) {
      this.failCursors([c], e);
      return;
    }
    if (pm && this.isolation === 'leader' && pm.highWatermark < c.received) {
      // Received but not yet handed out is dropped and read again from the new leader; the event is
      // owed only when the application itself saw records at or past the resume point.
      const seen = c.delivered >= 0 ? c.delivered : c.received;
      const at = Math.max(pm.logStartOffset, Math.min(pm.highWatermark, seen));
      this.purge(c);
      c.received = at;
      c.delivered = at;
      c.outOfRangeSince = -1;
      c.state = 'pending';
      if (seen > at) {
        this.stats.truncations++;
        this.emit('truncated', { topic: this.topic, partition: c.partition, offset: at });
      }
      this.kickResume();
      return;
    }
    if (now - c.outOfRangeSince >= this.ctx.options.requestTimeoutMs) {
      this.failCursors([c], e);
      return;
    }
    c.state = 'pending';
    this.scheduleResume();
  }

  /** A replica failed this cursor: pass it over for REPLICA_RETRY_MS; the next resume picks the leader or another replica. */
  private leaveReplica(c: Cursor, url: string | null): void {
    if (!c.fromReplica) return;
    if (url !== null) c.avoid.set(url, Date.now() + REPLICA_RETRY_MS);
    c.fromReplica = false;
  }

  private failCursors(cs: Cursor[], err: TickbusError): void {
    for (const c of cs) {
      c.state = 'failed';
      c.conn = null;
      const e = err.partition === undefined && cs.length === 1 ? new TickbusError(err.code, err.message, { topic: this.topic, partition: c.partition, retryable: err.retryable, cause: err.cause }) : err;
      this.surface(e, false);
    }
  }

  private onConnectionClose(err: TickbusError, conn: Connection): void {
    if (this.closedFlag) return;
    let hit = false;
    for (const c of this.cursors.values()) {
      if (c.conn !== conn) continue;
      this.leaveReplica(c, conn.url);
      c.conn = null;
      if (c.state === 'active' || c.state === 'subscribing') {
        c.state = 'pending';
        hit = true;
      }
    }
    if (!hit) return;
    this.stats.disconnects++;
    this.emit('disconnect', err);
    this.scheduleResume();
  }

  // ------------------------------------------------------------------ receiving

  private onFrame(f: Frame, size: number, conn: Connection): void {
    if (f.type === 'Deliver') this.onDeliver(f, size, conn);
    else if (f.type === 'ErrorReply') this.onPushedError(f, conn);
  }

  /** Errors the broker pushes (request id 0): a subscription ended by the broker. */
  private onPushedError(f: FrameOf<'ErrorReply'>, conn: Connection): void {
    if (f.topic !== this.topic) return; // SLOW_CONSUMER, SHUTTING_DOWN...: the close that follows resumes
    const err = new TickbusError(f.code, f.message, { topic: f.topic, retryable: f.retryable, ...(f.partition >= 0 ? { partition: f.partition } : {}) });
    const hit = [...this.cursors.values()].filter((c) => c.conn === conn && (f.partition < 0 || c.partition === f.partition));
    // A replica's error, whatever it is, sends the partition to the leader (onSubscribeError says why).
    const onLeader: Cursor[] = [];
    for (const c of hit) {
      if (!c.fromReplica) {
        onLeader.push(c);
        continue;
      }
      this.leaveReplica(c, conn.url);
      detach(c, 'pending');
    }
    if (onLeader.length < hit.length) this.scheduleResume();
    if (onLeader.length === 0) return;
    for (const c of onLeader) detach(c, err.retryable ? 'pending' : 'failed');
    if (err.retryable) this.scheduleResume();
    else this.surface(err, false);
  }

  private onDeliver(f: FrameOf<'Deliver'>, size: number, conn: Connection): void {
    const c = this.cursors.get(f.partition);
    // Frames of an older subscription (before the new SubscribeOk), of revoked or failed partitions: not ours.
    if (c?.state !== 'active' || c.conn !== conn || f.topic !== this.topic) return;
    this.stats.bytes += size;
    if (f.highWatermark > c.highWatermark) c.highWatermark = f.highWatermark;
    const b = f.batches;
    const first = c.received;
    let p = 0;
    let start = -1;
    let end = 0;
    let broken: 'gap' | 'corrupt' | null = null;
    let got = -1;
    while (p < b.length) {
      const len = b.length - p >= BATCH_HEADER_SIZE ? batchLength(b, p) : 0;
      if (len < BATCH_HEADER_SIZE || p + len > b.length || (this.checkCrcs && checkBatch(b, p, p + len, true) !== BatchCheck.OK)) {
        broken = 'corrupt';
        break;
      }
      const base = batchBaseOffset(b, p);
      const last = base + batchRecordCount(b, p) - 1;
      if (last >= c.received) {
        if (base > c.received) {
          broken = 'gap';
          got = base;
          break;
        }
        if (start < 0) start = p;
        end = p + len;
        c.received = last + 1;
      }
      p += len;
    }
    if (start >= 0) this.push({ cursor: c, gen: c.gen, bytes: b, pos: start, end, next: first, frameBytes: size });
    else this.consumedFrame(c, c.gen, size);
    if (broken) {
      if (broken === 'gap') this.stats.gaps++;
      else this.stats.corruptBatches++;
      this.emit('gap', c.partition, c.received, got);
      // Same socket: the new Subscribe replaces the old one; its frames until SubscribeOk are dropped (state 'subscribing').
      this.subscribeCursor(c, conn);
    }
    this.wake();
  }

  private push(ch: Chunk): void {
    this.queue.push(ch);
  }

  /** A frame's records were all taken (or skipped): grant its bytes back, half a window at a time. */
  private consumedFrame(c: Cursor, gen: number, size: number): void {
    if (this.creditBytes === 0 || gen !== c.gen || c.state !== 'active' || !c.conn) return;
    c.consumed += size;
    if (c.consumed * 2 >= this.creditBytes) {
      const bytes = Math.min(c.consumed, 0xffff_ffff);
      c.consumed -= bytes;
      this.stats.creditGranted += bytes;
      c.conn.post({ type: 'Credit', topic: this.topic, partition: c.partition, bytes });
    }
  }

  /** Drops queued records of one partition (revoke, seek). */
  private purge(c: Cursor): void {
    if (this.current?.cursor === c) {
      this.current = null;
      this.decoded = [];
      this.di = 0;
    }
    const kept: Chunk[] = [];
    for (let i = this.qHead; i < this.queue.length; i++) if (this.queue[i]!.cursor !== c) kept.push(this.queue[i]!);
    this.queue = kept;
    this.qHead = 0;
  }

  // ------------------------------------------------------------------ handing records out

  /** The next record in order, or null when nothing is queued. Advances the partition's position. */
  private take(): ConsumedRecord | null {
    if (this.stopping) return null;
    for (;;) {
      if (this.di < this.decoded.length) {
        const r = this.decoded[this.di++]!;
        const ch = this.current!;
        ch.cursor.delivered = r.offset + 1;
        this.latencyUs = nowUs() - this.decodedAppendUs;
        this.stats.records++;
        return r;
      }
      const ch = this.current;
      if (ch && ch.pos < ch.end) {
        this.decodeNextBatch(ch);
        continue;
      }
      if (ch) {
        this.current = null;
        this.consumedFrame(ch.cursor, ch.gen, ch.frameBytes);
      }
      if (this.qHead >= this.queue.length) {
        if (this.queue.length > 0) {
          this.queue = [];
          this.qHead = 0;
        }
        return null;
      }
      this.current = this.queue[this.qHead]!;
      this.queue[this.qHead++] = undefined as unknown as Chunk; // let the frame go once consumed
      if (this.qHead > 1024 && this.qHead * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.qHead);
        this.qHead = 0;
      }
    }
  }

  private decodeNextBatch(ch: Chunk): void {
    const b = ch.bytes;
    const at = ch.pos;
    ch.pos += batchLength(b, at);
    this.decodedAppendUs = batchAppendTimeUs(b, at);
    const out: ConsumedRecord[] = [];
    const topic = this.topic;
    const partition = ch.cursor.partition;
    forEachRecord(b, at, (r: DecodedRecord) => {
      if (r.offset < ch.next) return; // before the position: delivered already
      ch.next = r.offset + 1;
      out.push({ topic, partition, offset: r.offset, timestamp: r.timestamp, key: r.key, value: r.value, headers: r.headers });
    });
    this.decoded = out;
    this.di = 0;
  }

  private handlerDone(): void {
    if (this.inHandler < 0) return;
    this.inHandler = -1;
    const ws = this.handlerIdle;
    this.handlerIdle = [];
    for (const w of ws) w();
  }

  private nextRecord(): Promise<IteratorResult<ConsumedRecord>> {
    this.handlerDone(); // the loop body of the previous record finished
    if (this.pendingError) {
      const e = this.pendingError;
      this.pendingError = null;
      this.iterating = false;
      return this.close().then(() => Promise.reject(e));
    }
    if (this.closedFlag) return Promise.resolve({ done: true, value: undefined });
    if (!this.paused) {
      const r = this.take();
      if (r) {
        this.inHandler = r.partition;
        return Promise.resolve({ done: false, value: r });
      }
    }
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** Something changed (records queued, resumed, error, closed): hand out what can be handed out. */
  private wake(): void {
    if (this.mode === 'iterator') {
      const w = this.waiter;
      if (!w) return;
      if (this.pendingError) {
        this.waiter = null;
        const e = this.pendingError;
        this.pendingError = null;
        this.iterating = false;
        void this.close().then(() => w.reject(e));
        return;
      }
      if (this.closedFlag) {
        this.waiter = null;
        w.resolve({ done: true, value: undefined });
        return;
      }
      if (this.paused) return;
      const r = this.take();
      if (r) {
        this.waiter = null;
        this.inHandler = r.partition;
        w.resolve({ done: false, value: r });
      }
    } else if (this.mode === 'callback') this.dispatch();
  }

  /** Callback form: runs handlers in order; a handler's promise holds the next record back. */
  private dispatch(): void {
    if (this.dispatching) return;
    this.dispatching = true;
    while (!this.paused && !this.closedFlag) {
      const r = this.take();
      if (!r) break;
      this.inHandler = r.partition;
      const results = this.emit('record', r);
      let wait: Promise<unknown> | null = null;
      for (const v of results) {
        if (!v || typeof (v as Promise<unknown>).then !== 'function') continue;
        const p = v as Promise<unknown>;
        wait = wait ? Promise.all([wait, p]) : p;
      }
      if (wait) {
        wait.then(
          () => this.afterAsyncHandler(),
          (err: unknown) => {
            this.afterAsyncHandler();
            queueMicrotask(() => {
              throw err; // a failing handler is the application's bug: report it like an uncaught error
            });
          },
        );
        return; // dispatching stays true until the handler settles
      }
      this.handlerDone();
    }
    this.dispatching = false;
  }

  private afterAsyncHandler(): void {
    this.handlerDone();
    this.dispatching = false;
    this.dispatch();
  }

  /**
   * Reports a typed error. With an 'error' listener it goes there and the other partitions go on.
   * Without one it is never dropped: the iterator throws it (and the subscription closes); in
   * callback form it is thrown as an uncaught error. `fatal` closes the subscription either way.
   */
  private surface(err: TickbusError, fatal: boolean): void {
    if (this.listenerCount('error') > 0) {
      this.emit('error', err);
      if (fatal) void this.doClose(null);
      return;
    }
    if (this.mode === 'callback') {
      void this.close();
      queueMicrotask(() => {
        throw err;
      });
      return;
    }
    this.pendingError ??= err;
    this.wake();
  }

  private async doClose(_err: TickbusError | null): Promise<void> {
    if (this.closedFlag) return;
    // Closing means the application is done: the record it holds counts as handled (a group's
    // revoke must not wait for a loop body that is itself waiting for close()), and no more go out.
    this.stopping = true;
    this.handlerDone();
    if (this.member) {
      try {
        await this.member.close();
      } catch {
        // Leaving the group is best effort: the coordinator drops a silent member after its session timeout.
      }
    }
    this.closedFlag = true;
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
    this.resumeTimer = null;
    const byConn = new Map<Connection, number[]>();
    for (const c of this.cursors.values()) {
      if (c.conn && !c.conn.closed && c.state === 'active') {
        const l = byConn.get(c.conn) ?? [];
        l.push(c.partition);
        byConn.set(c.conn, l);
      }
      c.state = 'gone';
      c.gen++;
    }
    for (const [conn, parts] of byConn) conn.post({ type: 'Unsubscribe', requestId: 0, topic: this.topic, partitions: parts });
    this.links.close();
    this.queue = [];
    this.qHead = 0;
    this.current = null;
    this.decoded = [];
    this.handlerDone();
    this.wake();
    this.ctx.onClosed(this);
    this.emit('close');
  }
}

/** The replicas still passed over for this cursor (expired entries are dropped first). */
function avoided(c: Cursor): ReadonlyMap<string, number> {
  const now = Date.now();
  for (const [url, until] of c.avoid) if (until <= now) c.avoid.delete(url);
  return c.avoid;
}

function cursorPosition(c: Cursor): number {
  if (c.delivered >= 0) return c.delivered;
  return c.start.kind === 'offset' ? c.start.value : -1;
}

function cursorLag(c: Cursor): number {
  const pos = cursorPosition(c);
  if (pos < 0 || c.highWatermark < 0) return 0;
  return Math.max(0, c.highWatermark - pos);
}
