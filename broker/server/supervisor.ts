// Starts the partition-owner threads, carries control messages to them, and restarts an owner that
// fails. Owners are long-lived stateful threads with their own listen sockets, so they are plain
// worker_threads rather than piscina tasks (see docs/design-owners.md for the measurements).
import { Worker } from 'node:worker_threads';
import { ErrorCode, TickbusError } from '../../schemas/errors.js';
import type { BrokerConfig } from '../config.js';
import { logLine } from '../logger.js';
import { newCounterBuffer } from '../owner/counters.js';
import type { FromOwner, OwnedTopic, OwnerInit, PartitionStats, SubscriptionLag, ToOwner } from '../owner/messages.js';
import type { AclRule } from '../security/acl.js';

type DistributiveOmit<T, K extends keyof never> = T extends unknown ? Omit<T, K> : never;
type Request = DistributiveOmit<ToOwner, 'reqId'>;
type OkReply = Extract<FromOwner, { type: 'reply'; ok: true }>;

interface Pending {
  resolve: (r: OkReply) => void;
  reject: (e: TickbusError) => void;
  timer: NodeJS.Timeout;
}

/** What the rest of the broker hears from the owners besides replies (cluster mode uses both). */
export interface SupervisorEvents {
  /** An owner (re)started and serves again: whatever it was told before its restart is gone. */
  ownerReady?(ownerId: number): void;
  /** A leader owner proposes an ISR change. */
  proposeIsr?(msg: Extract<FromOwner, { type: 'proposeIsr' }>): void;
  /** The ACL rules an owner starts with (auth on), so a restarted owner never serves without them. */
  aclRules?(): AclRule[];
}

export interface OwnerStatus {
  id: number;
  up: boolean;
  port: number;
  restarts: number;
}

const REQUEST_TIMEOUT_MS = 10_000;
const RESTART_MIN_MS = 50;
const RESTART_MAX_MS = 5_000;

/**
 * Where a held restart of an owner stands (test hook, config.testHooks): 'armed' until the owner exits,
 * 'down' while its respawn waits, 'starting' from the respawn (the catalogue is read) until it is
 * marked up. `resume` is what a release does next; null while nothing waits (armed, or starting
 * before the new worker said ready).
 */
export interface HeldRestart {
  at: 'armed' | 'down' | 'starting';
  resume: (() => void) | null;
}

class OwnerHandle {
  worker: Worker | null = null;
  up = false;
  /** The worker was spawned and has not said ready: it has read the catalogue as of its spawn. */
  starting = false;
  port = 0;
  restarts = 0;
  backoffMs = RESTART_MIN_MS;
  /** This owner slot's counters, shared with every incarnation of it so they never go back to zero. */
  readonly counters = newCounterBuffer();
  private nextReq = 1;
  private readonly pending = new Map<number, Pending>();
  onReady: ((port: number) => void) | null = null;
  onStartFailed: ((e: TickbusError) => void) | null = null;
  /** Test hook: this owner's next restart stops before its respawn and before it is marked up. */
  held: HeldRestart | null = null;

  constructor(readonly id: number) {}

  request(msg: Request, timeoutMs = REQUEST_TIMEOUT_MS): Promise<OkReply> {
    const w = this.worker;
    // A starting owner opened the catalogue as it was at its spawn; a topic created or deleted since must
    // reach it, so those wait in the worker's queue (it reads them after opening its topics).
    const queued = this.starting && (msg.type === 'openTopic' || msg.type === 'deleteTopic');
    if (!w || (!this.up && !queued)) {
      return Promise.reject(new TickbusError(ErrorCode.OWNER_UNAVAILABLE, `partition owner ${this.id} is restarting; retry shortly`));
    }
    const reqId = this.nextReq++;
    return new Promise<OkReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(reqId);
        reject(new TickbusError(ErrorCode.TIMEOUT, `partition owner ${this.id} did not answer ${msg.type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(reqId, { resolve, reject, timer });
      w.postMessage({ ...msg, reqId });
    });
  }

  settle(m: Extract<FromOwner, { type: 'reply' }>): void {
    const p = this.pending.get(m.reqId);
    if (!p) return;
    this.pending.delete(m.reqId);
    clearTimeout(p.timer);
    if (m.ok) p.resolve(m);
    else p.reject(TickbusError.fromData(m.error));
  }

  failAll(e: TickbusError): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(e);
    }
    this.pending.clear();
  }
}

export class Supervisor {
  private readonly owners: OwnerHandle[] = [];
  private stopping = false;
  private started = false;

  /**
   * @param topicsFor returns the topics (and partitions) an owner serves, read when it (re)starts, so a
   *   restarted owner opens exactly the current catalogue.
   */
  constructor(
    private readonly config: BrokerConfig,
    private readonly topicsFor: (ownerId: number) => OwnedTopic[],
    private readonly events: SupervisorEvents = {},
  ) {
    for (let i = 0; i < config.owners; i++) this.owners.push(new OwnerHandle(i));
  }

  get count(): number {
    return this.owners.length;
  }

  async start(): Promise<void> {
    await Promise.all(this.owners.map((o) => this.spawn(o, this.config.ownerBasePort === 0 ? 0 : this.config.ownerBasePort + o.id)));
    this.started = true;
  }

  status(): OwnerStatus[] {
    return this.owners.map((o) => ({ id: o.id, up: o.up, port: o.port, restarts: o.restarts }));
  }

  endpoint(ownerId: number): string {
    const o = this.owners[ownerId];
    if (!o?.up) return '';
    const host = this.config.host.includes(':') ? `[${this.config.host}]` : this.config.host;
    return `${this.config.tls ? 'wss' : 'ws'}://${host}:${o.port}/`;
  }

  request(ownerId: number, msg: Request): Promise<OkReply> {
    const o = this.owners[ownerId];
    if (!o) return Promise.reject(new TickbusError(ErrorCode.INTERNAL, `no owner ${ownerId}`));
    return o.request(msg);
  }

  /** Sends to every owner; resolves when all answered (rejects with the first error). */
  broadcast(msg: Request): Promise<OkReply[]> {
    return Promise.all(this.owners.map((o) => o.request(msg)));
  }

  /** Partition stats from every owner that answers, and up to `maxLags` most lagging subscriptions per owner. */
  async stats(maxLags = 0): Promise<{ stats: PartitionStats[]; lags: SubscriptionLag[] }> {
    const replies = await Promise.allSettled(this.owners.map((o) => o.request({ type: 'stats', maxLags }, 2_000)));
    const stats: PartitionStats[] = [];
    const lags: SubscriptionLag[] = [];
    for (const r of replies) {
      if (r.status !== 'fulfilled') continue;
      if (r.value.stats) stats.push(...r.value.stats);
      if (r.value.lags) lags.push(...r.value.lags);
    }
    return { stats, lags };
  }

  /** Every owner slot's counter buffer, readable without asking the owner (down or up). */
  counterBuffers(): SharedArrayBuffer[] {
    return this.owners.map((o) => o.counters);
  }

  private spawn(o: OwnerHandle, port: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const worker = new Worker(new URL('../owner/owner-worker.js', import.meta.url), {
        workerData: { ownerId: o.id, port, counters: o.counters, config: this.config, topics: this.topicsFor(o.id), acls: this.events.aclRules?.() ?? [] } satisfies OwnerInit,
      });
      o.worker = worker;
      o.starting = true;
      o.onReady = (p) => {
        o.port = p;
        o.up = true;
        o.starting = false;
        o.backoffMs = RESTART_MIN_MS;
        resolve();
      };
      o.onStartFailed = reject;
      worker.on('message', (m: FromOwner) => {
        switch (m.type) {
          case 'ready': {
            const ready = (): void => {
              o.onReady?.(m.port);
              o.onReady = null;
              o.onStartFailed = null;
              this.events.ownerReady?.(o.id);
            };
            // A held restart stays 'starting' (open and delete still reach the worker) until released.
            if (o.held?.at === 'starting' && !this.stopping) o.held.resume = ready;
            else ready();
            return;
          }
          case 'proposeIsr':
            this.events.proposeIsr?.(m);
            return;
          case 'reply':
            o.settle(m);
            return;
          case 'failed':
            o.up = false;
            o.starting = false;
            logLine('owner reported failure', { owner: o.id, code: m.error.code, error: m.error.message });
            return;
        }
      });
      worker.on('error', (err) => {
        // Reached only when the worker's own fault handler could not run.
        logLine('owner thread error', { owner: o.id, error: err.message });
      });
      worker.on('exit', (code) => {
        const wasStarting = o.onStartFailed;
        o.up = false;
        o.starting = false;
        o.worker = null;
        o.failAll(new TickbusError(ErrorCode.OWNER_UNAVAILABLE, `partition owner ${o.id} stopped; retry shortly`));
        if (wasStarting) {
          o.onStartFailed = null;
          o.onReady = null;
          wasStarting(new TickbusError(ErrorCode.INTERNAL, `partition owner ${o.id} exited with code ${code} while starting`));
          // At broker start a failing owner fails the start; after that, keep trying with backoff.
          if (!this.started) return;
        }
        if (this.stopping) return;
        const delay = o.backoffMs;
        o.backoffMs = Math.min(RESTART_MAX_MS, o.backoffMs * 2);
        o.restarts++;
        const respawn = (): void => {
          if (this.stopping) return;
          // Reuse the port so clients that cached the endpoint reconnect to the same place.
          this.spawn(o, o.port).catch((e: unknown) => {
            logLine('owner restart failed', { owner: o.id, error: String(e) });
          });
        };
        if (o.held) {
          logLine('owner restart held', { owner: o.id, exitCode: code, restarts: o.restarts });
          o.held = { at: 'down', resume: respawn };
          return;
        }
        logLine('owner restarting', { owner: o.id, exitCode: code, inMs: delay, restarts: o.restarts });
        setTimeout(respawn, delay).unref();
      });
    });
  }

  /** Test hook: makes an owner throw an uncaught exception. */
  injectFault(ownerId: number): Promise<OkReply> {
    return this.request(ownerId, { type: 'injectFault' });
  }

  /**
   * Test hook: the owner's next restart waits at two points, each until releaseRestart: before its
   * respawn (down: requests fail, the catalogue is read at the respawn) and before it is marked up
   * (starting: it has read the catalogue, and topics created or deleted since are queued to it). The
   * windows a timer would otherwise make a race of, held open as long as a test needs.
   */
  holdRestart(ownerId: number): void {
    if (!this.config.testHooks) throw new TickbusError(ErrorCode.INVALID_REQUEST, 'test hooks are disabled');
    const o = this.owners[ownerId];
    if (!o) throw new TickbusError(ErrorCode.INVALID_REQUEST, `no owner ${ownerId}`);
    o.held ??= { at: 'armed', resume: null };
  }

  /**
   * Test hook: lets a held restart go on one step. Answers where it was: 'down' (it respawns now and has
   * read the catalogue when this returns; it is 'starting' and held again when it says ready),
   * 'starting' (it is up now, or as soon as it says ready), 'armed' (never went down: hold dropped),
   * or null (nothing held).
   */
  releaseRestart(ownerId: number): HeldRestart['at'] | null {
    const o = this.owners[ownerId];
    if (!o) throw new TickbusError(ErrorCode.INVALID_REQUEST, `no owner ${ownerId}`);
    const h = o.held;
    if (!h) return null;
    // Set before resuming: the respawn is held again 'starting'; a ready one goes up.
    o.held = h.at === 'down' ? { at: 'starting', resume: null } : null;
    h.resume?.();
    return h.at;
  }

  async stop(timeoutMs = 10_000): Promise<void> {
    this.stopping = true;
    // An owner held starting would not take the shutdown request: let it be up first.
    for (const o of this.owners) {
      const h = o.held;
      o.held = null;
      if (h?.at === 'starting') h.resume?.();
    }
    await Promise.all(
      this.owners.map(async (o) => {
        const w = o.worker;
        if (!w) return;
        const exited = new Promise<void>((r) => w.once('exit', () => r()));
        try {
          await o.request({ type: 'shutdown' }, timeoutMs);
        } catch (e) {
          logLine('owner shutdown failed', { owner: o.id, error: String(e) });
        }
        const timer = setTimeout(() => void w.terminate(), timeoutMs);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}
