// A partition owner: the single writer of its partitions, with its own uWebSockets.js App on its
// own port. The live path is one synchronous run per message, on this thread only:
//   socket message → decodeFrame → PartitionLog.append (stamp in place, writeSync) → uWS publish → ack
// No thread hop, no await before the frame is consumed (uWS detaches the buffer afterwards).
import type { HttpResponse, TemplatedApp, us_listen_socket, WebSocket } from 'uWebSockets.js';
import { asTickbusError, ErrorCode, TickbusError } from '../../schemas/errors.js';
import { decodeFrame, encodeFrameView, errorFrame, type Frame, type FrameOf, PROTOCOL_VERSION } from '../../schemas/frames.js';
import type { BrokerConfig } from '../config.js';
import { logLine } from '../logger.js';
import { PartitionLog } from '../log/partition-log.js';
import { partitionDir } from '../metadata/topic-store.js';
import { closeApp, listenExclusive, uws } from '../uws.js';
import type { OwnedTopic, OwnerCounters, PartitionStats } from './messages.js';
import { Partition } from './partition.js';
import { CatchUpPump, type ConnState, Subscription, subKey } from './subscription.js';

interface TopicState {
  name: string;
  id: number;
  partitionCount: number;
  /** Indexed by partition number; undefined where another owner serves it. */
  partitions: (Partition | undefined)[];
}

const CLOSE_POLICY = 1008;
const CLOSE_TOO_BIG = 1009;
const CLOSE_GOING_AWAY = 1001;
const CLOSE_RESTART = 1012;
const SWEEP_MS = 50;
/** Log maintenance (age roll, retention) every 20 sweeps ≈ 1 s. */
const MAINTAIN_EVERY_SWEEPS = 20;

function nowUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

export class Owner {
  readonly counters: OwnerCounters = {
    produceRequests: 0,
    recordsIn: 0,
    bytesIn: 0,
    duplicateBatches: 0,
    deliverFrames: 0,
    catchUpFrames: 0,
    catchUpBytes: 0,
    slowConsumerMoves: 0,
    slowConsumerDisconnects: 0,
    badFrames: 0,
    connections: 0,
  };
  private readonly app: TemplatedApp;
  private listenSocket: us_listen_socket | null = null;
  private readonly topics = new Map<string, TopicState>();
  /** Names deleted while this owner ran, so produce to them says TOPIC_DELETED rather than UNKNOWN_TOPIC. */
  private readonly deleted = new Set<string>();
  private readonly conns = new Set<ConnState>();
  private readonly pump: CatchUpPump;
  private nextConnId = 1;
  private sweepTimer: NodeJS.Timeout | null = null;
  private sweeps = 0;
  private closing = false;
  port = 0;

  constructor(
    readonly ownerId: number,
    private readonly config: BrokerConfig,
  ) {
    this.pump = new CatchUpPump(
      { chunkBytes: config.catchUpChunkBytes, highWaterBytes: Math.floor(config.slowConsumerBytes / 2) },
      this.counters,
    );
    this.app = uws.App();
    this.app.ws<ConnState>('/*', {
      // uWS closes larger messages itself without a word; up to twice the limit we read the size and
      // answer FRAME_TOO_LARGE, so a client learns why.
      maxPayloadLength: config.maxPayloadLength * 2,
      maxBackpressure: config.maxBackpressure,
      idleTimeout: config.idleTimeoutSec,
      sendPingsAutomatically: true,
      closeOnBackpressureLimit: 0,
      upgrade: (res, req, context) => {
        const conn: ConnState = { id: this.nextConnId++, hello: false, open: true, ws: null, subs: new Map(), stalledSince: 0, lastDrain: 0 };
        res.upgrade(conn, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
      },
      open: (ws) => {
        const conn = ws.getUserData();
        conn.ws = ws;
        this.conns.add(conn);
        this.counters.connections++;
      },
      message: (ws, message, isBinary) => this.onMessage(ws, message, isBinary),
      drain: (ws) => this.onDrain(ws.getUserData()),
      close: (ws) => this.onClose(ws.getUserData()),
    });
    this.app.get('/healthz', (res: HttpResponse) => {
      res.writeHeader('content-type', 'application/json').end(JSON.stringify({ status: 'ok', owner: this.ownerId }));
    });
    this.app.any('/*', (res: HttpResponse) => {
      res.writeStatus('404 Not Found').end('tickbus owner: WebSocket endpoint only\n');
    });
  }

  /** Starts listening and sweeping (slow consumers, log maintenance); resolves with the port. */
  async listen(host: string, port: number): Promise<number> {
    const ls = await listenExclusive(this.app, host, port);
    if (!ls) throw new TickbusError(ErrorCode.INTERNAL, `owner ${this.ownerId} could not listen on ${host}:${port} (port in use?)`);
    this.listenSocket = ls;
    this.port = uws.us_socket_local_port(ls);
    this.sweepTimer = setInterval(this.sweep, SWEEP_MS);
    this.sweepTimer.unref();
    return this.port;
  }

  openTopic(t: OwnedTopic): void {
    if (this.closing) throw new TickbusError(ErrorCode.OWNER_UNAVAILABLE, `partition owner ${this.ownerId} is stopping`);
    this.deleted.delete(t.name);
    const existing = this.topics.get(t.name);
    if (existing && existing.id === t.id) return;
    // Another incarnation of the name: the one we have was deleted (we missed it). Its subscribers are
    // told, and its files go before the new incarnation opens the same directories.
    if (existing) this.dropTopic(existing);
    const state: TopicState = { name: t.name, id: t.id, partitionCount: t.partitionCount, partitions: [] };
    try {
      for (const p of t.partitions) {
        const log = PartitionLog.open(partitionDir(this.config.dataDir, t.name, p), t.config);
        state.partitions[p] = new Partition(t.name, t.id, p, log, this.app);
      }
    } catch (err) {
      // Close what did open: worker threads share the process's file descriptors, so an owner that fails
      // to start and is restarted again and again would otherwise leak them on every attempt.
      for (const p of state.partitions) {
        try {
          p?.log.close();
        } catch {
          // already failing: the open error is the one to report
        }
      }
      throw err;
    }
    this.topics.set(t.name, state);
  }

  deleteTopic(name: string): void {
    const state = this.topics.get(name);
    this.deleted.add(name);
    if (state) this.dropTopic(state);
  }

  /** Ends a deleted topic here: its subscribers get TOPIC_DELETED, its logs are closed and removed. */
  private dropTopic(state: TopicState): void {
    this.topics.delete(state.name);
    for (const p of state.partitions) {
      if (!p) continue;
      const err = new TickbusError(ErrorCode.TOPIC_DELETED, `topic '${state.name}' was deleted`, { topic: state.name, partition: p.partition });
      for (const sub of [...p.subscriptions]) {
        this.sendError(sub.conn, err, 0);
        sub.conn.subs.delete(subKey(p.topicId, p.partition));
        sub.close();
      }
      // destroy() never throws for a failed final fsync (the files are going), so every partition is ended.
      p.log.destroy();
    }
  }

  stats(): PartitionStats[] {
    const out: PartitionStats[] = [];
    for (const t of this.topics.values()) {
      for (const p of t.partitions) {
        if (!p) continue;
        out.push({
          topic: t.name,
          partition: p.partition,
          logStartOffset: p.log.logStartOffset,
          highWatermark: p.log.nextOffset,
          sizeBytes: p.log.sizeBytes,
          segments: p.log.segmentCount,
          subscribers: p.subscriptions.size,
        });
      }
    }
    return out;
  }

  // ------------------------------------------------------------------ message path

  private onMessage(ws: WebSocket<ConnState>, message: ArrayBuffer, isBinary: boolean): void {
    const conn = ws.getUserData();
    if (!isBinary) {
      this.rejectConnection(conn, new TickbusError(ErrorCode.MALFORMED_FRAME, 'text messages are not part of the protocol: send binary FlatBuffers frames'), CLOSE_POLICY);
      return;
    }
    if (message.byteLength > this.config.maxPayloadLength) {
      this.rejectConnection(
        conn,
        new TickbusError(ErrorCode.FRAME_TOO_LARGE, `frame of ${message.byteLength} bytes exceeds maxPayloadLength ${this.config.maxPayloadLength}`),
        CLOSE_TOO_BIG,
      );
      return;
    }
    let frame: Frame;
    try {
      frame = decodeFrame(new Uint8Array(message));
    } catch (err) {
      this.rejectConnection(conn, asTickbusError(err, ErrorCode.MALFORMED_FRAME), CLOSE_POLICY);
      return;
    }
    if (!conn.hello) {
      this.onHello(conn, frame);
      return;
    }
    try {
      this.dispatch(conn, frame);
    } catch (err) {
      // A request that fails (bad topic, bad batch, bad offset) fails alone; the connection goes on.
      const e = asTickbusError(err);
      if (e.code === ErrorCode.INTERNAL) logLine('request failed', { owner: this.ownerId, conn: conn.id, frame: frame.type, error: e.message });
      this.sendError(conn, e, 'requestId' in frame ? frame.requestId : 0);
    }
  }

  private dispatch(conn: ConnState, frame: Frame): void {
    switch (frame.type) {
      case 'Produce':
        this.onProduce(conn, frame);
        return;
      case 'Subscribe':
        this.onSubscribe(conn, frame);
        return;
      case 'Unsubscribe':
        this.onUnsubscribe(conn, frame);
        return;
      case 'Credit': {
        const t = this.topics.get(frame.topic);
        const sub = t ? conn.subs.get(subKey(t.id, frame.partition)) : undefined;
        sub?.grant(frame.bytes);
        return;
      }
      case 'Fetch':
        this.onFetch(conn, frame);
        return;
      case 'Ping':
        conn.ws?.send(encodeFrameView({ type: 'Pong', nonce: frame.nonce }), true, false);
        return;
      case 'Hello':
        throw new TickbusError(ErrorCode.INVALID_REQUEST, 'Hello was already received on this connection');
      default:
        throw new TickbusError(
          ErrorCode.INVALID_REQUEST,
          `${frame.type} is not served by a partition owner: send it to the bootstrap endpoint`,
        );
    }
  }

  private onHello(conn: ConnState, frame: Frame): void {
    if (frame.type !== 'Hello') {
      this.rejectConnection(conn, new TickbusError(ErrorCode.HELLO_REQUIRED, `the first frame must be Hello, got ${frame.type}`), CLOSE_POLICY);
      return;
    }
    if (frame.protocolVersion !== PROTOCOL_VERSION) {
      this.rejectConnection(
        conn,
        new TickbusError(ErrorCode.UNSUPPORTED_PROTOCOL_VERSION, `protocol version ${frame.protocolVersion} is not supported; this broker speaks ${PROTOCOL_VERSION}`),
        CLOSE_POLICY,
      );
      return;
    }
    conn.hello = true;
    conn.ws?.send(encodeFrameView({ type: 'HelloOk', protocolVersion: PROTOCOL_VERSION, brokerId: this.config.brokerId, ownerId: this.ownerId }), true, false);
  }

  private partitionOf(topic: string, partition: number): Partition {
    const t = this.topics.get(topic);
    if (!t) {
      if (this.deleted.has(topic)) throw new TickbusError(ErrorCode.TOPIC_DELETED, `topic '${topic}' was deleted`, { topic });
      throw new TickbusError(ErrorCode.UNKNOWN_TOPIC, `topic '${topic}' does not exist on this owner: refresh metadata`, { topic, partition });
    }
    if (!Number.isInteger(partition) || partition < 0 || partition >= t.partitionCount) {
      throw new TickbusError(
        ErrorCode.UNKNOWN_PARTITION,
        `topic '${topic}' has ${t.partitionCount} partition${t.partitionCount === 1 ? '' : 's'}; partition ${partition} does not exist`,
        { topic, partition },
      );
    }
    const p = t.partitions[partition];
    if (!p) throw new TickbusError(ErrorCode.NOT_OWNER, `partition ${topic}/${partition} is served by another owner: refresh metadata`, { topic, partition });
    return p;
  }

  private onProduce(conn: ConnState, f: FrameOf<'Produce'>): void {
    const p = this.partitionOf(f.topic, f.partition);
    const c = this.counters;
    c.produceRequests++;
    // f.batch is a view into uWS's buffer: appendAndPublish stamps, writes and publishes it before we return.
    const res = p.appendAndPublish(f.batch, nowUs());
    if (res.duplicate) c.duplicateBatches++;
    else {
      c.recordsIn += res.recordCount;
      c.bytesIn += f.batch.length;
      c.deliverFrames++;
    }
    if (f.acks === 'none') return;
    const ack: FrameOf<'ProduceAck'> = {
      type: 'ProduceAck',
      requestId: f.requestId,
      topic: f.topic,
      partition: f.partition,
      baseOffset: res.baseOffset,
      recordCount: res.recordCount,
      highWatermark: p.log.nextOffset,
      duplicate: res.duplicate,
    };
    // fsync 'always' means no ack before the fsync, whatever acks the producer asked for.
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
        if (conn.open) this.sendError(conn, asTickbusError(err, ErrorCode.STORAGE_ERROR), f.requestId);
      },
    );
  }

  private onSubscribe(conn: ConnState, f: FrameOf<'Subscribe'>): void {
    if (f.starts.length === 0) throw new TickbusError(ErrorCode.INVALID_REQUEST, `Subscribe to '${f.topic}' names no partition`);
    for (const s of f.starts) {
      try {
        const p = this.partitionOf(f.topic, s.partition);
        const log = p.log;
        let start: number;
        switch (s.kind) {
          case 'earliest':
            start = log.logStartOffset;
            break;
          case 'latest':
            start = log.nextOffset;
            break;
          case 'timestamp':
            start = log.offsetForTimestamp(s.value);
            break;
          case 'offset':
            start = s.value;
            if (start < log.logStartOffset || start > log.nextOffset) {
              throw new TickbusError(
                ErrorCode.OFFSET_OUT_OF_RANGE,
                `offset ${start} is out of range for ${f.topic}/${s.partition}: the log holds ${log.logStartOffset} to ${log.nextOffset}`,
                { topic: f.topic, partition: s.partition },
              );
            }
            break;
        }
        const key = subKey(p.topicId, p.partition);
        conn.subs.get(key)?.close(); // a new Subscribe replaces the old one; frames before SubscribeOk were the old one's
        const credit = f.creditBytes > 0 ? f.creditBytes : Infinity;
        const sub = new Subscription(conn, p, start, credit, this.pump);
        conn.subs.set(key, sub);
        conn.ws?.send(
          encodeFrameView({
            type: 'SubscribeOk',
            requestId: f.requestId,
            topic: f.topic,
            partition: p.partition,
            startOffset: start,
            highWatermark: log.nextOffset,
            logStartOffset: log.logStartOffset,
          }),
          true,
          false,
        );
        sub.start();
      } catch (err) {
        this.sendError(conn, asTickbusError(err), f.requestId);
      }
    }
  }

  private onUnsubscribe(conn: ConnState, f: FrameOf<'Unsubscribe'>): void {
    const t = this.topics.get(f.topic);
    if (!t) return;
    for (const partition of f.partitions) {
      const key = subKey(t.id, partition);
      conn.subs.get(key)?.close();
      conn.subs.delete(key);
    }
  }

  private onFetch(conn: ConnState, f: FrameOf<'Fetch'>): void {
    const p = this.partitionOf(f.topic, f.partition);
    const max = Math.min(f.maxBytes > 0 ? f.maxBytes : this.config.catchUpChunkBytes, this.config.maxPayloadLength - 1024);
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
      batches = p.log.read(f.offset, max);
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
        highWatermark: p.log.nextOffset,
        logStartOffset: p.log.logStartOffset,
        batches,
      }),
      true,
      false,
    );
  }

  private onDrain(conn: ConnState): void {
    conn.lastDrain = Date.now();
    for (const sub of conn.subs.values()) if (sub.mode === 'catchup') this.pump.add(sub);
  }

  private onClose(conn: ConnState): void {
    conn.open = false;
    this.conns.delete(conn);
    this.counters.connections--;
    for (const sub of conn.subs.values()) sub.close();
    conn.subs.clear();
    conn.ws = null;
  }

  /**
   * Every SWEEP_MS: live subscribers whose socket buffer passed slowConsumerBytes go back to catch-up
   * reads (they stop costing the live path anything); a socket that stays blocked without draining
   * anything for slowConsumerTimeoutMs is not reading at all and is cut off with SLOW_CONSUMER.
   * A consumer that reads, however slowly, is never cut off: it falls behind in catch-up, where
   * its cost is bounded by the catch-up high-water mark, until retention passes it.
   */
  private readonly sweep = (): void => {
    const now = Date.now();
    if (++this.sweeps % MAINTAIN_EVERY_SWEEPS === 0) this.maintainLogs(now);
    const limit = this.config.slowConsumerBytes;
    const blockedAt = Math.floor(limit / 2);
    for (const conn of this.conns) {
      if (conn.subs.size === 0 || !conn.ws) continue;
      const buffered = conn.ws.getBufferedAmount();
      if (buffered > limit) {
        for (const sub of conn.subs.values()) {
          if (sub.mode === 'live') {
            sub.leaveLive();
            this.counters.slowConsumerMoves++;
          }
        }
      }
      if (buffered >= blockedAt) {
        if (conn.stalledSince === 0) conn.stalledSince = now;
        else if (now - Math.max(conn.stalledSince, conn.lastDrain) > this.config.slowConsumerTimeoutMs) {
          this.counters.slowConsumerDisconnects++;
          logLine('slow consumer disconnected', { owner: this.ownerId, conn: conn.id, buffered });
          this.rejectConnection(
            conn,
            new TickbusError(
              ErrorCode.SLOW_CONSUMER,
              `consumer did not read for ${this.config.slowConsumerTimeoutMs} ms with ${buffered} bytes waiting; reconnect and resume from your last offset`,
            ),
            CLOSE_POLICY,
          );
        }
      } else conn.stalledSince = 0;
    }
  };

  /** Age-based segment rolls and retention, off the live path (about once a second). */
  private maintainLogs(now: number): void {
    for (const t of this.topics.values()) {
      for (const p of t.partitions) {
        if (!p) continue;
        try {
          p.log.maintain(now);
        } catch (err) {
          logLine('log maintenance failed', { owner: this.ownerId, partition: `${t.name}/${p.partition}`, error: String(err) });
        }
      }
    }
  }

  private sendError(conn: ConnState, err: TickbusError, requestId: number): void {
    if (!conn.open || !conn.ws) return;
    conn.ws.send(encodeFrameView(errorFrame(err, requestId)), true, false);
  }

  /** Answers with a typed error and closes: continuing after a bad frame is not safe. */
  private rejectConnection(conn: ConnState, err: TickbusError, closeCode: number): void {
    this.counters.badFrames++;
    logLine('connection rejected', { owner: this.ownerId, conn: conn.id, code: err.codeName, reason: err.message });
    this.sendError(conn, err, 0);
    conn.ws?.end(closeCode, err.codeName);
  }

  /**
   * Stops serving: closes the listen socket and every connection (with `err`), then closes the logs
   * (fsync). A worker that ends with uWS handles open aborts the whole process, so this runs before
   * any exit, including after a fault.
   */
  async close(err: TickbusError, closeCode = CLOSE_GOING_AWAY, graceMs = 500): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.listenSocket) {
      uws.us_listen_socket_close(this.listenSocket);
      this.listenSocket = null;
    }
    for (const conn of this.conns) {
      this.sendError(conn, err, 0);
      conn.ws?.end(closeCode, err.codeName);
    }
    const deadline = Date.now() + graceMs;
    while (this.conns.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    // Whatever did not finish its close handshake, and sockets no handler tracks (HTTP, upgrades in
    // progress), closes now.
    closeApp(this.app);
    for (const t of this.topics.values()) {
      for (const p of t.partitions) {
        try {
          p?.log.close();
        } catch (e) {
          logLine('log close failed', { owner: this.ownerId, partition: `${t.name}/${p?.partition ?? -1}`, error: String(e) });
        }
      }
    }
    this.topics.clear();
  }

  static readonly RESTART_CLOSE = CLOSE_RESTART;
}
