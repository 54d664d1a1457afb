// Connections to partition-owner endpoints, one per URL, opened on first use and forgotten when
// they close (the next use opens a fresh one). The producer shares one set; every subscription
// has its own, so a consumer cut off for being slow never takes the producer's socket with it,
// and two subscriptions to one partition never replace each other on the broker.
import { Connection, type ConnectionListener } from './connection.js';
import { ErrorCode, TickbusError } from './errors.js';
import type { ResolvedOptions } from './options.js';
import type { Transport } from './transport.js';

/** A connection being opened; `settled` is set once it is open, so peek() needs no await. */
type Link = Promise<Connection> & { settled?: Connection };

export class OwnerLinks {
  private readonly links = new Map<string, Link>();
  private closed = false;

  constructor(
    private readonly opts: ResolvedOptions,
    private readonly transport: Transport,
    private readonly listener: ConnectionListener = {},
    /** Keepalive of each connection (see Connection): on for subscriptions, whose sockets mostly receive. */
    private readonly keepAliveMs = 0,
  ) {}

  /** The open connection to `url`, if there is one (no await on the hot path). */
  peek(url: string): Connection | null {
    const c = this.links.get(url)?.settled;
    return c && !c.closed ? c : null;
  }

  get(url: string): Promise<Connection> {
    if (this.closed) return Promise.reject(new TickbusError(ErrorCode.CONNECTION_CLOSED, 'the client is closed', { retryable: false }));
    const existing = this.links.get(url);
    if (existing && !existing.settled?.closed) return existing;
    const p: Link = Connection.open(
      url,
      {
        transport: this.transport,
        clientId: this.opts.clientId,
        connectTimeoutMs: this.opts.connectTimeoutMs,
        requestTimeoutMs: this.opts.requestTimeoutMs,
        keepAliveMs: this.keepAliveMs,
        token: this.opts.token,
      },
      {
        onFrame: (f, size, conn) => this.listener.onFrame?.(f, size, conn),
        onClose: (err, conn) => {
          if (this.links.get(url) === p) this.links.delete(url);
          this.listener.onClose?.(err, conn);
        },
      },
    ).then(
      (c) => {
        p.settled = c;
        if (this.closed) c.close();
        return c;
      },
      (err: unknown) => {
        if (this.links.get(url) === p) this.links.delete(url);
        throw err;
      },
    );
    this.links.set(url, p);
    return p;
  }

  /** Closes the connection to `url` (its pending requests fail with CONNECTION_CLOSED). */
  drop(url: string): void {
    this.peek(url)?.close('dropped by the client');
  }

  close(): void {
    this.closed = true;
    for (const p of this.links.values()) p.then((c) => c.close(), () => undefined);
    this.links.clear();
  }
}
