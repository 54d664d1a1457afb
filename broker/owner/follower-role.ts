// A partition this broker follows (cluster mode): one WebSocket from this owner thread to the leader's
// owner endpoint, speaking the client protocol. Hello, then ReplicaFetch from our log end with the epoch
// of our last batch (KIP-279): the leader answers where our histories diverge (we truncate, KIP-101,
// never below our high watermark unless unclean election is on, and ask again) or streams the very
// Deliver frames it builds once for its append stream. We append them as they are (same bytes on every
// replica), fsync per the topic's policy, and answer ReplicaAck with our log end: that is what moves
// the leader's high watermark. Its Deliver frames carry the high watermark; we commit up to it.
//
// No record crosses a thread: the socket lives on the owner thread that writes the log.
//
// Zone-aware reads (KIP-392; docs/replication.md, "Reading from the nearest replica"): a follower also
// serves consumers that ask for it (Subscribe.fromReplica), committed records only, from its own
// committed stream. Its high watermark trails the leader's; the bound on how far is enforced here:
// `caughtUpMs` is the last time a frame from the leader found us holding everything the leader had
// committed when it sent the frame. An idle leader sends nothing, so we Ping it (its Pong comes after
// every Deliver it published before, same socket); past followerReadMaxLagMs without being caught up,
// the replica subscriptions end with a retryable NOT_LEADER ("stale replica") and the SDK moves them.
import WebSocket from 'ws';
import { asTickbusError, ErrorCode, TickbusError } from '../../schemas/errors.js';
import { decodeFrame, encodeFrame, type Frame, PROTOCOL_VERSION } from '../../schemas/frames.js';
import { batchBaseOffset, batchLastOffset, batchLength } from '../../schemas/record-batch.js';
import { monotonicMs } from '../clock.js';
import { logLine } from '../logger.js';
import { brokerClientTls } from '../tls/client-tls.js';
import { followerTruncation } from '../replication/divergence.js';
import type { OwnerContext } from './context.js';
import { Counter } from './counters.js';
import { assignEpoch, epochsOf, truncateEpochs } from './epochs.js';
import type { ReplicaRole } from './messages.js';
import type { Partition, ReplicaRoleState } from './partition.js';
import type { Subscription } from './subscription.js';

const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 1_000;
const CONNECT_TIMEOUT_MS = 3_000;

/**
 * Test-only (docs/faults.md, "Routing the cluster through proxies"): TICKBUS_TEST_PEER_ROUTES is a JSON map
 * from a leader's owner endpoint to the fault harness's proxy in front of it for this broker, so the harness
 * can cut one broker pair while clients still reach every broker. Read once; null when unset, so production
 * pays one null check per connection attempt.
 */
const PEER_ROUTES = parsePeerRoutes(process.env.TICKBUS_TEST_PEER_ROUTES);

function parsePeerRoutes(json: string | undefined): Map<string, string> | null {
  if (json === undefined || json === '') return null;
  const v: unknown = JSON.parse(json);
  if (typeof v !== 'object' || v === null || Object.values(v).some((t) => typeof t !== 'string')) {
    throw new TypeError(`TICKBUS_TEST_PEER_ROUTES must be a JSON object of endpoint → endpoint strings, got ${json}`);
  }
  return new Map(Object.entries(v as Record<string, string>).map(([from, to]) => [from.replace(/\/$/, ''), to]));
}

export class FollowerRole implements ReplicaRoleState {
  readonly kind = 'follower' as const;
  readonly leaderEpoch: number;
  readonly leaderEndpoint: string;
  /** This broker's process, named in every fetch: the leader takes us into the ISR under it. */
  private readonly process: number;
  private ws: WebSocket | null = null;
  private stopped = false;
  private retryMs = RETRY_MIN_MS;
  private retryTimer: NodeJS.Timeout | null = null;
  private connectTimer: NodeJS.Timeout | null = null;
  private nextRequestId = 1;
  /** Acks wait for the fsync ('always'); one in flight at a time, the newest log end wins. */
  private ackInFlight = false;
  private ackAgain = false;
  /** Last time a frame came from the leader (monotonic ms): follower-read staleness, metrics. */
  lastHeardMs = 0;
  /** Last time (monotonic ms) a frame from the leader found us holding all it had committed; 0 = never in this role. */
  caughtUpMs = 0;
  /** The leader's high watermark as its last frame said; -1 before the first. */
  private leaderHw = -1;
  /** HelloOk seen on the current socket: Pings may go. */
  private helloDone = false;
  /** The leader served our fetch on the current socket (no divergence left): our log end is its to count. */
  private served = false;
  /** When we last sent a ReplicaAck (monotonic ms). */
  private lastAckMs = 0;
  private nextPing = 1;
  /** Replica reads waiting for our high watermark to reach their start: when each was first seen waiting. */
  private readonly waitingSince = new Map<Subscription, number>();

  constructor(
    private readonly ctx: OwnerContext,
    private readonly p: Partition,
    role: ReplicaRole,
  ) {
    this.leaderEpoch = role.leaderEpoch;
    this.leaderEndpoint = role.leaderEndpoint;
    this.process = role.process;
    p.leaderEpoch = role.leaderEpoch;
    epochsOf(p);
    this.connect();
  }

  private get nodeId(): number {
    return this.ctx.config.cluster!.nodeId;
  }

  private connect(): void {
    if (this.stopped) return;
    if (this.leaderEndpoint === '') return this.retry('no leader endpoint yet');
    const url = PEER_ROUTES?.get(this.leaderEndpoint.replace(/\/$/, '')) ?? this.leaderEndpoint;
    const ws = new WebSocket(url, {
      perMessageDeflate: false,
      maxPayload: this.ctx.config.maxPayloadLength * 2,
      // wss:// leaders (TLS on): trust the configured CA.
      ...brokerClientTls(this.ctx.config.tls),
    });
    ws.binaryType = 'nodebuffer';
    this.ws = ws;
    this.helloDone = false;
    this.served = false;
    this.connectTimer = setTimeout(() => ws.terminate(), CONNECT_TIMEOUT_MS);
    ws.on('open', () => {
      if (this.connectTimer) clearTimeout(this.connectTimer);
      // With auth on, the leader admits this fetcher as the built-in broker principal (replicate only).
      const token = this.ctx.config.auth?.brokerToken;
      this.send({ type: 'Hello', protocolVersion: PROTOCOL_VERSION, clientId: `replica-${this.nodeId}`, ...(token ? { token } : {}) });
    });
    ws.on('message', (data: Buffer) => {
      if (this.ws !== ws || this.stopped) return;
      let frame: Frame;
      try {
        frame = decodeFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      } catch (err) {
        logLine('replica fetcher: bad frame from leader', { partition: this.name, error: String(err) });
        ws.terminate();
        return;
      }
      try {
        this.onFrame(frame);
      } catch (err) {
        const e = asTickbusError(err);
        logLine('replica fetcher: cannot apply what the leader sent; fetching again', { partition: this.name, code: e.codeName, error: e.message });
        ws.terminate();
      }
    });
    ws.on('error', () => undefined); // 'close' follows and retries
    ws.on('close', () => {
      if (this.connectTimer) clearTimeout(this.connectTimer);
      if (this.ws === ws) {
        this.ws = null;
        this.retry('connection to the leader closed');
      }
    });
  }

  private get name(): string {
    return `${this.p.topic}/${this.p.partition}`;
  }

  private retry(why: string): void {
    if (this.stopped || this.retryTimer) return;
    const delay = this.retryMs;
    this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
    if (delay >= RETRY_MAX_MS) logLine('replica fetcher retrying', { partition: this.name, leader: this.leaderEndpoint, why });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
    this.retryTimer.unref();
  }

  private send(f: Frame): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(encodeFrame(f));
  }

  private fetch(): void {
    this.send({
      type: 'ReplicaFetch',
      requestId: this.nextRequestId++,
      topic: this.p.topic,
      partition: this.p.partition,
      replicaId: this.nodeId,
      leaderEpoch: this.leaderEpoch,
      fetchOffset: this.p.logEndOffset,
      lastFetchedEpoch: epochsOf(this.p).latestEpoch(),
      processRevision: this.process,
    });
  }

  private onFrame(f: Frame): void {
    const now = monotonicMs();
    this.lastHeardMs = now;
    switch (f.type) {
      case 'HelloOk':
        this.helloDone = true;
        return this.fetch();
      case 'ReplicaFetchOk':
        if (f.divergingEpoch === -1 && f.divergingEndOffset === -1) {
          this.retryMs = RETRY_MIN_MS;
          this.served = true;
          this.commit(f.highWatermark);
          this.heard(f.highWatermark, now);
          return;
        }
        return this.truncate(f.divergingEpoch, f.divergingEndOffset);
      case 'Deliver':
        this.onDeliver(f.batches, f.highWatermark);
        this.heard(f.highWatermark, now);
        return;
      case 'Pong':
        // Everything the leader published before answering came first: what we know of its HW is current.
        this.heard(this.leaderHw, now);
        return;
      case 'ErrorReply':
        // FENCED/UNKNOWN_LEADER_EPOCH, NOT_LEADER: our role is stale or the leader's is; the main thread
        // sends the new role soon. Retry with backoff meanwhile.
        logLine('replica fetcher: leader refused', { partition: this.name, code: f.code, error: f.message });
        this.ws?.close();
        return;
      default:
        return;
    }
  }

  private truncate(divergingEpoch: number, divergingEndOffset: number): void {
    const p = this.p;
    const d = followerTruncation(
      { divergingEpoch, divergingEndOffset },
      { history: epochsOf(p), logEndOffset: p.logEndOffset, highWatermark: p.highWatermark, uncleanLeaderElection: this.ctx.config.cluster!.uncleanLeaderElection },
    );
    if (d.kind === 'refuse') {
      // Committed records would go: only an unclean election can make that necessary. Stay out of the
      // ISR (we do not fetch) and say so loudly; an operator decides.
      logLine('replica fetcher: REFUSING to truncate below the high watermark (unclean leader election is off)', {
        partition: this.name,
        truncateTo: d.truncateTo,
        highWatermark: d.highWatermark,
      });
      this.ws?.close();
      return;
    }
    const end = p.log.truncateTo(d.truncateTo);
    truncateEpochs(p, end);
    this.ctx.counters.add(Counter.replicaTruncations);
    logLine('replica truncated to where it agrees with the leader (KIP-101)', { partition: this.name, logEnd: end, divergingEpoch, divergingEndOffset });
    this.fetch();
  }

  private onDeliver(batches: Uint8Array, leaderHw: number): void {
    const p = this.p;
    let at = 0;
    let appended = 0;
    while (at < batches.length) {
      const len = batchLength(batches, at);
      const base = batchBaseOffset(batches, at);
      // A catch-up chunk starts with the batch holding the fetch offset: batches we already have are
      // skipped (the leader validated that our histories agree up to our log end).
      if (batchLastOffset(batches, at) >= p.logEndOffset) {
        if (base !== p.logEndOffset) throw new TickbusError(ErrorCode.CORRUPT_BATCH, `leader sent offset ${base}, expected ${p.logEndOffset}`);
        const epoch = p.log.appendReplicated(batches, at, len);
        if (epoch > epochsOf(p).latestEpoch()) assignEpoch(p, epoch, base);
        appended += len;
      }
      at += len;
    }
    if (appended > 0) this.ctx.counters.add(Counter.replicatedBytes, appended);
    this.commit(leaderHw);
    if (appended > 0) this.ack();
  }

  /** The leader had committed `leaderHw` when it sent what just arrived: caught up if we hold all of it. */
  private heard(leaderHw: number, now: number): void {
    if (leaderHw > this.leaderHw) this.leaderHw = leaderHw;
    if (this.leaderHw >= 0 && this.leaderHw <= this.p.logEndOffset) this.caughtUpMs = now;
  }

  /** Whether this follower may serve replica reads now: caught up with the leader within followerReadMaxLagMs. */
  servesReads(now: number): boolean {
    return this.caughtUpMs > 0 && now - this.caughtUpMs <= this.ctx.config.cluster!.followerReadMaxLagMs;
  }

  /**
   * Every owner sweep: Ping an idle leader (a quarter of the bound, so a healthy follower never goes
   * stale between frames), and end the replica reads this follower can no longer vouch for.
   */
  tick(now: number): void {
    const bound = this.ctx.config.cluster!.followerReadMaxLagMs;
    if (this.helloDone && now - this.lastHeardMs >= bound / 4) this.send({ type: 'Ping', nonce: this.nextPing++ });
    // Our log end again, every half replicaLagTimeMs, even with nothing new: the leader re-adds a follower
    // to the ISR only when it hears from it, and one proposal at a time, so a fetch that came while it was
    // removing us was not considered. Removed below minInsync, nothing is appended, and without this we
    // would never be heard again (Kafka followers fetch continuously; test/broker/owner/follower-rejoin.test.ts).
    if (this.served && now - this.lastAckMs >= this.ctx.config.cluster!.replicaLagTimeMs / 2) this.ack();
    const p = this.p;
    if (p.subscriptions.size === 0) return;
    if (!this.servesReads(now)) {
      const behind = this.caughtUpMs === 0 ? 'has not caught up with the leader yet' : `has not been caught up with the leader for ${Math.round(now - this.caughtUpMs)} ms`;
      const err = new TickbusError(ErrorCode.NOT_LEADER, `stale replica: this follower of ${this.name} ${behind} (bound ${bound} ms); read from the leader or another replica`, {
        topic: p.topic,
        partition: p.partition,
      });
      this.waitingSince.clear();
      for (const sub of [...p.subscriptions]) sub.fail(err);
      return;
    }
    // Read-your-writes: a read that starts past our high watermark waits for it, at most the same bound.
    for (const sub of this.waitingSince.keys()) if (sub.closed || !p.awaitingCommit.has(sub)) this.waitingSince.delete(sub);
    for (const sub of p.awaitingCommit) {
      const since = this.waitingSince.get(sub);
      if (since === undefined) this.waitingSince.set(sub, now);
      else if (now - since > bound) {
        this.waitingSince.delete(sub);
        sub.fail(
          new TickbusError(ErrorCode.NOT_LEADER, `stale replica: ${this.name} has not committed up to offset ${sub.nextOffset} within ${bound} ms here (high watermark ${p.highWatermark}); read from the leader`, {
            topic: p.topic,
            partition: p.partition,
          }),
        );
      }
    }
  }

  /** The leader's high watermark, capped at what we have (we cannot have committed what we lack). */
  private commit(leaderHw: number): void {
    this.p.commitUpTo(Math.min(leaderHw, this.p.logEndOffset));
  }

  private ack(): void {
    if (this.ackInFlight) {
      this.ackAgain = true;
      return;
    }
    const send = (logEndOffset: number): void => {
      this.lastAckMs = monotonicMs();
      this.send({ type: 'ReplicaAck', topic: this.p.topic, partition: this.p.partition, replicaId: this.nodeId, leaderEpoch: this.leaderEpoch, logEndOffset });
    };
    if (this.p.log.config.fsync !== 'always') return send(this.p.logEndOffset);
    // fsync 'always': our log end counts towards acks=all only once it is on disk. The ack names the log end
    // the flush was asked for, not the one when it returns: batches appended meanwhile are not on disk yet
    // (acking them lost acknowledged records when every broker lost power; test/faults found it).
    const flushed = this.p.logEndOffset;
    this.ackInFlight = true;
    this.p.log.flush().then(
      () => {
        this.ackInFlight = false;
        if (this.stopped) return;
        send(flushed);
        if (this.ackAgain) {
          this.ackAgain = false;
          this.ack();
        }
      },
      (err: unknown) => {
        this.ackInFlight = false;
        logLine('replica fsync failed; not acknowledging', { partition: this.name, error: String(err) });
      },
    );
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.connectTimer) clearTimeout(this.connectTimer);
    const ws = this.ws;
    this.ws = null;
    ws?.terminate();
  }
}
