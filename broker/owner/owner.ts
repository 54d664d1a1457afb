// A partition owner: the single writer of its partitions, with its own uWebSockets.js App on its
// own port. This file composes the parts and runs their lifecycle (listen, sweep, close):
//   edge/session.ts        the WebSocket edge: frame checks, Hello, errors, close codes
//   partition-registry.ts  topics → partitions; why a partition cannot be served here
//   produce.ts, subscribe.ts, fetch.ts   the requests
//   subscription.ts        catch-up reads and the live stream per subscriber
//   slow-consumers.ts      the sweep that moves or cuts off consumers that do not keep up
// The live path is one synchronous run per message, on this thread only:
//   socket message → Edge (decodeFrame) → dispatch → onProduce → Partition.appendAndPublish → ack
// No thread hop, no await before the frame is consumed (uWS detaches the buffer afterwards).
import type { HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { ErrorCode, TickbusError } from '../../schemas/errors.js';
import { type Frame, PROTOCOL_VERSION } from '../../schemas/frames.js';
import type { BrokerConfig, TlsConfig } from '../config.js';
import { monotonicMs, wallClockMs } from '../clock.js';
import { CloseCode, Edge } from '../edge/session.js';
import { logLine } from '../logger.js';
import { Acl, type AclRule } from '../security/acl.js';
import { Authenticator } from '../security/authenticator.js';
import { PrincipalQuotas } from '../limits/quotas.js';
import { EndpointApp } from '../tls/endpoint-app.js';
import { BusyPoll } from './busy-poll.js';
import type { OwnerContext } from './context.js';
import { onFetch } from './fetch.js';
import { Counter, newCounterBuffer, OwnerCounters } from './counters.js';
import { FollowerRole } from './follower-role.js';
import { type LeaderHooks, LeaderRole } from './leader-role.js';
import type { OwnedTopic, PartitionStats, ReplicaRole, SubscriptionLag } from './messages.js';
import { offlineRole, type Partition, type ReplicaRoleState } from './partition.js';
import { PartitionRegistry } from './partition-registry.js';
import { requireLeader } from './leadership.js';
import { onProduce } from './produce.js';
import { sweepSlowConsumers } from './slow-consumers.js';
import { onCredit, onSubscribe, onUnsubscribe } from './subscribe.js';
import { CatchUpPump, type ConnState } from './subscription.js';

const SWEEP_MS = 50;

/** Log maintenance (age roll, retention) every 20 sweeps ≈ 1 s. */
const MAINTAIN_EVERY_SWEEPS = 20;

export class Owner {
  readonly counters: OwnerCounters;
  /** The owner's uWS app(s): one, or more after a TLS reload (endpoint-app.ts). */
  private readonly endpoint: EndpointApp;
  private readonly ctx: OwnerContext;
  private readonly registry: PartitionRegistry;
  /** Spins the loop after each request when busyPollUs > 0 (busy-poll.ts); null: sleep at once. */
  private readonly busyPoll: BusyPoll | null;
  private readonly edge: Edge<ConnState>;
  private readonly quotas: PrincipalQuotas;
  private sweepTimer: NodeJS.Timeout | null = null;
  private sweeps = 0;
  private closing = false;
  /** Verifies Hello tokens on this owner's port; null when auth is off. */
  private readonly authenticator: Authenticator | null;
  /** The ACL in force; null when auth is off (everything allowed). */
  private acl: Acl | null = null;
  port = 0;

  constructor(
    readonly ownerId: number,
    private readonly config: BrokerConfig,
    /** The owner slot's shared counters (kept across restarts by the supervisor); a private one in tests. */
    counterBuffer: SharedArrayBuffer = newCounterBuffer(),
  ) {
    this.counters = new OwnerCounters(counterBuffer);
    this.authenticator = config.auth ? new Authenticator(config.auth) : null;
    this.endpoint = new EndpointApp(config.tls, (app) => {
      this.edge.attach(app);
      this.installHttp(app);
    });
    const app = this.endpoint.current;
    const quotas = new PrincipalQuotas(config.limits, config.owners);
    this.quotas = quotas;
    const pump = new CatchUpPump(
      {
        chunkBytes: config.catchUpChunkBytes,
        highWaterBytes: Math.floor(config.slowConsumerBytes / 2),
        maxSubscriptionsPerConnection: config.limits.maxSubscriptionsPerConnection,
      },
      this.counters,
      undefined,
      quotas,
    );
    this.busyPoll = config.busyPollUs > 0 ? new BusyPoll(config.busyPollUs / 1000) : null;
    this.registry = new PartitionRegistry(config.dataDir, config.cluster !== null, { verifyOnOpen: config.verifyOnOpen, fsyncThread: config.fsyncThread }, () =>
      this.counters.add(Counter.logCorruptionTruncations),
    );
    this.edge = new Edge<ConnState>(app, {
      limits: config,
      connectionLimits: config.limits,
      authenticator: this.authenticator,
      logFields: { owner: ownerId },
      helloOk: { type: 'HelloOk', protocolVersion: PROTOCOL_VERSION, brokerId: config.brokerId, ownerId },
      newSession: (base) => ({ ...base, subs: new Map(), stalledSince: 0, lastDrain: 0 }),
      dispatch: (conn, frame) => this.dispatch(conn, frame),
      onBadFrame: () => this.counters.add(Counter.badFrames),
      onOpen: () => this.counters.add(Counter.connections),
      onDrain: (conn) => {
        conn.lastDrain = monotonicMs();
        for (const sub of conn.subs.values()) if (sub.mode === 'catchup') pump.add(sub);
      },
      onClose: (conn) => {
        this.counters.add(Counter.connections, -1);
        for (const sub of conn.subs.values()) sub.close();
        conn.subs.clear();
      },
    });
    this.ctx = { ownerId, config, registry: this.registry, edge: this.edge, counters: this.counters, pump, quotas };
    this.installHttp(app);
  }

  private installHttp(app: TemplatedApp): void {
    app.get('/healthz', (res: HttpResponse) => {
      res.writeHeader('content-type', 'application/json').end(JSON.stringify({ status: 'ok', owner: this.ownerId }));
    });
    app.any('/*', (res: HttpResponse) => {
      res.writeStatus('404 Not Found').end('tickbus owner: WebSocket endpoint only\n');
    });
  }

  /** SIGHUP: new connections get the certificate now in the files; open ones keep theirs (endpoint-app.ts). */
  async reloadTls(tls: TlsConfig): Promise<void> {
    if (this.closing) return;
    await this.endpoint.reload(tls);
  }

  /** The requests an owner serves (the edge has checked the frame and the Hello, and answers Ping). */
  private dispatch(conn: ConnState, frame: Frame): void {
    this.busyPoll?.touch();
    // Authorisation first: a refused request learns nothing about the partition (not even whether it exists).
    if (this.acl) this.authorize(this.acl, conn.principal, frame);
    switch (frame.type) {
      case 'Produce':
        return onProduce(this.ctx, conn, frame);
      case 'Subscribe':
        return onSubscribe(this.ctx, conn, frame);
      case 'Unsubscribe':
        return onUnsubscribe(this.ctx, conn, frame);
      case 'Credit':
        return onCredit(this.ctx, conn, frame);
      case 'Fetch':
        return onFetch(this.ctx, conn, frame);
      case 'ReplicaFetch':
        return this.leaderOf(frame.topic, frame.partition, frame.leaderEpoch).onReplicaFetch(conn, frame);
      case 'ReplicaAck': {
        const role = this.registry.partitionOf(frame.topic, frame.partition).replica;
        if (role instanceof LeaderRole) role.onReplicaAck(conn, frame);
        return;
      }
      default:
        throw new TickbusError(ErrorCode.INVALID_REQUEST, `${frame.type} is not served by a partition owner: send it to the bootstrap endpoint`);
    }
  }

  /** Throws NOT_AUTHORIZED when the ACL does not allow `frame` (one Map lookup: decisions are memoised). */
  private authorize(acl: Acl, principal: string, frame: Frame): void {
    switch (frame.type) {
      case 'Produce':
        return acl.require(principal, 'produce', frame.topic);
      case 'Subscribe':
      case 'Fetch':
        return acl.require(principal, 'consume', frame.topic);
      case 'ReplicaFetch':
      case 'ReplicaAck':
        // Only another broker (the broker token) or a principal granted replicate may read the raw log.
        return acl.require(principal, 'replicate', frame.topic);
      default:
        // Unsubscribe and Credit act only on this connection's own subscriptions.
        return;
    }
  }

  /** The ACL rules changed (or the owner starts): they apply to the next request of every connection. */
  setAcl(rules: AclRule[]): void {
    if (!this.config.auth) return;
    const acl = new Acl(rules);
    this.acl = acl;
    // A revoked right ends the subscriptions that used it: reading stops now, not at the next reconnect.
    for (const conn of this.edge.sessions) {
      for (const sub of [...conn.subs.values()]) {
        const topic = sub.partition.topic;
        if (sub.replicaId >= 0 || acl.allows(conn.principal, 'consume', topic)) continue;
        sub.fail(new TickbusError(ErrorCode.NOT_AUTHORIZED, `principal '${conn.principal}' may no longer consume topic '${topic}'`, { topic, partition: sub.partition.partition }));
      }
    }
  }

  private leaderOf(topic: string, partition: number, epoch: number): LeaderRole {
    const p = this.registry.partitionOf(topic, partition);
    const role = requireLeader(p, epoch);
    if (role === null) throw new TickbusError(ErrorCode.INVALID_REQUEST, `${topic}/${partition} is not replicated (one-node mode)`, { topic, partition });
    return role;
  }

  /**
   * Cluster mode: carries out what the control plane says each replica is. A change of role or epoch
   * ends the old role first: its consumers and followers are told NOT_LEADER (they refresh metadata
   * and go to the new leader), its waiting acks=all fail with NOT_LEADER, a fetcher stops.
   * The same leader and epoch with another ISR is only an ISR update.
   */
  applyRoles(roles: ReplicaRole[], hooks: LeaderHooks): void {
    for (const r of roles) {
      let p: Partition;
      try {
        p = this.registry.partitionOf(r.topic, r.partition);
      } catch (err) {
        logLine('role for a partition this owner does not have open', { owner: this.ownerId, partition: `${r.topic}/${r.partition}`, error: String(err) });
        continue;
      }
      const cur = p.replica;
      if (cur?.leaderEpoch === r.leaderEpoch && cur.kind === r.role) {
        if (cur instanceof LeaderRole) cur.onIsrCommitted(r.isr);
        if (!(cur instanceof FollowerRole) || cur.leaderEndpoint === r.leaderEndpoint) continue;
      }
      cur?.stop();
      if (cur) {
        const err = new TickbusError(ErrorCode.NOT_LEADER, `leadership of ${r.topic}/${r.partition} moved (epoch ${r.leaderEpoch}); refresh metadata`, {
          topic: r.topic,
          partition: r.partition,
        });
        for (const sub of [...p.subscriptions]) sub.fail(err);
      }
      try {
        p.replica = this.newRole(p, r, hooks);
      } catch (err) {
        logLine('cannot take replica role', { owner: this.ownerId, partition: `${r.topic}/${r.partition}`, role: r.role, error: String(err) });
        p.replica = offlineRole(r.leaderEpoch);
      }
      logLine('replica role', { owner: this.ownerId, partition: `${r.topic}/${r.partition}`, role: r.role, epoch: r.leaderEpoch, isr: r.isr.join(',') });
    }
  }

  private newRole(p: Partition, r: ReplicaRole, hooks: LeaderHooks): ReplicaRoleState {
    switch (r.role) {
      case 'leader':
        return new LeaderRole(this.ctx, p, r, hooks);
      case 'follower':
        return new FollowerRole(this.ctx, p, r);
      case 'offline':
        p.leaderEpoch = r.leaderEpoch;
        return offlineRole(r.leaderEpoch);
    }
  }

  /** Starts listening and sweeping (slow consumers, log maintenance); resolves with the port. */
  async listen(host: string, port: number): Promise<number> {
    const ls = await this.endpoint.listen(host, port);
    if (!ls) throw new TickbusError(ErrorCode.INTERNAL, `owner ${this.ownerId} could not listen on ${host}:${port} (port in use?)`);
    this.port = this.endpoint.port;
    this.sweepTimer = setInterval(this.sweep, SWEEP_MS);
    this.sweepTimer.unref();
    return this.port;
  }

  openTopic(t: OwnedTopic): void {
    if (this.closing) throw new TickbusError(ErrorCode.OWNER_UNAVAILABLE, `partition owner ${this.ownerId} is stopping`);
    this.registry.open(t);
  }

  deleteTopic(name: string): void {
    this.registry.delete(name);
  }

  stats(): PartitionStats[] {
    const out: PartitionStats[] = [];
    for (const p of this.registry.all()) {
      out.push({
        topic: p.topic,
        partition: p.partition,
        logStartOffset: p.log.logStartOffset,
        highWatermark: p.highWatermark,
        logEndOffset: p.logEndOffset,
        sizeBytes: p.log.sizeBytes,
        segments: p.log.segmentCount,
        subscribers: p.subscriptions.size,
        role: p.replica === null ? 'single' : p.replica.kind,
        leaderEpoch: p.leaderEpoch,
        isrSize: p.replica instanceof LeaderRole ? p.replica.isrSize : 0,
        maxFollowerLag: p.replica instanceof LeaderRole ? p.replica.maxFollowerLag : -1,
      });
    }
    return out;
  }

  /** The `max` subscriptions furthest behind the committed head (bounded: they become metric labels). */
  lags(max: number): SubscriptionLag[] {
    const out: SubscriptionLag[] = [];
    if (max <= 0) return out;
    for (const p of this.registry.all()) {
      for (const sub of p.subscriptions) {
        out.push({ topic: p.topic, partition: p.partition, owner: this.ownerId, conn: sub.conn.id, clientId: sub.conn.clientId, lag: sub.lag });
      }
    }
    out.sort((a, b) => b.lag - a.lag);
    if (out.length > max) out.length = max;
    return out;
  }

  private readonly sweep = (): void => {
    // Retention and segment age compare with stored append times: wall clock. Stalls are measured: monotonic.
    if (++this.sweeps % MAINTAIN_EVERY_SWEEPS === 0) this.maintainLogs(wallClockMs());
    const now = monotonicMs();
    sweepSlowConsumers(this.ctx, now);
    for (const p of this.registry.all()) {
      if (p.replica instanceof LeaderRole) p.replica.tick(now);
      else if (p.replica instanceof FollowerRole) p.replica.tick(now); // pings an idle leader; ends stale replica reads
    }
  };

  /** Age-based segment rolls and retention, off the live path (about once a second). */
  private maintainLogs(nowWallMs: number): void {
    this.quotas.sweep(monotonicMs());
    for (const p of this.registry.all()) {
      try {
        p.log.maintain(nowWallMs);
      } catch (err) {
        logLine('log maintenance failed', { owner: this.ownerId, partition: `${p.topic}/${p.partition}`, error: String(err) });
      }
    }
  }

  /**
   * Stops serving: closes the listen socket and every connection (with `err`), then closes the logs
   * (fsync). A worker that ends with uWS handles open aborts the whole process, so this runs before
   * any exit, including after a fault.
   */
  async close(err: TickbusError, closeCode: CloseCode = CloseCode.GOING_AWAY, graceMs = 500): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.endpoint.stopListening();
    await this.edge.closeAll(err, closeCode, graceMs);
    // Whatever did not finish its close handshake, and sockets no handler tracks (HTTP, upgrades in
    // progress), closes now.
    this.endpoint.closeAll();
    this.authenticator?.close();
    this.registry.closeAll((p, e) => logLine('log close failed', { owner: this.ownerId, partition: `${p.topic}/${p.partition}`, error: String(e) }));
  }
}
