// The one module that speaks to etcd (npm etcd3 1.1.2 against etcd 3.4). Everything else in the
// control plane sees four things: a lease that knows when it must be presumed lost, a prefix read
// with its revision, a compare-and-swap transaction, and a prefix watch that never silently misses
// an event. Swapping etcd for another engine means rewriting this file only.
import { ExponentialBackoff, type IBackoff, noop } from 'cockatiel';
import { Etcd3, type IKeyValue, type Lease, type Watcher } from 'etcd3';
import { ErrorCode, TickbusError } from '../../schemas/errors.js';
import { monotonicMs } from '../clock.js';

export interface Entry {
  key: string;
  value: string;
  modRevision: number;
  createRevision: number;
  /** The lease the key is bound to ('0': none). */
  lease: string;
}

/** One condition of a transaction: the key's mod revision equals `modRevision` (0 = the key must not exist). */
export interface Guard {
  key: string;
  modRevision: number;
}

export interface Put {
  key: string;
  value: string;
  /** Bind the key to this lease: it disappears when the lease expires. */
  lease?: string;
}

export type WatchEvent = { type: 'put'; entry: Entry } | { type: 'delete'; key: string; modRevision: number };

const fromKv = (kv: IKeyValue): Entry => ({
  key: kv.key.toString(),
  value: kv.value.toString(),
  modRevision: Number(kv.mod_revision),
  createRevision: Number(kv.create_revision),
  lease: kv.lease,
});

/**
 * A lease kept alive in the background. `validUntil` is measured on this process's monotonic clock
 * from the moment the last successful keepalive was SENT: etcd restarts its TTL when it receives the
 * keepalive, which is later, so until `validUntil` etcd cannot have expired the lease. etcd3's own
 * `lost` event comes about 2×TTL after the last good keepalive (measured here), far too late to fence
 * on; holders check `isValid()` on their own clock instead (docs/replication.md, "Fencing").
 */
export class HeldLease {
  private lastGoodSentAt: number;
  private pendingSentAt = 0;
  private lostHandlers: (() => void)[] = [];
  private lost = false;
  private silenced = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly lease: Lease,
    readonly id: string,
    readonly ttlMs: number,
    private readonly marginMs: number,
    grantedSentAt: number,
  ) {
    this.lastGoodSentAt = grantedSentAt;
    lease.on('keepaliveFired', () => {
      this.pendingSentAt = monotonicMs();
    });
    lease.on('keepaliveSucceeded', () => {
      if (this.pendingSentAt > this.lastGoodSentAt) this.lastGoodSentAt = this.pendingSentAt;
      this.arm();
    });
    lease.on('lost', () => this.markLost());
    this.arm();
  }

  /** Monotonic ms until which etcd cannot have expired this lease (minus the safety margin). */
  get validUntil(): number {
    return this.lastGoodSentAt + this.ttlMs - this.marginMs;
  }

  isValid(now = monotonicMs()): boolean {
    return !this.lost && now < this.validUntil;
  }

  /** Called once, on our own clock, when the lease must be presumed lost (at once if it already is). */
  onLost(fn: () => void): void {
    if (this.lost) queueMicrotask(fn);
    else this.lostHandlers.push(fn);
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.lost) return;
    this.timer = setTimeout(() => {
      if (monotonicMs() >= this.validUntil) this.markLost();
      else this.arm();
    }, Math.max(1, this.validUntil - monotonicMs()));
    this.timer.unref();
  }

  /**
   * A lease presumed lost is abandoned for good, even if a later keepalive would have succeeded (etcd
   * restores leases when it restarts): its holder has already acted as if it were gone, so its keys
   * (registration, controller key) must go too. Revoke at once if etcd answers, else let it expire.
   */
  private markLost(): void {
    if (this.lost) return;
    this.lost = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.silenced) this.lease.release();
    else this.lease.revoke().catch(() => this.lease.release());
    for (const fn of this.lostHandlers) fn();
  }

  async revoke(): Promise<void> {
    if (!this.lost) {
      this.lost = true;
      if (this.timer) clearTimeout(this.timer);
      for (const fn of this.lostHandlers) fn();
    }
    try {
      await this.lease.revoke();
    } catch {
      // etcd unreachable: the lease expires by itself after its TTL
      this.lease.release();
    }
  }

  /** Stops keepalives without revoking (tests: a broker that goes silent). */
  release(): void {
    this.silenced = true;
    this.lease.release();
  }
}

export class EtcdClient {
  private readonly client: Etcd3;
  private readonly watchers = new Set<Watcher>();
  private closed = false;

  constructor(
    endpoints: string[],
    private readonly dialTimeoutMs = 3_000,
  ) {
    // etcd3's default per-host circuit breaker stays open 5 s after three failures, and its watch
    // backoff grows to 30 s: either would hold a broker off etcd long after etcd is back. Our callers
    // retry on their own schedule; watches retry at most a second apart.
    this.client = new Etcd3({
      hosts: endpoints,
      dialTimeout: dialTimeoutMs,
      faultHandling: { host: () => noop, watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1_000 }) as unknown as IBackoff<unknown> },
    });
  }

  private wrap(op: string, err: unknown): TickbusError {
    return new TickbusError(ErrorCode.CONTROL_PLANE_UNAVAILABLE, `etcd ${op} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }

  /** Grants a lease of ttlMs (rounded up to whole seconds, etcd's unit) and keeps it alive. */
  async grantLease(ttlMs: number, marginMs: number): Promise<HeldLease> {
    const ttlSec = Math.max(1, Math.ceil(ttlMs / 1000));
    const sentAt = monotonicMs();
    const lease = this.client.lease(ttlSec, { autoKeepAlive: true });
    lease.on('lost', () => undefined); // handled by HeldLease on our own clock; never an unhandled 'error'
    let id: string;
    try {
      id = await lease.grant();
    } catch (err) {
      lease.release();
      throw this.wrap('lease grant', err);
    }
    return new HeldLease(lease, id, ttlSec * 1000, marginMs, sentAt);
  }

  async get(key: string): Promise<Entry | null> {
    try {
      const res = await this.client.get(key).exec();
      const kv = res.kvs[0];
      return kv ? fromKv(kv) : null;
    } catch (err) {
      throw this.wrap('get', err);
    }
  }

  /** Every key under `prefix`, and the store revision they were read at. */
  async list(prefix: string): Promise<{ entries: Entry[]; revision: number }> {
    try {
      const res = await this.client.getAll().prefix(prefix).exec();
      return { entries: res.kvs.map(fromKv), revision: Number(res.header.revision) };
    } catch (err) {
      throw this.wrap('range', err);
    }
  }

  /**
   * Applies `puts` and `deletes` atomically if every guard holds; resolves `ok: false` (nothing
   * written) when one does not. A guard with modRevision 0 means "the key does not exist".
   * `revision` is the store revision after the transaction: the mod revision of every key it put.
   */
  async txn(guards: Guard[], puts: Put[], deletes: string[] = []): Promise<{ ok: boolean; revision: number }> {
    if (this.closed) throw new TickbusError(ErrorCode.SHUTTING_DOWN, 'control plane client is closed');
    const first = guards[0];
    if (!first) throw new TypeError('txn needs at least one guard');
    try {
      let b = this.client.if(first.key, 'Mod', '==', first.modRevision);
      for (const g of guards.slice(1)) b = b.and(g.key, 'Mod', '==', g.modRevision);
      const ops = [
        ...puts.map((p) => {
          const op = this.client.put(p.key).value(p.value);
          return p.lease ? op.lease(p.lease) : op;
        }),
        ...deletes.map((k) => this.client.delete().key(k)),
      ];
      const res = await b.then(...ops).commit();
      return { ok: res.succeeded, revision: Number(res.header.revision) };
    } catch (err) {
      throw this.wrap('txn', err);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.delete().key(key).exec();
    } catch (err) {
      throw this.wrap('delete', err);
    }
  }

  /**
   * Follows every change under `prefix`: first `reset(entries)` with a full read, then events in
   * revision order. etcd3 resumes a broken watch from its last revision, but a revision etcd has
   * compacted cancels the watch: then we read everything again and call `reset` again, so the
   * caller's view is rebuilt rather than silently missing what was compacted away.
   */
  async follow(prefix: string, reset: (entries: Entry[]) => void, onEvent: (e: WatchEvent) => void): Promise<() => Promise<void>> {
    let current: Watcher | null = null;
    let stopped = false;
    const start = async (): Promise<void> => {
      const { entries, revision } = await this.list(prefix);
      if (stopped) return;
      reset(entries);
      const w = await this.client
        .watch()
        .prefix(prefix)
        .startRevision(String(revision + 1))
        .create();
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set by the stop function during the await
      if (stopped) {
        await w.cancel();
        return;
      }
      current = w;
      this.watchers.add(w);
      w.on('put', (kv) => onEvent({ type: 'put', entry: fromKv(kv) }));
      w.on('delete', (kv) => onEvent({ type: 'delete', key: kv.key.toString(), modRevision: Number(kv.mod_revision) }));
      w.on('error', () => {
        this.watchers.delete(w);
        current = null;
        if (!stopped) void retry();
      });
    };
    const retry = async (): Promise<void> => {
      for (let delay = 100; !stopped && !this.closed; delay = Math.min(2_000, delay * 2)) {
        try {
          await start();
          return;
        } catch {
          await new Promise((r) => setTimeout(r, delay).unref());
        }
      }
    };
    await start();
    return async () => {
      stopped = true;
      const w: Watcher | null = current;
      if (w) {
        this.watchers.delete(w);
        await w.cancel().catch(() => undefined);
      }
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.watchers].map((w) => w.cancel().catch(() => undefined)));
    this.watchers.clear();
    this.client.close();
  }
}
