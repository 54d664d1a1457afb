// The client's link to the bootstrap endpoint (main thread of a broker): metadata and admin.
// One shared connection, opened on first use and reopened after it drops, trying the configured
// brokers in turn (round robin: a broker that failed is tried last next time). Requests that are safe
// to repeat (Metadata) are retried through reconnects; others (CreateTopic...) fail with the
// retryable error and the caller decides. A broker that stops answering (a paused process keeps its
// sockets open) or that lost the control plane is left for the next one: in a cluster any broker
// answers metadata.
import type { Frame } from '../schemas/frames.js';
import { Backoff } from './backoff.js';
import { Connection, type ConnectionListener } from './connection.js';
import { ErrorCode, TickbusError } from './errors.js';
import type { ResolvedOptions } from './options.js';
import type { Transport } from './transport.js';

type RequestFrame = Extract<Frame, { requestId: number }>;

export class BootstrapLink {
  private conn: Connection | null = null;
  private opening: Promise<Connection> | null = null;
  /** Index in brokers of the one to try first (the one `conn` is open to, while it is). */
  private next = 0;
  private closed = false;

  constructor(
    private readonly opts: ResolvedOptions,
    private readonly transport: Transport,
  ) {}

  /** A dedicated bootstrap connection with its own listener (a consumer group's coordinator session). */
  async openDedicated(listener: ConnectionListener): Promise<Connection> {
    let lastErr: unknown = null;
    for (let i = 0; i < this.opts.brokers.length; i++) {
      const url = this.opts.brokers[(this.next + i) % this.opts.brokers.length]!;
      try {
        return await Connection.open(url, this.connOptions(), listener);
      } catch (err) {
        lastErr = err;
      }
    }
    throw lastErr instanceof TickbusError
      ? lastErr
      : new TickbusError(ErrorCode.CONNECTION_CLOSED, `no broker answered: ${this.opts.brokers.join(', ')}`, { cause: lastErr });
  }

  /** The shared connection, opened if needed. */
  connection(): Promise<Connection> {
    if (this.closed) return Promise.reject(new TickbusError(ErrorCode.CONNECTION_CLOSED, 'the client is closed', { retryable: false }));
    if (this.conn && !this.conn.closed) return Promise.resolve(this.conn);
    this.opening ??= this.openShared().finally(() => {
      this.opening = null;
    });
    return this.opening;
  }

  private async openShared(): Promise<Connection> {
    let lastErr: unknown = null;
    const n = this.opts.brokers.length;
    for (let i = 0; i < n; i++) {
      const idx = (this.next + i) % n;
      try {
        const c = await Connection.open(this.opts.brokers[idx]!, this.connOptions(), {});
        this.next = idx;
        if (this.closed) {
          c.close();
          throw new TickbusError(ErrorCode.CONNECTION_CLOSED, 'the client is closed', { retryable: false });
        }
        this.conn = c;
        return c;
      } catch (err) {
        lastErr = err;
      }
    }
    // Next time start with the broker after the one that failed last.
    this.next = (this.next + 1) % n;
    if (lastErr instanceof TickbusError) throw lastErr;
    throw new TickbusError(ErrorCode.CONNECTION_CLOSED, `no broker answered: ${this.opts.brokers.join(', ')}`, { cause: lastErr });
  }

  /** One request on the shared connection. ErrorReply rejects with its TickbusError. */
  async request(frame: RequestFrame, timeoutMs?: number): Promise<Frame> {
    const c = await this.connection();
    try {
      return await c.call(frame, timeoutMs);
    } catch (err) {
      if (err instanceof TickbusError && (err.code === ErrorCode.TIMEOUT || err.code === ErrorCode.CONTROL_PLANE_UNAVAILABLE)) this.moveOn(c);
      throw err;
    }
  }

  /** Leaves the broker behind `c` for the next one: the next request opens a connection there. */
  private moveOn(c: Connection): void {
    if (this.conn !== c || this.opts.brokers.length < 2) return;
    this.conn = null;
    this.next = (this.next + 1) % this.opts.brokers.length;
    c.close('unresponsive: trying the next broker');
  }

  /**
   * A request safe to repeat: retried with backoff on retryable errors until `deadlineMs` passes.
   */
  async idempotent(make: () => RequestFrame, deadlineMs = this.opts.requestTimeoutMs): Promise<Frame> {
    const backoff = new Backoff(this.opts.reconnect);
    const until = Date.now() + deadlineMs;
    for (;;) {
      try {
        return await this.request(make(), Math.max(1, Math.min(this.opts.requestTimeoutMs, until - Date.now())));
      } catch (err) {
        if (!(err instanceof TickbusError) || !err.retryable || this.closed) throw err;
        const wait = backoff.next();
        if (Date.now() + wait >= until) throw err;
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  private connOptions() {
    return {
      transport: this.transport,
      clientId: this.opts.clientId,
      connectTimeoutMs: this.opts.connectTimeoutMs,
      requestTimeoutMs: this.opts.requestTimeoutMs,
      token: this.opts.token,
    };
  }

  close(): void {
    this.closed = true;
    this.conn?.close();
    this.conn = null;
  }
}
