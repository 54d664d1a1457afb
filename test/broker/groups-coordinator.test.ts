// The consumer-group coordinator with a fake `send` and a fake clock, no sockets: assignment,
// two-step rebalances on join / leave / connection close / session timeout, generation fencing of
// commits, and committed offsets that survive close/open (the real `__consumer_offsets` log).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { assignPartitions } from '../../broker/groups/assignor.js';
import { GroupCoordinator } from '../../broker/groups/coordinator.js';
import { ErrorCode } from '../../schemas/errors.js';
import type { Frame, FrameOf } from '../../schemas/frames.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tickbus-groups-'));
  dirs.push(d);
  return d;
}

type Assignment = FrameOf<'GroupAssignment'>;

/** A coordinator wired to an in-memory outbox per connection and a clock the test moves. */
class Harness {
  clock = 1_000_000;
  readonly outbox = new Map<number, Frame[]>();
  readonly topics = new Map<string, number>([['t', 6]]);
  coord: GroupCoordinator;
  private nextReq = 1;

  constructor(readonly dataDir = tempDir()) {
    this.coord = this.open();
  }

  open(): GroupCoordinator {
    return GroupCoordinator.open({
      dataDir: this.dataDir,
      partitionsOf: (t) => this.topics.get(t),
      send: (connId, frame) => {
        const list = this.outbox.get(connId) ?? [];
        list.push(frame);
        this.outbox.set(connId, list);
      },
      now: () => this.clock,
    });
  }

  reopen(): void {
    this.coord.close();
    this.coord = this.open();
  }

  /** Frames sent to `conn` since the last take(). */
  take(conn: number): Frame[] {
    const out = this.outbox.get(conn) ?? [];
    this.outbox.set(conn, []);
    return out;
  }

  /** Sends a request and returns its answer (the one frame carrying its request id). */
  request(conn: number, frame: Extract<Frame, { requestId: number }>): Frame {
    const requestId = this.nextReq++;
    this.coord.handle(conn, { ...frame, requestId });
    const answer = (this.outbox.get(conn) ?? []).find((f) => 'requestId' in f && f.requestId === requestId);
    if (!answer) throw new Error(`no answer to ${frame.type}`);
    this.outbox.set(conn, (this.outbox.get(conn) ?? []).filter((f) => f !== answer));
    return answer;
  }

  join(conn: number, group = 'g', topic = 't', sessionTimeoutMs = 1000): Assignment {
    const a = this.request(conn, { type: 'JoinGroup', requestId: 0, group, topic, memberId: '', sessionTimeoutMs });
    if (a.type !== 'GroupAssignment') throw new Error(`JoinGroup answered ${JSON.stringify(a)}`);
    return a;
  }

  ack(conn: number, a: Assignment): void {
    this.coord.handle(conn, { type: 'AssignmentAck', group: a.group, memberId: a.memberId, generation: a.generation });
  }

  commit(conn: number, memberId: string, generation: number, offsets: [number, number][], group = 'g', topic = 't'): Frame {
    return this.request(conn, {
      type: 'CommitOffsets',
      requestId: 0,
      group,
      topic,
      memberId,
      generation,
      offsets: offsets.map(([partition, offset]) => ({ partition, offset })),
    });
  }

  async commitDurably(conn: number, memberId: string, generation: number, offsets: [number, number][]): Promise<Frame> {
    const requestId = this.nextReq++;
    this.coord.handle(conn, { type: 'CommitOffsets', requestId, group: 'g', topic: 't', memberId, generation, offsets: offsets.map(([partition, offset]) => ({ partition, offset })) });
    return this.waitAnswer(conn, requestId);
  }

  async fetchOffsets(conn: number, group = 'g', topic = 't'): Promise<Map<number, number>> {
    const requestId = this.nextReq++;
    this.coord.handle(conn, { type: 'FetchOffsets', requestId, group, topic });
    const f = await this.waitAnswer(conn, requestId);
    if (f.type !== 'OffsetsResult') throw new Error(`FetchOffsets answered ${JSON.stringify(f)}`);
    return new Map(f.offsets.map((o) => [o.partition, o.offset]));
  }

  private async waitAnswer(conn: number, requestId: number): Promise<Frame> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const list = this.outbox.get(conn) ?? [];
      const f = list.find((x) => 'requestId' in x && x.requestId === requestId);
      if (f) {
        this.outbox.set(conn, list.filter((x) => x !== f));
        return f;
      }
      if (Date.now() > deadline) throw new Error(`no answer to request ${requestId} within 5 s`);
      await new Promise((r) => setImmediate(r)); // the answer waits for the offsets log's fsync
    }
  }

  /** The latest assignment pushed to `conn` for `memberId` among the frames taken now. */
  lastAssignment(conn: number, memberId: string): Assignment | undefined {
    const as = this.take(conn).filter((f): f is Assignment => f.type === 'GroupAssignment' && f.memberId === memberId);
    return as[as.length - 1];
  }

  holds(group = 'g', topic = 't'): Map<string, number[]> {
    const d = this.coord.describe(group, topic);
    return new Map(d?.members.map((m) => [m.id, m.holds]) ?? []);
  }

  tick(ms: number): void {
    this.clock += ms;
    this.coord.tick();
  }
}

function errorCode(f: Frame): number {
  if (f.type !== 'ErrorReply') throw new Error(`expected ErrorReply, got ${JSON.stringify(f)}`);
  return f.code;
}

/** No partition is held by two members at once. */
function expectDisjoint(holds: Map<string, number[]>): void {
  const seen = new Map<number, string>();
  for (const [id, ps] of holds) {
    for (const p of ps) {
      expect(seen.get(p), `partition ${p} held by ${seen.get(p)} and ${id}`).toBeUndefined();
      seen.set(p, id);
    }
  }
}

describe('assignor', () => {
  it('assigns every partition once, balanced to within one, and keeps a stable assignment as it is', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 12 }), fc.array(fc.tuple(fc.nat(11), fc.nat(70)), { maxLength: 80 }), (n, m, prevPairs) => {
        const members = [...Array(m).keys()].map((i) => `m${i}`);
        const prev = new Map<string, number[]>();
        for (const [i, p] of prevPairs) prev.set(`m${i}`, [...(prev.get(`m${i}`) ?? []), p]);
        const a = assignPartitions(n, members, prev);
        const all = [...a.values()].flat().sort((x, y) => x - y);
        expect(all).toEqual([...Array(n).keys()]);
        const sizes = [...a.values()].map((l) => l.length);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
        // Sticky: run again from its own output and nothing moves.
        expect(assignPartitions(n, members, a)).toEqual(a);
      }),
    );
  });

  it('moves only what balance needs when a member joins or leaves', () => {
    const three = assignPartitions(12, ['a', 'b', 'c'], new Map());
    const four = assignPartitions(12, ['a', 'b', 'c', 'd'], three);
    let kept = 0;
    for (const id of ['a', 'b', 'c']) kept += four.get(id)!.filter((p) => three.get(id)!.includes(p)).length;
    expect(kept).toBe(9); // each of a, b, c gives exactly one partition to d
    const back = assignPartitions(12, ['a', 'b', 'c'], four);
    for (const id of ['a', 'b', 'c']) expect(back.get(id)!.filter((p) => four.get(id)!.includes(p))).toEqual(four.get(id));
  });
});

describe('group coordinator', () => {
  it('gives a first member every partition in its JoinGroup answer', () => {
    const h = new Harness();
    const a = h.join(1);
    expect(a.memberId).not.toBe('');
    expect(a.partitions).toEqual([0, 1, 2, 3, 4, 5]);
    expect(a.generation).toBeGreaterThan(0);
    h.coord.close();
  });

  it('moves partitions to a joining member only after the old owner acknowledges their revocation', () => {
    const h = new Harness();
    const a1 = h.join(1);
    h.ack(1, a1);
    const b1 = h.join(2);
    // B is answered at once, but gets nothing A still holds.
    expect(b1.partitions).toEqual([]);
    const a2 = h.lastAssignment(1, a1.memberId)!;
    expect(a2.partitions).toHaveLength(3);
    expect(a2.generation).toBeGreaterThan(a1.generation);
    const moved = [0, 1, 2, 3, 4, 5].filter((p) => !a2.partitions.includes(p));
    expect(h.holds().get(a1.memberId)).toEqual([0, 1, 2, 3, 4, 5]); // A still holds them until it acks
    expectDisjoint(h.holds());
    expect(h.take(2)).toEqual([]);

    h.ack(1, a2);
    const b2 = h.lastAssignment(2, b1.memberId)!;
    expect(b2.partitions).toEqual(moved);
    expect(b2.generation).toBeGreaterThan(a2.generation);
    expect(h.take(1)).toEqual([]); // A's partitions that did not move were never revoked
    expectDisjoint(h.holds());
    h.coord.close();
  });

  it('frees a member that does not ack after its session timeout and tells it', () => {
    const h = new Harness();
    const a1 = h.join(1, 'g', 't', 500);
    h.ack(1, a1);
    const b1 = h.join(2, 'g', 't', 500);
    h.take(1);
    h.coord.handle(2, { type: 'Heartbeat', requestId: 7, group: 'g', memberId: b1.memberId, generation: b1.generation });
    h.tick(300);
    expect(h.take(2).filter((f) => f.type === 'GroupAssignment')).toEqual([]); // still waiting for A's ack
    h.coord.handle(2, { type: 'Heartbeat', requestId: 8, group: 'g', memberId: b1.memberId, generation: b1.generation });
    h.tick(300);
    const toA = h.take(1);
    expect(toA.map((f) => f.type === 'ErrorReply' && f.code)).toContain(ErrorCode.UNKNOWN_MEMBER);
    const b2 = h.lastAssignment(2, b1.memberId)!;
    expect(b2.partitions).toEqual([0, 1, 2, 3, 4, 5]);
    h.coord.close();
  });

  it('rebalances when a member leaves, when its connection closes, and when its session times out', () => {
    const h = new Harness();
    const a = h.join(1, 'g', 't', 1000);
    h.ack(1, a);
    const b = h.join(2, 'g', 't', 1000);
    h.ack(1, h.lastAssignment(1, a.memberId)!);
    const c = h.join(3, 'g', 't', 1000);
    for (const [conn, id] of [[1, a.memberId], [2, b.memberId]] as const) {
      const x = h.lastAssignment(conn, id);
      if (x) h.ack(conn, x);
    }
    h.ack(2, h.lastAssignment(2, b.memberId) ?? b);
    const sizes = () => [...h.holds().values()].map((l) => l.length).sort();
    expect(sizes()).toEqual([2, 2, 2]);
    h.take(1);
    h.take(2);
    h.take(3);

    // Leave: A's partitions are free at once (it committed before leaving).
    const left = h.request(1, { type: 'LeaveGroup', requestId: 0, group: 'g', memberId: a.memberId });
    expect(left.type).toBe('OffsetsResult');
    expect(sizes()).toEqual([3, 3]);
    expectDisjoint(h.holds());

    // Connection close: B dies, C gets all.
    h.coord.connectionClosed(2);
    expect(h.lastAssignment(3, c.memberId)!.partitions).toEqual([0, 1, 2, 3, 4, 5]);

    // Session timeout: C stops heartbeating; a newcomer D gets everything after C's session ends.
    const d = h.join(4, 'g', 't', 10_000);
    expect(d.partitions).toEqual([]);
    h.tick(600);
    h.coord.handle(4, { type: 'Heartbeat', requestId: 9, group: 'g', memberId: d.memberId, generation: d.generation });
    h.tick(600); // C: 1200 ms without a heartbeat > 1000
    expect(h.lastAssignment(4, d.memberId)!.partitions).toEqual([0, 1, 2, 3, 4, 5]);
    const hb = h.request(3, { type: 'Heartbeat', requestId: 0, group: 'g', memberId: c.memberId, generation: 0 });
    expect(errorCode(hb)).toBe(ErrorCode.UNKNOWN_MEMBER);
    h.coord.close();
  });

  it('never lets two members hold a partition, and converges to a balanced assignment (random joins, leaves, acks, timeouts)', () => {
    type Op = { kind: 'join' } | { kind: 'leave'; who: number } | { kind: 'ack'; who: number } | { kind: 'close'; who: number } | { kind: 'time'; ms: number };
    const op = fc.oneof(
      fc.constant<Op>({ kind: 'join' }),
      fc.nat(7).map<Op>((who) => ({ kind: 'leave', who })),
      fc.nat(7).map<Op>((who) => ({ kind: 'ack', who })),
      fc.nat(7).map<Op>((who) => ({ kind: 'ack', who })),
      fc.nat(7).map<Op>((who) => ({ kind: 'close', who })),
      fc.integer({ min: 50, max: 400 }).map<Op>((ms) => ({ kind: 'time', ms })),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.array(op, { minLength: 1, maxLength: 40 }), (partitions, ops) => {
        const h = new Harness();
        h.topics.set('t', partitions);
        // conn i ↔ member i; each remembers the assignments pushed to it, acks the newest on 'ack'.
        const members: { conn: number; id: string; latest: Assignment }[] = [];
        const collect = (): void => {
          for (const m of members) {
            const a = h.lastAssignment(m.conn, m.id);
            if (a) m.latest = a;
          }
        };
        for (const o of ops) {
          if (o.kind === 'join') {
            const conn = members.length + 1;
            const a = h.join(conn, 'g', 't', 1000);
            members.push({ conn, id: a.memberId, latest: a });
          } else if (o.kind === 'time') {
            // Live members heartbeat; time passes (acks may come too late: that member is dropped).
            for (const m of members) h.coord.handle(m.conn, { type: 'Heartbeat', requestId: 99, group: 'g', memberId: m.id, generation: 0 });
            h.tick(o.ms);
          } else {
            const m = members[o.who % Math.max(1, members.length)];
            if (!m) continue;
            if (o.kind === 'ack') h.ack(m.conn, m.latest);
            else if (o.kind === 'leave') h.request(m.conn, { type: 'LeaveGroup', requestId: 0, group: 'g', memberId: m.id });
            else h.coord.connectionClosed(m.conn);
          }
          collect();
          expectDisjoint(h.holds());
        }
        // Quiesce: every live member acks what it got until nothing changes.
        for (let round = 0; round < 20; round++) {
          for (const m of members) h.ack(m.conn, m.latest);
          collect();
          expectDisjoint(h.holds());
        }
        const d = h.coord.describe('g', 't');
        if (d && d.members.length > 0) {
          expect(d.members.flatMap((m) => m.partitions).sort((a, b) => a - b)).toEqual([...Array(partitions).keys()]);
          const sizes = d.members.map((m) => m.partitions.length);
          expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
          for (const m of d.members) expect(m.holds).toEqual(m.partitions);
        }
        h.coord.close();
      }),
      { numRuns: 60 },
    );
  });

  it('accepts commits from the owner, including the final commit of a partition being revoked', async () => {
    const h = new Harness();
    const a1 = h.join(1);
    h.ack(1, a1);
    expect((await h.commitDurably(1, a1.memberId, a1.generation, [[0, 10], [5, 50]])).type).toBe('OffsetsResult');
    h.join(2);
    const a2 = h.lastAssignment(1, a1.memberId)!;
    const lost = [0, 1, 2, 3, 4, 5].filter((p) => !a2.partitions.includes(p));
    // Before its ack, A still holds what it loses: its final commit (new generation) is taken.
    const final = await h.commitDurably(1, a1.memberId, a2.generation, lost.map((p) => [p, 100 + p]));
    expect(final.type).toBe('OffsetsResult');
    h.ack(1, a2);
    const committed = await h.fetchOffsets(9);
    for (const p of lost) expect(committed.get(p)).toBe(100 + p);
    h.coord.close();
  });

  it('rejects a commit for a partition the member does not hold (STALE_GENERATION), and commits nothing of it', async () => {
    const h = new Harness();
    const a1 = h.join(1);
    h.ack(1, a1);
    const b1 = h.join(2);
    const a2 = h.lastAssignment(1, a1.memberId)!;
    h.ack(1, a2);
    const b2 = h.lastAssignment(2, b1.memberId)!;
    const movedToB = b2.partitions[0]!;
    const keptByA = a2.partitions[0]!;
    const f = h.commit(1, a1.memberId, a2.generation, [[keptByA, 5], [movedToB, 7]]);
    expect(errorCode(f)).toBe(ErrorCode.STALE_GENERATION);
    if (f.type === 'ErrorReply') expect(f.partition).toBe(movedToB);
    expect(await h.fetchOffsets(9)).toEqual(new Map());
    h.coord.close();
  });

  it('rejects a commit from a generation older than the one that gave the member the partition', async () => {
    const h = new Harness();
    h.topics.set('t', 2);
    const a1 = h.join(1);
    h.ack(1, a1); // A: [0, 1] at a1.generation
    const b1 = h.join(2);
    const a2 = h.lastAssignment(1, a1.memberId)!;
    h.ack(1, a2); // A: [0]; partition 1 goes to B
    const b2 = h.lastAssignment(2, b1.memberId)!;
    expect(b2.partitions).toEqual([1]);
    h.request(2, { type: 'LeaveGroup', requestId: 0, group: 'g', memberId: b1.memberId });
    const a3 = h.lastAssignment(1, a1.memberId)!; // partition 1 back to A
    expect(a3.partitions).toEqual([0, 1]);
    // A commit of partition 1 that A sent before it lost it (generation a1) must not land now.
    expect(errorCode(h.commit(1, a1.memberId, a1.generation, [[1, 3]]))).toBe(ErrorCode.STALE_GENERATION);
    // Partition 0 never moved: an older generation is still A's.
    expect((await h.commitDurably(1, a1.memberId, a1.generation, [[0, 3]])).type).toBe('OffsetsResult');
    expect((await h.commitDurably(1, a1.memberId, a3.generation, [[1, 3]])).type).toBe('OffsetsResult');
    expect(errorCode(h.commit(1, a1.memberId, a3.generation + 5, [[1, 3]]))).toBe(ErrorCode.INVALID_REQUEST);
    h.coord.close();
  });

  it('rejects commits and heartbeats of unknown or dropped members with UNKNOWN_MEMBER', () => {
    const h = new Harness();
    expect(errorCode(h.commit(1, 'nobody', 1, [[0, 1]]))).toBe(ErrorCode.UNKNOWN_MEMBER);
    expect(errorCode(h.request(1, { type: 'Heartbeat', requestId: 0, group: 'g', memberId: 'nobody', generation: 1 }))).toBe(ErrorCode.UNKNOWN_MEMBER);
    const a = h.join(1, 'g', 't', 500);
    expect(errorCode(h.commit(1, a.memberId, a.generation, [[0, 1]], 'other-group'))).toBe(ErrorCode.UNKNOWN_MEMBER);
    h.tick(600);
    expect(errorCode(h.commit(1, a.memberId, a.generation, [[0, 1]]))).toBe(ErrorCode.UNKNOWN_MEMBER);
    h.coord.close();
  });

  it('refuses joins to a missing topic, with a bad session timeout, or with a bad group name', () => {
    const h = new Harness();
    const ask = (f: Partial<FrameOf<'JoinGroup'>>): number =>
      errorCode(h.request(1, { type: 'JoinGroup', requestId: 0, group: 'g', topic: 't', memberId: '', sessionTimeoutMs: 1000, ...f }));
    expect(ask({ topic: 'missing' })).toBe(ErrorCode.UNKNOWN_TOPIC);
    expect(ask({ sessionTimeoutMs: 5 })).toBe(ErrorCode.INVALID_REQUEST);
    expect(ask({ group: '' })).toBe(ErrorCode.INVALID_REQUEST);
    expect(ask({ group: 'a\0b' })).toBe(ErrorCode.INVALID_REQUEST);
    for (let i = 0; i < 100; i++) h.join(2, `g${i}`);
    expect(errorCode(h.request(2, { type: 'JoinGroup', requestId: 0, group: 'one-too-many', topic: 't', memberId: '', sessionTimeoutMs: 1000 }))).toBe(ErrorCode.INVALID_REQUEST);
    h.coord.close();
  });

  it('answers SHUTTING_DOWN once closed', () => {
    const h = new Harness();
    h.coord.close();
    expect(errorCode(h.request(1, { type: 'FetchOffsets', requestId: 0, group: 'g', topic: 't' }))).toBe(ErrorCode.SHUTTING_DOWN);
  });

  it('refuses commits of a partition the topic does not have, or of a negative offset', () => {
    const h = new Harness();
    const a = h.join(1);
    expect(errorCode(h.commit(1, a.memberId, a.generation, [[6, 1]]))).toBe(ErrorCode.UNKNOWN_PARTITION);
    expect(errorCode(h.commit(1, a.memberId, a.generation, [[0, -1]]))).toBe(ErrorCode.INVALID_REQUEST);
    h.coord.close();
  });

  it('keeps committed offsets across close and open (the __consumer_offsets log)', async () => {
    const h = new Harness();
    const a = h.join(1);
    await h.commitDurably(1, a.memberId, a.generation, [[0, 11], [1, 22]]);
    await h.commitDurably(1, a.memberId, a.generation, [[1, 23], [2, 33]]);
    expect(fs.existsSync(path.join(h.dataDir, '__consumer_offsets', '0'))).toBe(true);
    h.reopen();
    expect(await h.fetchOffsets(5)).toEqual(new Map([[0, 11], [1, 23], [2, 33]]));
    // Another group's offsets are its own.
    expect(await h.fetchOffsets(5, 'other')).toEqual(new Map());
    h.coord.close();
  });

  it('ends a deleted topic’s groups (TOPIC_DELETED) and forgets its offsets durably', async () => {
    const h = new Harness();
    const a = h.join(1);
    await h.commitDurably(1, a.memberId, a.generation, [[0, 5]]);
    h.topics.delete('t');
    h.coord.topicDeleted('t');
    expect(h.take(1).map((f) => f.type === 'ErrorReply' && f.code)).toContain(ErrorCode.TOPIC_DELETED);
    expect(h.coord.describe('g', 't')).toBeUndefined();
    expect(await h.fetchOffsets(2)).toEqual(new Map());
    h.reopen();
    expect(await h.fetchOffsets(2)).toEqual(new Map());
    h.coord.close();
  });
});
