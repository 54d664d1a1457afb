// The consumer-group coordinator on the bootstrap endpoint: membership (join, heartbeat, leave,
// session timeout, connection close), rebalances (group.ts) pushed as GroupAssignment frames, and
// committed offsets (offset-store.ts), fenced by generation and ownership.
//
// Runs on the broker's main thread; handle() is synchronous (the uWS message is gone after it
// returns) and only commits and offset fetches wait, for the offsets log's fsync.
import { randomBytes } from 'node:crypto';
import { asTickbusError, ErrorCode, TickbusError } from '../../schemas/errors.js';
import { errorFrame, type Frame, type FrameOf, type PartitionOffsetWire } from '../../schemas/frames.js';
import { monotonicMs } from '../clock.js';
import { logLine } from '../logger.js';
import { type AssignmentOut, ConsumerGroup, type DeathReason, type Member } from './group.js';
import { LogOffsetStore, type OffsetEntry, type OffsetStore } from './offset-store.js';

export interface CoordinatorOptions {
  dataDir: string;
  /** The topic's partition count, undefined when it does not exist. */
  partitionsOf(topic: string): number | undefined;
  /** Pushes a frame to a bootstrap connection (a no-op once it closed). */
  send(connId: number, frame: Frame): void;
  /** Where offsets are kept; default the `__consumer_offsets` log under dataDir. */
  store?: OffsetStore;
  /** Monotonic clock (ms) for session expiry; tests pass their own. */
  now?: () => number;
}

export const DEFAULT_SESSION_TIMEOUT_MS = 10_000;
export const MIN_SESSION_TIMEOUT_MS = 100;
export const MAX_SESSION_TIMEOUT_MS = 600_000;
/** A bound on one group's size: each member costs an assignment frame per rebalance. */
export const MAX_MEMBERS_PER_GROUP = 1000;
/** A bound on what one connection can make the coordinator hold (the SDK uses one connection per member). */
export const MAX_MEMBERS_PER_CONNECTION = 100;
const MAX_NAME_LENGTH = 200;

/** Key of a (group, topic) pair: `\0` cannot occur in either name (checked on join). */
const groupKey = (group: string, topic: string): string => `${group}\0${topic}`;

export interface GroupDescription {
  generation: number;
  members: { id: string; partitions: number[]; holds: number[] }[];
}

export class GroupCoordinator {
  private readonly groups = new Map<string, ConsumerGroup>();
  /** Member id → its group (ids are unique across groups). */
  private readonly memberGroup = new Map<string, ConsumerGroup>();
  private readonly byConn = new Map<number, Set<string>>();
  /** groupKey → partition → committed offset (the latest durable value). */
  private readonly committed = new Map<string, Map<number, number>>();
  /** The last offsets write: FetchOffsets waits for it so it never misses an acknowledged commit. */
  private lastWrite: Promise<void> = Promise.resolve();
  private nextMember = 1;
  private readonly idPrefix = randomBytes(4).toString('hex');
  private closed = false;
  private readonly now: () => number;

  private constructor(
    private readonly opts: CoordinatorOptions,
    private readonly store: OffsetStore,
  ) {
    // Session expiry is measured time: a wall-clock step must not expire (or keep alive) every member.
    this.now = opts.now ?? monotonicMs;
    for (const e of store.load()) this.remember(e);
  }

  /** Opens the offsets store (replaying it) and returns a coordinator with no members. */
  static open(opts: CoordinatorOptions): GroupCoordinator {
    return new GroupCoordinator(opts, opts.store ?? LogOffsetStore.open(opts.dataDir));
  }

  // ------------------------------------------------------------------ entry points

  /** One group frame from bootstrap connection `connId`. Answers (or errors) go through send(). */
  handle(connId: number, frame: Frame): void {
    const requestId = 'requestId' in frame ? frame.requestId : 0;
    try {
      if (this.closed) throw new TickbusError(ErrorCode.SHUTTING_DOWN, 'broker is shutting down; reconnect to resume');
      switch (frame.type) {
        case 'JoinGroup':
          return this.join(connId, frame);
        case 'Heartbeat':
          return this.heartbeat(connId, frame);
        case 'AssignmentAck':
          return this.assignmentAck(frame);
        case 'LeaveGroup':
          return this.leave(connId, frame);
        case 'CommitOffsets':
          return this.commit(connId, frame);
        case 'FetchOffsets':
          return this.fetchOffsets(connId, frame);
        default:
          throw new TickbusError(ErrorCode.INVALID_REQUEST, `${frame.type} is not a consumer-group request`);
      }
    } catch (err) {
      // AssignmentAck has no request id: its errors would have nowhere to go, so it raises none.
      this.opts.send(connId, errorFrame(asTickbusError(err), requestId));
    }
  }

  /** Every member on that connection dies now: its partitions go to the others. */
  connectionClosed(connId: number): void {
    const ids = this.byConn.get(connId);
    if (!ids) return;
    this.byConn.delete(connId);
    const touched = new Set<ConsumerGroup>();
    for (const id of ids) {
      const g = this.memberGroup.get(id);
      if (g && this.drop(g, id, 'connection closed')) touched.add(g);
    }
    for (const g of touched) this.rebalance(g);
  }

  /** Drops members whose session or ack deadline passed; call it every ~100 ms. */
  tick(): void {
    if (this.closed) return;
    const now = this.now();
    for (const g of [...this.groups.values()]) {
      const dead = g.expired(now);
      if (dead.length === 0) continue;
      for (const { member, reason } of dead) {
        const m = this.drop(g, member.id, reason);
        // It may still be connected (a stuck handler, a lost ack): tell it, so it rejoins.
        if (m) {
          this.opts.send(
            m.connId,
            errorFrame(new TickbusError(ErrorCode.UNKNOWN_MEMBER, `member '${m.id}' was dropped from group '${g.name}' (${reason}); join again`, { topic: g.topic }), 0),
          );
        }
      }
      this.rebalance(g);
    }
  }

  /** The topic is gone: its groups end (members are told TOPIC_DELETED) and its committed offsets are deleted. */
  topicDeleted(topic: string): void {
    for (const g of [...this.groups.values()]) {
      if (g.topic !== topic) continue;
      for (const m of [...g.members.values()]) {
        this.drop(g, m.id, 'topic deleted');
        this.opts.send(m.connId, errorFrame(new TickbusError(ErrorCode.TOPIC_DELETED, `topic '${topic}' was deleted`, { topic }), 0));
      }
    }
    // Tombstones, so that a topic created again under this name starts without the old offsets.
    const tombstones: OffsetEntry[] = [];
    for (const [key, offsets] of this.committed) {
      const [group, t] = key.split('\0') as [string, string];
      if (t !== topic) continue;
      for (const partition of offsets.keys()) tombstones.push({ group, topic, partition, offset: null });
      this.committed.delete(key);
    }
    if (tombstones.length > 0 && !this.closed) {
      this.write(tombstones).catch((err: unknown) => logLine('group offsets: tombstones not written', { topic, error: String(err) }));
    }
  }

  /** Closes the offsets store. Members are not told: their connections close with the broker. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.store.close();
    } catch (err) {
      logLine('group offsets: close failed', { error: String(err) });
    }
  }

  // ------------------------------------------------------------------ introspection (tests, tooling)

  describe(group: string, topic: string): GroupDescription | undefined {
    const g = this.groups.get(groupKey(group, topic));
    if (!g) return undefined;
    return {
      generation: g.generation,
      members: [...g.members.values()].map((m) => ({ id: m.id, partitions: [...g.current(m).partitions], holds: [...g.holds(m)].sort((a, b) => a - b) })),
    };
  }

  committedOffsets(group: string, topic: string): Map<number, number> {
    return new Map(this.committed.get(groupKey(group, topic)) ?? []);
  }

  // ------------------------------------------------------------------ requests

  private join(connId: number, f: FrameOf<'JoinGroup'>): void {
    checkName('group', f.group);
    checkName('topic', f.topic);
    const partitions = this.opts.partitionsOf(f.topic);
    if (partitions === undefined) throw new TickbusError(ErrorCode.UNKNOWN_TOPIC, `topic '${f.topic}' does not exist`, { topic: f.topic });
    const timeout = f.sessionTimeoutMs === 0 ? DEFAULT_SESSION_TIMEOUT_MS : f.sessionTimeoutMs;
    if (!Number.isInteger(timeout) || timeout < MIN_SESSION_TIMEOUT_MS || timeout > MAX_SESSION_TIMEOUT_MS) {
      throw new TickbusError(ErrorCode.INVALID_REQUEST, `sessionTimeoutMs must be between ${MIN_SESSION_TIMEOUT_MS} and ${MAX_SESSION_TIMEOUT_MS} (0 = ${DEFAULT_SESSION_TIMEOUT_MS}), got ${f.sessionTimeoutMs}`, { topic: f.topic });
    }
    const key = groupKey(f.group, f.topic);
    const now = this.now();

    // A re-join of a live member (e.g. it lost track of its state): same member, current assignment again.
    const known = f.memberId ? this.memberGroup.get(f.memberId) : undefined;
    if (known) {
      const m = known.members.get(f.memberId)!;
      if (known !== this.groups.get(key)) {
        throw new TickbusError(ErrorCode.INVALID_REQUEST, `member '${f.memberId}' belongs to group '${known.name}' on topic '${known.topic}'; join with an empty member id`, { topic: f.topic });
      }
      m.lastSeen = now;
      if (m.connId !== connId) {
        this.byConn.get(m.connId)?.delete(m.id);
        m.connId = connId;
        this.connMembers(connId).add(m.id);
      }
      const cur = known.current(m);
      this.sendAssignment(known, { member: m, generation: cur.generation, partitions: cur.partitions }, f.requestId);
      return;
    }

    if ((this.byConn.get(connId)?.size ?? 0) >= MAX_MEMBERS_PER_CONNECTION) {
      throw new TickbusError(ErrorCode.INVALID_REQUEST, `a connection may hold at most ${MAX_MEMBERS_PER_CONNECTION} group members: leave one first, or open another connection`, { topic: f.topic });
    }
    let g = this.groups.get(key);
    if (!g) {
      g = new ConsumerGroup(f.group, f.topic, partitions);
      this.groups.set(key, g);
    }
    if (g.members.size >= MAX_MEMBERS_PER_GROUP) {
      throw new TickbusError(ErrorCode.INVALID_REQUEST, `group '${f.group}' on '${f.topic}' already has ${MAX_MEMBERS_PER_GROUP} members`, { topic: f.topic });
    }
    g.resize(partitions);
    // An unknown non-empty id (from before a restart, or dropped) gets a fresh one: its old partitions are gone.
    const id = `${this.idPrefix}-${this.nextMember++}`;
    const m = g.add(id, connId, timeout, now);
    this.memberGroup.set(id, g);
    this.connMembers(connId).add(id);
    const outs = this.rebalance(g, m.id, f.requestId);
    if (!outs.some((o) => o.member === m)) {
      const cur = g.current(m);
      this.sendAssignment(g, { member: m, generation: cur.generation, partitions: cur.partitions }, f.requestId);
    }
  }

  private heartbeat(connId: number, f: FrameOf<'Heartbeat'>): void {
    const { group, member } = this.member(f.group, f.memberId, null);
    member.lastSeen = this.now();
    this.opts.send(connId, { type: 'OffsetsResult', requestId: f.requestId, group: group.name, topic: group.topic, offsets: [] });
  }

  private assignmentAck(f: FrameOf<'AssignmentAck'>): void {
    const g = this.memberGroup.get(f.memberId);
    const m = g?.members.get(f.memberId);
    if (!g || !m || g.name !== f.group) return; // a dead member's late ack: nothing to release
    m.lastSeen = this.now();
    if (g.ack(m, f.generation)) this.rebalance(g);
  }

  private leave(connId: number, f: FrameOf<'LeaveGroup'>): void {
    const g = this.memberGroup.get(f.memberId);
    // Leaving is idempotent: a member already dropped has left.
    if (g?.name === f.group) {
      this.drop(g, f.memberId, 'left');
      this.rebalance(g);
    }
    this.opts.send(connId, { type: 'OffsetsResult', requestId: f.requestId, group: f.group, topic: g?.topic ?? '', offsets: [] });
  }

  private commit(connId: number, f: FrameOf<'CommitOffsets'>): void {
    const { group, member } = this.member(f.group, f.memberId, f.topic);
    member.lastSeen = this.now();
    const last = new Map<number, number>(); // a partition named twice: the last one counts
    for (const o of f.offsets) {
      if (!Number.isSafeInteger(o.offset) || o.offset < 0) {
        throw new TickbusError(ErrorCode.INVALID_REQUEST, `committed offset of partition ${o.partition} must be a non-negative integer, got ${o.offset}`, {
          topic: f.topic,
          partition: o.partition,
        });
      }
      last.set(o.partition, o.offset);
    }
    group.checkCommit(member, f.generation, [...last.keys()]);
    const offsets: PartitionOffsetWire[] = [...last].map(([partition, offset]) => ({ partition, offset }));
    const answer = (): void => this.opts.send(connId, { type: 'OffsetsResult', requestId: f.requestId, group: f.group, topic: f.topic, offsets });
    if (offsets.length === 0) return answer();
    this.write(offsets.map((o) => ({ group: f.group, topic: f.topic, partition: o.partition, offset: o.offset }))).then(answer, (err: unknown) =>
      this.opts.send(connId, errorFrame(asTickbusError(err, ErrorCode.STORAGE_ERROR), f.requestId)),
    );
  }

  private fetchOffsets(connId: number, f: FrameOf<'FetchOffsets'>): void {
    checkName('group', f.group);
    checkName('topic', f.topic);
    const reply = (): void => {
      const m = this.committed.get(groupKey(f.group, f.topic));
      const offsets = m ? [...m].sort((a, b) => a[0] - b[0]).map(([partition, offset]) => ({ partition, offset })) : [];
      this.opts.send(connId, { type: 'OffsetsResult', requestId: f.requestId, group: f.group, topic: f.topic, offsets });
    };
    // Wait for writes in progress: a partition's new owner must see its previous owner's final commit.
    this.lastWrite.then(reply, reply);
  }

  // ------------------------------------------------------------------ internals

  /** Looks up a live member; UNKNOWN_MEMBER when it is not (or no longer) in that group. */
  private member(group: string, memberId: string, topic: string | null): { group: ConsumerGroup; member: Member } {
    const g = this.memberGroup.get(memberId);
    const m = g?.members.get(memberId);
    if (!g || !m || g.name !== group || (topic !== null && g.topic !== topic)) {
      const where = topic === null ? `group '${group}'` : `group '${group}' on topic '${topic}'`;
      throw new TickbusError(ErrorCode.UNKNOWN_MEMBER, `'${memberId}' is not a member of ${where} (it left, its connection closed or its session timed out): join again`, topic === null ? {} : { topic });
    }
    return { group: g, member: m };
  }

  private connMembers(connId: number): Set<string> {
    let s = this.byConn.get(connId);
    if (!s) {
      s = new Set();
      this.byConn.set(connId, s);
    }
    return s;
  }

  /** Removes a member everywhere; the caller rebalances. Returns it if it was live. */
  private drop(g: ConsumerGroup, id: string, reason: DeathReason): Member | undefined {
    const m = g.remove(id);
    if (!m) return undefined;
    this.memberGroup.delete(id);
    this.byConn.get(m.connId)?.delete(id);
    if (g.members.size === 0) this.groups.delete(groupKey(g.name, g.topic));
    if (reason !== 'left' && reason !== 'connection closed') logLine('group member dropped', { group: g.name, topic: g.topic, member: id, reason });
    return m;
  }

  /** Runs one rebalance step and pushes its assignments; `joiner`'s one answers its JoinGroup. */
  private rebalance(g: ConsumerGroup, joiner?: string, joinRequestId = 0): AssignmentOut[] {
    if (g.members.size === 0) return [];
    const outs = g.step(this.now());
    for (const o of outs) this.sendAssignment(g, o, o.member.id === joiner ? joinRequestId : 0);
    return outs;
  }

  private sendAssignment(g: ConsumerGroup, o: AssignmentOut, requestId: number): void {
    this.opts.send(o.member.connId, {
      type: 'GroupAssignment',
      requestId,
      group: g.name,
      topic: g.topic,
      memberId: o.member.id,
      generation: o.generation,
      partitions: o.partitions,
    });
  }

  /** Appends entries durably; the in-memory view changes once they are on disk, in write order. */
  private write(entries: OffsetEntry[]): Promise<void> {
    const appended = this.store.append(entries); // in the log now, in request order
    // Chained so that views change in write order and FetchOffsets waits for every write before it.
    const chained = this.lastWrite.then(() => appended).then(() => {
      for (const e of entries) this.remember(e);
    });
    this.lastWrite = chained.catch(() => undefined);
    return chained;
  }

  private remember(e: OffsetEntry): void {
    const key = groupKey(e.group, e.topic);
    let m = this.committed.get(key);
    if (e.offset === null) {
      m?.delete(e.partition);
      if (m?.size === 0) this.committed.delete(key);
      return;
    }
    if (!m) {
      m = new Map();
      this.committed.set(key, m);
    }
    m.set(e.partition, e.offset);
  }
}

function checkName(what: 'group' | 'topic', v: string): void {
  if (v.length === 0 || v.length > MAX_NAME_LENGTH || v.includes('\0')) {
    throw new TickbusError(ErrorCode.INVALID_REQUEST, `${what} name must be 1 to ${MAX_NAME_LENGTH} characters without NUL, got ${JSON.stringify(v.slice(0, 40))}`);
  }
}
