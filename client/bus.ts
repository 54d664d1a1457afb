// A connected client: the producer, the subscriptions, admin, and the shared links they use.
import type { Frame } from '../schemas/frames.js';
import { Admin } from './admin.js';
import { Backoff } from './backoff.js';
import { BootstrapLink } from './bootstrap.js';
import type { BusInternals, GroupMember, RequestFrame } from './bus-internals.js';
import type { Connection, ConnectionListener } from './connection.js';
import { ErrorCode, TickbusError } from './errors.js';
import { groupSettings, joinGroup } from './group.js';
import { MetadataCache, type TopicMeta } from './metadata.js';
import { type ClientOptions, resolveOptions, type ResolvedOptions } from './options.js';
import { OwnerLinks } from './owner-links.js';
import { Producer, type ProducerStats, type RecordAck, type SendOptions, type SendRecord } from './producer.js';
import { type SubscribeOptions, Subscription } from './subscription.js';
import { type Transport, webSocketTransport } from './transport.js';

/** group.ts's entry point: joins `group` for `topic` and drives `sub` through assign/revoke. */
export type JoinGroupFn = (bus: BusInternals, topic: string, group: string, sub: Subscription, opts: SubscribeOptions) => GroupMember;

export class Bus implements BusInternals {
  readonly options: ResolvedOptions;
  readonly admin: Admin;
  private readonly transport: Transport;
  private readonly bootstrap: BootstrapLink;
  private readonly meta: MetadataCache;
  private readonly producerLinks: OwnerLinks;
  private readonly producer: Producer;
  private readonly subs = new Set<Subscription>();
  private closingP: Promise<void> | null = null;

  /** Use connect(). */
  constructor(options: ResolvedOptions) {
    this.options = options;
    this.transport = options.transport ?? webSocketTransport;
    this.bootstrap = new BootstrapLink(options, this.transport);
    // One attempt per refresh: every caller (producer, subscription) retries with its own backoff and deadline.
    this.meta = new MetadataCache(async (topics) => {
      const f = await this.bootstrap.request({ type: 'Metadata', requestId: 0, topics });
      if (f.type !== 'MetadataResult') throw new TickbusError(ErrorCode.MALFORMED_FRAME, `Metadata was answered with ${f.type}`);
      return f.topics;
    });
    this.producerLinks = new OwnerLinks(options, this.transport);
    this.producer = new Producer(options, this.meta, this.producerLinks);
    this.admin = new Admin(this.bootstrap, this.meta);
  }

  get clientId(): string {
    return this.options.clientId;
  }

  get closing(): boolean {
    return this.closingP !== null;
  }

  /** The random id that makes this client's retries idempotent. */
  get producerId(): number {
    return this.producer.producerId;
  }

  get producerStats(): ProducerStats {
    return this.producer.stats;
  }

  /** Bytes accepted by send() and not yet acknowledged. */
  get bufferedBytes(): number {
    return this.producer.buffered;
  }

  /** Opens the bootstrap connection (connect() waits for it, so a wrong URL fails there). */
  async ready(): Promise<void> {
    await this.bootstrap.connection();
  }

  /**
   * Sends records; resolves with one { partition, offset } per record, in input order, once every
   * record is acknowledged (acks 'leader' by default). Retries through reconnects without duplicates.
   */
  send(topic: string, records: readonly SendRecord[], opts?: SendOptions): Promise<RecordAck[]> {
    if (this.closingP) return Promise.reject(new TickbusError(ErrorCode.CONNECTION_CLOSED, 'send() after close()', { retryable: false }));
    return this.producer.send(topic, records, opts);
  }

  /** Sends whatever waits for its linger time now; resolves when everything sent so far is acknowledged or failed. */
  flush(): Promise<void> {
    return this.producer.flush();
  }

  subscribe(topic: string, opts: SubscribeOptions = {}): Subscription {
    if (this.closingP) throw new TickbusError(ErrorCode.CONNECTION_CLOSED, 'subscribe() after close()', { retryable: false });
    // JavaScript callers pass anything: these checks are for them.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-conversion
    if (typeof topic !== 'string' || topic.length === 0) throw new TypeError(`subscribe() needs a topic name, got ${String(topic)}`);
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
    if (typeof opts !== 'object' || opts === null) throw new TypeError('subscribe(topic, options): options must be an object');
    if (opts.partitions !== undefined) {
      if (!Array.isArray(opts.partitions) || opts.partitions.length === 0) throw new TypeError('partitions must be a non-empty array of partition numbers');
      for (const p of opts.partitions) if (!Number.isInteger(p) || p < 0) throw new RangeError(`partitions must be non-negative integers, got ${String(p)}`);
    }
    if (opts.group !== undefined) {
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-conversion -- JavaScript callers pass anything
      if (typeof opts.group !== 'string' || opts.group.length === 0) throw new TypeError(`group must be a non-empty string, got ${String(opts.group)}`);
      if (opts.partitions !== undefined) throw new TypeError('a group member gets its partitions from the group: pass group or partitions, not both');
      groupSettings(opts); // bad group options throw here, not later as an error event
    }
    const sub = new Subscription({ bus: this, options: this.options, transport: this.transport, onClosed: (s) => this.subs.delete(s) }, topic, opts);
    this.subs.add(sub);
    if (opts.group !== undefined) sub.attachGroup(joinGroup(this, topic, opts.group, sub, opts));
    else void sub.start(opts.partitions ? [...new Set(opts.partitions)] : undefined);
    return sub;
  }

  /** Flushes pending sends, closes every subscription (leaving groups) and every connection. */
  close(): Promise<void> {
    this.closingP ??= this.doClose();
    return this.closingP;
  }

  private async doClose(): Promise<void> {
    try {
      await this.producer.close();
    } finally {
      await Promise.allSettled([...this.subs].map((s) => s.close()));
      this.producer.abort();
      this.producerLinks.close();
      this.bootstrap.close();
    }
  }

  // ------------------------------------------------------------------ BusInternals

  bootstrapRequest(frame: RequestFrame, timeoutMs?: number): Promise<Frame> {
    return this.bootstrap.request(frame, timeoutMs);
  }

  openBootstrap(listener: ConnectionListener): Promise<Connection> {
    return this.bootstrap.openDedicated(listener);
  }

  metadata(topic: string, refresh = false): Promise<TopicMeta> {
    return refresh ? this.meta.refresh(topic) : this.meta.get(topic);
  }

  newBackoff(): Backoff {
    return new Backoff(this.options.reconnect);
  }
}

/**
 * Connects to a tickbus broker. Validates options (TypeError/RangeError), opens the bootstrap
 * connection, and resolves with the client. Rejects with a TickbusError when no broker answers.
 */
export async function connect(options: ClientOptions): Promise<Bus> {
  const bus = new Bus(resolveOptions(options));
  try {
    await bus.ready();
  } catch (err) {
    await bus.close();
    throw err;
  }
  return bus;
}
