// An in-process broker behind the SDK's Transport interface, for deterministic client tests:
// a log per partition with idempotent appends (producer id + sequence), subscriptions with
// catch-up and live deliveries, and switches to inject exactly the faults a test needs (drop a
// socket, lose an ack, skip a delivery to force a gap, refuse connections, answer with an error).
// Messages travel asynchronously (one microtask hop) and in order per socket, like a network.
// Idempotence uses the broker's own ProducerState, so the SDK is tested against the real window of
// remembered batches (a fake that remembered every sequence once hid a window of 5).
// Leaders: moveLeader() moves a partition to a new owner URL with the next leader epoch, like a
// cluster failover: the old owner answers NOT_LEADER (or FENCED_LEADER_EPOCH), every request is checked
// against the current epoch, metadata may show the partition offline ('') for a few answers, and the new
// leader's log may be shorter (an unreplicated tail lost), with the producer state rebuilt from what is
// left — as a real new leader's is, from its replicated log. The fake delivers on append and ignores
// isolation: its subscribers see what an isolation 'leader' subscriber sees.
import { APPEND, ProducerState } from '../../broker/log/producer-state.js';
import { ErrorCode, TickbusError } from '../../schemas/errors.js';
import { decodeFrame, encodeFrame, errorFrame, type Frame, type FrameOf, PROTOCOL_VERSION } from '../../schemas/frames.js';
import {
  assertOneBatch,
  batchBaseSequence,
  batchProducerEpoch,
  batchProducerId,
  batchRecordCount,
  stampBatch,
} from '../../schemas/record-batch.js';
import type { Socket, SocketHandlers, Transport } from '../../client/transport.js';

export const BOOTSTRAP = 'ws://fake-bootstrap:1';
const ownerUrl = (owner: number, incarnation: number): string => `ws://fake-owner-${owner}:${incarnation}`;

export class FakePartition {
  batches: Uint8Array[] = [];
  baseOffsets: number[] = [];
  nextOffset = 0;
  logStartOffset = 0;
  /** The broker's own idempotence rules and window. */
  producers = new ProducerState();
  subs = new Set<FakeSub>();
  leaderEpoch = 0;
  /** Owner index of the leader after a moveLeader(); null: the default owner (partition % owners). */
  leaderOwner: number | null = null;
  /** URLs that led this partition before: they answer `staleAnswer`. */
  readonly formerLeaders = new Set<string>();
  staleAnswer: number = ErrorCode.NOT_LEADER;
  /** Metadata answers still to show this partition without a leader (endpoint '', leaderId -1). */
  offlineAnswers = 0;
  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {}

  /** Drops whole batches below `offset` (retention). */
  truncateBefore(offset: number): void {
    while (this.batches.length > 0) {
      const count = batchRecordCount(this.batches[0]!);
      if (this.baseOffsets[0]! + count > offset) break;
      this.batches.shift();
      this.baseOffsets.shift();
    }
    this.logStartOffset = this.baseOffsets[0] ?? this.nextOffset;
  }

  /** Drops whole batches from `offset` on (a failover losing an unreplicated tail); rebuilds the producer state from what is left. */
  truncateTo(offset: number): void {
    const keep = this.baseOffsets.findIndex((b) => b >= offset);
    if (keep < 0) return;
    if (this.baseOffsets[keep] !== offset) throw new Error(`truncateTo(${offset}) is not at a batch boundary`);
    this.batches.length = keep;
    this.baseOffsets.length = keep;
    this.nextOffset = offset;
    this.producers = new ProducerState();
    for (let i = 0; i < this.batches.length; i++) {
      const b = this.batches[i]!;
      this.producers.record(batchProducerId(b), batchProducerEpoch(b), batchBaseSequence(b), batchRecordCount(b), this.baseOffsets[i]!);
    }
  }
}

export interface MoveLeaderOptions {
  /** What the old leader answers from now on. Default NOT_LEADER. */
  answer?: typeof ErrorCode.NOT_LEADER | typeof ErrorCode.FENCED_LEADER_EPOCH;
  /** The new leader's log ends here (whole batches from it are lost). Default: it has everything. */
  truncateTo?: number;
  /** Subscribers on the old leader: told NOT_LEADER (default), or their sockets dropped (the old leader died). */
  subscribers?: 'push-error' | 'drop';
  /** Metadata answers that show the partition offline before the new leader appears. Default 0. */
  offlineFor?: number;
}

interface FakeSub {
  conn: FakeConn;
  part: FakePartition;
  next: number;
  credit: number;
  creditBytes: number;
}

export class FakeConn {
  hello = false;
  open = true;
  readonly received: Frame[] = [];
  constructor(
    readonly broker: FakeBroker,
    readonly url: string,
    readonly handlers: SocketHandlers,
  ) {}

  send(f: Frame): void {
    if (!this.open || this.broker.paused.has(this.url)) return;
    const bytes = encodeFrame(f);
    queueMicrotask(() => {
      if (this.open) this.handlers.onMessage(bytes);
    });
  }

  /** Server-side close: the client sees onClose after the messages already sent. */
  drop(code = 1006, reason = 'dropped by the test'): void {
    if (!this.open) return;
    this.open = false;
    for (const p of this.broker.allPartitions()) for (const s of [...p.subs]) if (s.conn === this) p.subs.delete(s);
    this.broker.conns.delete(this);
    queueMicrotask(() => queueMicrotask(() => this.handlers.onClose(code, reason)));
  }
}

export interface FakeHooks {
  /** Return 'close' to drop the connection instead of answering, 'ack-then-drop' to append and drop before the ack, or an error. */
  produce?: (
    f: FrameOf<'Produce'>,
    conn: FakeConn,
  ) => 'close' | 'append-then-drop' | 'hold' | 'fail-over' | 'append-then-fail-over' | 'append-then-lose' | TickbusError | undefined;
  subscribe?: (f: FrameOf<'Subscribe'>, conn: FakeConn) => TickbusError | undefined;
  /** May change a Deliver's batch bytes (a copy) before it is sent: corruption tests. */
  mutateDeliver?: (bytes: Uint8Array, partition: number) => void;
  /** Return true to not send this live delivery to this subscriber (forces a gap on the client). */
  skipLive?: (sub: { partition: number; next: number }, baseOffset: number) => boolean;
}

export class FakeBroker implements Transport {
  readonly topics = new Map<string, FakePartition[]>();
  readonly conns = new Set<FakeConn>();
  readonly hooks: FakeHooks = {};
  /** Every frame clients sent, in order. */
  readonly log: { url: string; frame: Frame; conn: FakeConn }[] = [];
  /** While true, connections are refused. */
  down = false;
  /** Owners (one per partition modulo `owners`); restart() changes their URLs like a real restart on port 0. */
  owners = 2;
  incarnation = 0;
  held: { conn: FakeConn; f: FrameOf<'Produce'> }[] = [];
  opens = 0;
  /** Further bootstrap URLs that answer (all serve the same cluster). */
  readonly bootstraps = new Set<string>([BOOTSTRAP]);
  /** Owner URLs whose process is paused (SIGSTOP): sockets stay open, nothing is read or sent. */
  readonly paused = new Set<string>();
  /** Bootstrap URLs that answer Hello and then nothing (a broker that hangs after accepting clients). */
  readonly silent = new Set<string>();
  /** CreateTopic's replication settings, echoed in metadata like a cluster's. */
  readonly replication = new Map<string, { replicationFactor: number; minInsync: number }>();
  private nextLeaderOwner = 100;
  readonly leaderMoves: { topic: string; partition: number; epoch: number; url: string }[] = [];

  createTopic(name: string, partitions: number): void {
    this.topics.set(
      name,
      Array.from({ length: partitions }, (_, i) => new FakePartition(name, i)),
    );
  }

  partition(topic: string, p: number): FakePartition {
    const part = this.topics.get(topic)?.[p];
    if (!part) throw new Error(`no ${topic}/${p}`);
    return part;
  }

  allPartitions(): FakePartition[] {
    return [...this.topics.values()].flat();
  }

  endpointOf(p: number): string {
    return ownerUrl(p % this.owners, this.incarnation);
  }

  /** The URL of the partition's current leader. */
  leaderOf(part: FakePartition): string {
    return part.leaderOwner === null ? this.endpointOf(part.partition) : ownerUrl(part.leaderOwner, this.incarnation);
  }

  /** A failover: the partition moves to a new owner URL with the next leader epoch. */
  moveLeader(topic: string, partition: number, opts: MoveLeaderOptions = {}): void {
    const p = this.partition(topic, partition);
    const old = this.leaderOf(p);
    p.formerLeaders.add(old);
    p.staleAnswer = opts.answer ?? ErrorCode.NOT_LEADER;
    p.leaderOwner = this.nextLeaderOwner++;
    p.leaderEpoch++;
    p.formerLeaders.delete(this.leaderOf(p));
    p.offlineAnswers = opts.offlineFor ?? 0;
    if (opts.truncateTo !== undefined) p.truncateTo(opts.truncateTo);
    this.leaderMoves.push({ topic, partition, epoch: p.leaderEpoch, url: this.leaderOf(p) });
    const subs = [...p.subs].filter((s) => s.conn.url === old);
    for (const s of subs) p.subs.delete(s);
    if (opts.subscribers === 'drop') {
      for (const c of [...this.conns]) if (c.url === old) c.drop();
    } else {
      for (const s of subs) s.conn.send(errorFrame(new TickbusError(ErrorCode.NOT_LEADER, `not the leader of ${topic}/${partition} any more`, { topic, partition }), 0));
    }
  }

  /** Drops every socket. */
  dropAll(): void {
    for (const c of [...this.conns]) c.drop();
  }

  /** Drops every socket and moves owners to new URLs; the log survives (like kill -9 + restart). */
  restart(): void {
    this.dropAll();
    this.incarnation++;
  }

  /** Frames of one type the clients sent. */
  sent<T extends Frame['type']>(type: T): FrameOf<T>[] {
    return this.log.filter((e) => e.frame.type === type).map((e) => e.frame as FrameOf<T>);
  }

  async open(url: string, handlers: SocketHandlers, _timeoutMs: number): Promise<Socket> {
    await Promise.resolve();
    this.opens++;
    const isOwner = url.startsWith('ws://fake-owner-');
    if (this.down || (isOwner && !url.endsWith(`:${this.incarnation}`)) || (!isOwner && !this.bootstraps.has(url) && !this.silent.has(url))) {
      throw new TickbusError(ErrorCode.CONNECTION_CLOSED, `cannot connect to ${url}: ECONNREFUSED`);
    }
    const conn = new FakeConn(this, url, handlers);
    this.conns.add(conn);
    return {
      send: (bytes) => {
        if (!conn.open) return;
        const copy = bytes.slice(); // the client may reuse its buffer; a network would have copied
        queueMicrotask(() => this.onMessage(conn, copy));
      },
      close: () => conn.drop(1000, 'client closed'),
      get bufferedAmount() {
        return 0;
      },
    };
  }

  private onMessage(conn: FakeConn, bytes: Uint8Array): void {
    if (!conn.open) return;
    const f = decodeFrame(bytes);
    conn.received.push(f);
    this.log.push({ url: conn.url, frame: f, conn });
    if (this.silent.has(conn.url) && conn.hello) return;
    if (this.paused.has(conn.url)) return;
    if (!conn.hello) {
      if (f.type !== 'Hello' || f.protocolVersion !== PROTOCOL_VERSION) {
        conn.send(errorFrame(new TickbusError(ErrorCode.HELLO_REQUIRED, 'Hello first')));
        conn.drop(1008);
        return;
      }
      conn.hello = true;
      conn.send({ type: 'HelloOk', protocolVersion: PROTOCOL_VERSION, brokerId: 'fake', ownerId: -1 });
      return;
    }
    try {
      this.dispatch(conn, f);
    } catch (err) {
      const e = err instanceof TickbusError ? err : new TickbusError(ErrorCode.INTERNAL, String(err));
      conn.send(errorFrame(e, 'requestId' in f ? f.requestId : 0));
    }
  }

  private dispatch(conn: FakeConn, f: Frame): void {
    switch (f.type) {
      case 'Metadata': {
        const names = f.topics.length ? f.topics : [...this.topics.keys()];
        conn.send({
          type: 'MetadataResult',
          requestId: f.requestId,
          topics: names
            .filter((n) => this.topics.has(n))
            .map((n) => ({
              name: n,
              config: null,
              ...this.replication.get(n),
              partitions: this.topics.get(n)!.map((p) => {
                const offline = p.offlineAnswers > 0;
                if (offline) p.offlineAnswers--;
                const owner = p.leaderOwner ?? p.partition % this.owners;
                return {
                  partition: p.partition,
                  ownerId: owner,
                  endpoint: offline ? '' : this.leaderOf(p),
                  leaderEpoch: p.leaderEpoch,
                  logStartOffset: p.logStartOffset,
                  highWatermark: p.nextOffset,
                  leaderId: offline ? -1 : owner,
                  replicas: [owner],
                  isr: [owner],
                  replicaZones: ['z'],
                };
              }),
            })),
        });
        return;
      }
      case 'DescribeTopic':
        if (!this.topics.has(f.name)) throw new TickbusError(ErrorCode.UNKNOWN_TOPIC, `topic '${f.name}' does not exist`, { topic: f.name });
        this.dispatch(conn, { type: 'Metadata', requestId: f.requestId, topics: [f.name] });
        return;
      case 'CreateTopic':
        if (this.topics.has(f.name)) throw new TickbusError(ErrorCode.TOPIC_EXISTS, `topic '${f.name}' exists`);
        this.createTopic(f.name, f.partitions);
        if (f.replicationFactor || f.minInsync) this.replication.set(f.name, { replicationFactor: f.replicationFactor ?? 0, minInsync: f.minInsync ?? 0 });
        this.dispatch(conn, { type: 'Metadata', requestId: f.requestId, topics: [f.name] });
        return;
      case 'Produce':
        return this.onProduce(conn, f);
      case 'Subscribe':
        return this.onSubscribe(conn, f);
      case 'Unsubscribe':
        for (const p of f.partitions) {
          const part = this.topics.get(f.topic)?.[p];
          if (part) for (const s of [...part.subs]) if (s.conn === conn) part.subs.delete(s);
        }
        return;
      case 'Credit': {
        const part = this.topics.get(f.topic)?.[f.partition];
        if (part) for (const s of part.subs) if (s.conn === conn) s.credit += f.bytes;
        return;
      }
      case 'Ping': // the real edge answers Ping on every endpoint; tests use it as a barrier (test/helpers/barrier-transport.ts)
        conn.send({ type: 'Pong', nonce: f.nonce });
        return;
      default:
        throw new TickbusError(ErrorCode.INVALID_REQUEST, `fake broker does not serve ${f.type}`);
    }
  }

  private owned(conn: FakeConn, topic: string, partition: number, epoch?: number): FakePartition {
    const parts = this.topics.get(topic);
    if (!parts) throw new TickbusError(ErrorCode.UNKNOWN_TOPIC, `topic '${topic}' does not exist`, { topic });
    const p = parts[partition];
    if (!p) throw new TickbusError(ErrorCode.UNKNOWN_PARTITION, `no partition ${partition}`, { topic, partition });
    if (conn.url !== this.leaderOf(p)) {
      if (p.formerLeaders.has(conn.url)) throw new TickbusError(p.staleAnswer, `no longer the leader of ${topic}/${partition}`, { topic, partition });
      throw new TickbusError(ErrorCode.NOT_OWNER, 'not the owner', { topic, partition });
    }
    // -1 (or absent): the sender does not check epochs.
    if (epoch !== undefined && epoch >= 0 && epoch !== p.leaderEpoch) {
      const code = epoch < p.leaderEpoch ? ErrorCode.FENCED_LEADER_EPOCH : ErrorCode.UNKNOWN_LEADER_EPOCH;
      throw new TickbusError(code, `leader epoch ${epoch}, the partition is at ${p.leaderEpoch}`, { topic, partition });
    }
    return p;
  }

  private onProduce(conn: FakeConn, f: FrameOf<'Produce'>): void {
    this.owned(conn, f.topic, f.partition, f.leaderEpoch);
    const hook = this.hooks.produce?.(f, conn);
    if (hook === 'close') {
      conn.drop();
      return;
    }
    // The hook may have moved the leader ('fail-over', or moveLeader() itself): the (live) old leader refuses.
    if (hook === 'fail-over') this.moveLeader(f.topic, f.partition);
    const p = this.owned(conn, f.topic, f.partition, f.leaderEpoch);
    if (hook === 'append-then-fail-over' || hook === 'append-then-lose') {
      // The old leader appends, then dies before it acknowledges; the new leader has the batch
      // (replicated) or not (lost with the unreplicated tail: never acknowledged, so allowed even with acks 'all').
      const res = this.append(p, f.batch);
      this.moveLeader(f.topic, f.partition, {
        subscribers: 'drop',
        ...(hook === 'append-then-lose' && !res.duplicate ? { truncateTo: res.baseOffset } : {}),
      });
      conn.drop();
      return;
    }
    if (hook === 'hold') {
      this.held.push({ conn, f });
      return;
    }
    if (hook instanceof TickbusError) throw hook;
    const res = this.append(p, f.batch);
    if (hook === 'append-then-drop') {
      conn.drop();
      return;
    }
    if (f.acks === 'none') return;
    conn.send({
      type: 'ProduceAck',
      requestId: f.requestId,
      topic: f.topic,
      partition: f.partition,
      baseOffset: res.baseOffset,
      recordCount: batchRecordCount(f.batch),
      highWatermark: p.nextOffset,
      duplicate: res.duplicate,
    });
  }

  /** Answers held produce requests (in order). */
  release(): void {
    const held = this.held;
    this.held = [];
    for (const h of held) if (h.conn.open) this.onMessage(h.conn, encodeFrame(h.f));
  }

  append(p: FakePartition, batch: Uint8Array): { baseOffset: number; duplicate: boolean } {
    assertOneBatch(batch, 0, batch.length, false);
    const pid = batchProducerId(batch);
    const epoch = batchProducerEpoch(batch);
    const seq = batchBaseSequence(batch);
    const count = batchRecordCount(batch);
    let verdict: number;
    try {
      verdict = p.producers.check(pid, epoch, seq, count);
    } catch (err) {
      throw err instanceof TickbusError ? new TickbusError(err.code, err.message, { topic: p.topic, partition: p.partition }) : err;
    }
    if (verdict !== APPEND) return { baseOffset: verdict, duplicate: true };
    const copy = batch.slice();
    const base = p.nextOffset;
    stampBatch(copy, 0, base, p.leaderEpoch, Math.round((performance.timeOrigin + performance.now()) * 1000));
    p.batches.push(copy);
    p.baseOffsets.push(base);
    p.nextOffset += count;
    p.producers.record(pid, epoch, seq, count, base);
    for (const s of [...p.subs]) {
      if (s.next !== base) continue; // catching up: the catch-up loop sends it
      if (this.hooks.skipLive?.({ partition: p.partition, next: s.next }, base)) {
        s.next = p.nextOffset; // dropped like a publish to a socket past maxBackpressure
        continue;
      }
      this.deliver(s, [copy], true);
      s.next = p.nextOffset;
    }
    return { baseOffset: base, duplicate: false };
  }

  private onSubscribe(conn: FakeConn, f: FrameOf<'Subscribe'>): void {
    const err = this.hooks.subscribe?.(f, conn);
    if (err) throw err;
    for (const st of f.starts) {
      try {
        const p = this.owned(conn, f.topic, st.partition, st.leaderEpoch);
        let start: number;
        if (st.kind === 'earliest') start = p.logStartOffset;
        else if (st.kind === 'latest') start = p.nextOffset;
        else if (st.kind === 'offset') {
          start = st.value;
          if (start < p.logStartOffset || start > p.nextOffset) {
            throw new TickbusError(ErrorCode.OFFSET_OUT_OF_RANGE, `offset ${start} is out of range (${p.logStartOffset}..${p.nextOffset})`, { topic: f.topic, partition: st.partition });
          }
        } else start = p.logStartOffset;
        for (const s of [...p.subs]) if (s.conn === conn) p.subs.delete(s);
        const sub: FakeSub = { conn, part: p, next: start, credit: f.creditBytes || Infinity, creditBytes: f.creditBytes };
        p.subs.add(sub);
        conn.send({ type: 'SubscribeOk', requestId: f.requestId, topic: f.topic, partition: p.partition, startOffset: start, highWatermark: p.nextOffset, logStartOffset: p.logStartOffset });
        // Catch-up: every batch containing `start` and after, one Deliver per batch.
        const from = p.baseOffsets.findIndex((b, i) => b + batchRecordCount(p.batches[i]!) > start);
        if (from >= 0) {
          for (let i = from; i < p.batches.length; i++) this.deliver(sub, [p.batches[i]!], false);
          sub.next = p.nextOffset;
        }
      } catch (e) {
        conn.send(errorFrame(e as TickbusError, f.requestId));
      }
    }
  }

  /** Sends a Deliver of whole batches. */
  deliver(s: FakeSub, batches: Uint8Array[], live: boolean): void {
    const total = batches.reduce((n, b) => n + b.length, 0);
    const bytes = new Uint8Array(total);
    let at = 0;
    for (const b of batches) {
      bytes.set(b, at);
      at += b.length;
    }
    this.hooks.mutateDeliver?.(bytes, s.part.partition);
    const frame: Frame = { type: 'Deliver', topic: s.part.topic, partition: s.part.partition, highWatermark: s.part.nextOffset, live, batches: bytes };
    s.credit -= encodeFrame(frame).length;
    s.conn.send(frame);
  }

  /** Pushes an error with request id 0 for one subscriber's partition and ends it (like catch-up past retention). */
  failSubscription(topic: string, partition: number, err: TickbusError): void {
    const p = this.partition(topic, partition);
    for (const s of [...p.subs]) {
      p.subs.delete(s);
      s.conn.send(errorFrame(err, 0));
    }
  }
}
