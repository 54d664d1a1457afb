// One protocol session over one socket: Hello handshake, request ids, answers matched to their
// requests (with a time limit each), and everything unsolicited (Deliver, pushed errors, group
// assignments) handed synchronously to a listener, in socket order.
//
// Keepalive (optional): a socket that only receives (a subscription) cannot tell a quiet partition from a
// broker that stopped — a paused process keeps its TCP connections open, so no close ever comes. With
// keepAliveMs set, a connection silent for that long sends a Ping; no frame at all within requestTimeoutMs
// after it closes the connection, and its owner reconnects (to a new leader, after a failover).
//
// Answers are dispatched synchronously from the message handler, not through promise
// continuations: `ws` emits several messages of one TCP read in one go, and a SubscribeOk must be
// seen before the Deliver frames that follow it on the wire.
import { decodeFrame, encodeFrame, errorFromFrame, type Frame, PROTOCOL_VERSION } from '../schemas/frames.js';
import { ErrorCode, TickbusError } from './errors.js';
import type { Socket, Transport } from './transport.js';

export interface ConnectionListener {
  /** A frame that answers no pending request. `size` is the message's byte length (credit accounting). */
  onFrame?(frame: Frame, size: number, conn: Connection): void;
  /** Called once when the connection ends, with the reason (CONNECTION_CLOSED unless the broker said why). */
  onClose?(err: TickbusError, conn: Connection): void;
}

export type AnswerCallback = (err: TickbusError | null, answer: Frame | null) => void;

interface Pending {
  cb: AnswerCallback;
  deadline: number;
  what: string;
}

export interface ConnectionOptions {
  transport: Transport;
  clientId: string;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  /** Ping after this long without a frame; 0 or absent: no keepalive. */
  keepAliveMs?: number;
  /** The credential sent in Hello, asked for on every new connection (so a refreshed token is used). */
  token?: TokenSource | null;
}

/** A token, or a function giving the current one (called before each Hello: refresh on reconnect). */
export type TokenSource = string | (() => string | Promise<string>);

/** Frames that carry a request id; the connection assigns it. */
type RequestFrame = Extract<Frame, { requestId: number }>;

const MAX_REQUEST_ID = 0xffff_ffff;

export class Connection {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private socket: Socket | null = null;
  private sweepTimer: ReturnType<typeof setInterval> | null = null;
  private closeError: TickbusError | null = null;
  /** The last error the broker pushed (request id 0) before closing: the reason for the close. */
  private pushedError: TickbusError | null = null;
  private helloWaiter: AnswerCallback | null = null;
  private keepAliveTimer: ReturnType<typeof setInterval> | null = null;
  /** A frame arrived since the last keepalive tick (a flag, not a timestamp: nothing extra per message). */
  private heard = true;
  /** Nonce of the unanswered keepalive Ping (0: none) and when it went out. */
  private pingNonce = 0;
  private pingSentAt = 0;
  private listener: ConnectionListener;
  brokerId = '';
  ownerId = -1;

  private constructor(
    readonly url: string,
    private readonly opts: ConnectionOptions,
    listener: ConnectionListener,
  ) {
    this.listener = listener;
  }

  /** Opens the socket and completes Hello. Rejects with a TickbusError (retryable when the network is at fault). */
  static async open(url: string, opts: ConnectionOptions, listener: ConnectionListener = {}): Promise<Connection> {
    const c = new Connection(url, opts, listener);
    c.socket = await opts.transport.open(
      url,
      { onMessage: (bytes) => c.onMessage(bytes), onClose: (code, reason) => c.onSocketClose(code, reason) },
      opts.connectTimeoutMs,
    );
    try {
      const token = typeof opts.token === 'function' ? await opts.token() : (opts.token ?? undefined);
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new TickbusError(ErrorCode.TIMEOUT, `${url} did not answer Hello within ${opts.connectTimeoutMs} ms`));
        }, opts.connectTimeoutMs);
        c.helloWaiter = (err, f) => {
          clearTimeout(timer);
          c.helloWaiter = null;
          if (err) reject(err);
          else if (f?.type === 'HelloOk') {
            c.brokerId = f.brokerId;
            c.ownerId = f.ownerId;
            resolve();
          } else reject(new TickbusError(ErrorCode.MALFORMED_FRAME, `${url} answered Hello with ${f?.type ?? 'nothing'}`));
        };
        c.write({ type: 'Hello', protocolVersion: PROTOCOL_VERSION, clientId: opts.clientId, ...(token ? { token } : {}) });
      });
    } catch (err) {
      c.close();
      throw err;
    }
    if (opts.keepAliveMs) c.startKeepAlive(opts.keepAliveMs);
    return c;
  }

  private startKeepAlive(every: number): void {
    this.keepAliveTimer = setInterval(() => {
      if (this.heard) {
        this.heard = false;
        this.pingNonce = 0;
        return;
      }
      const now = Date.now();
      if (this.pingNonce === 0) {
        this.pingNonce = (Math.floor(Math.random() * 0x7fff_ffff) | 1) >>> 0;
        this.pingSentAt = now;
        this.write({ type: 'Ping', nonce: this.pingNonce });
      } else if (now - this.pingSentAt >= this.opts.requestTimeoutMs) {
        this.fail(new TickbusError(ErrorCode.CONNECTION_CLOSED, `${this.url} did not answer a keepalive Ping within ${this.opts.requestTimeoutMs} ms; reconnecting`));
      }
    }, every);
    (this.keepAliveTimer as { unref?: () => void }).unref?.();
  }

  get closed(): boolean {
    return this.closeError !== null;
  }

  /** Bytes the socket has not yet handed to the network. */
  get bufferedAmount(): number {
    return this.socket?.bufferedAmount ?? 0;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  setListener(listener: ConnectionListener): void {
    this.listener = listener;
  }

  /**
   * Sends a request with a fresh request id; `cb` runs synchronously when the answer (or an
   * ErrorReply for it) arrives, or with TIMEOUT / CONNECTION_CLOSED. Returns the request id.
   */
  request(frame: RequestFrame, cb: AnswerCallback, timeoutMs = this.opts.requestTimeoutMs): number {
    if (this.closeError) {
      const err = this.closeError;
      queueMicrotask(() => cb(err, null));
      return 0;
    }
    const id = this.nextId;
    this.nextId = id === MAX_REQUEST_ID ? 1 : id + 1;
    this.pending.set(id, { cb, deadline: Date.now() + timeoutMs, what: frame.type });
    this.armSweep(timeoutMs);
    frame.requestId = id;
    this.write(frame);
    return id;
  }

  /** request() as a promise; an ErrorReply rejects with the TickbusError it carries. */
  call(frame: RequestFrame, timeoutMs?: number): Promise<Frame> {
    return new Promise((resolve, reject) => {
      this.request(frame, (err, f) => (err ? reject(err) : resolve(f!)), timeoutMs);
    });
  }

  /** Sends a frame that has no answer (Credit, Unsubscribe, Produce with acks=none). */
  post(frame: Frame): boolean {
    if (this.closeError) return false;
    if ('requestId' in frame && frame.requestId === 0) {
      // Every request carries a non-zero id, answered or not.
      frame.requestId = this.nextId;
      this.nextId = this.nextId === MAX_REQUEST_ID ? 1 : this.nextId + 1;
    }
    this.write(frame);
    return true;
  }

  /** Closes the socket; pending requests fail with CONNECTION_CLOSED. */
  close(reason = 'closed by the client'): void {
    if (this.closeError) return;
    this.socket?.close(1000, reason.slice(0, 120));
    // Do not wait for the close handshake: the client is done with this connection now.
    this.onSocketClose(1000, reason);
  }

  private write(frame: Frame): void {
    // encodeFrame copies out of the shared builder: a socket may keep a reference to what it was given.
    this.socket?.send(encodeFrame(frame));
  }

  private onMessage(bytes: Uint8Array): void {
    if (this.closeError) return;
    this.heard = true;
    let f: Frame;
    try {
      f = decodeFrame(bytes);
    } catch (err) {
      // A broker that sends garbage cannot be trusted with the rest of this session.
      const e = err instanceof TickbusError ? err : new TickbusError(ErrorCode.MALFORMED_FRAME, String(err));
      this.fail(new TickbusError(ErrorCode.CONNECTION_CLOSED, `${this.url} sent an undecodable frame (${e.message}); reconnecting`, { cause: e }));
      return;
    }
    if (this.helloWaiter) {
      this.helloWaiter(f.type === 'ErrorReply' ? errorFromFrame(f) : null, f);
      return;
    }
    if (f.type === 'Pong' && this.pingNonce !== 0 && f.nonce === this.pingNonce) {
      this.pingNonce = 0;
      return;
    }
    const id = 'requestId' in f ? f.requestId : 0;
    if (id !== 0 && f.type !== 'GroupAssignment') {
      const p = this.pending.get(id);
      if (p) {
        this.pending.delete(id);
        if (f.type === 'ErrorReply') p.cb(errorFromFrame(f), null);
        else p.cb(null, f);
        return;
      }
    }
    // A connection-wide error (SLOW_CONSUMER, SHUTTING_DOWN) comes before the broker closes: keep it as the reason.
    if (f.type === 'ErrorReply' && id === 0 && f.topic === '') this.pushedError = errorFromFrame(f);
    this.listener.onFrame?.(f, bytes.byteLength, this);
  }

  private onSocketClose(code: number, reason: string): void {
    if (this.closeError) return;
    const pushed = this.pushedError;
    const why = pushed ? `${pushed.codeName}: ${pushed.message}` : reason || `code ${code}`;
    this.fail(
      new TickbusError(ErrorCode.CONNECTION_CLOSED, `connection to ${this.url} closed (${why})`, pushed ? { cause: pushed } : {}),
    );
  }

  private fail(err: TickbusError): void {
    if (this.closeError) return;
    this.closeError = err;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    if (this.keepAliveTimer) clearInterval(this.keepAliveTimer);
    this.keepAliveTimer = null;
    this.socket?.close(1000);
    this.helloWaiter?.(err, null);
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.cb(err, null);
    this.listener.onClose?.(err, this);
  }

  /**
   * One coarse timer per connection instead of one per request: the hot path (produce) then costs
   * a Map insert, not a setTimeout. Deadlines are honoured to within a quarter of the timeout.
   */
  private armSweep(timeoutMs: number): void {
    if (this.sweepTimer) return;
    const every = Math.max(5, Math.min(1000, Math.floor(timeoutMs / 4)));
    this.sweepTimer = setInterval(() => this.sweep(), every);
    // Never keep a Node process alive just to time out requests nobody waits for.
    (this.sweepTimer as { unref?: () => void }).unref?.();
  }

  private sweep(): void {
    if (this.pending.size === 0) {
      if (this.sweepTimer) clearInterval(this.sweepTimer);
      this.sweepTimer = null;
      return;
    }
    const now = Date.now();
    for (const [id, p] of this.pending) {
      if (p.deadline > now) continue;
      this.pending.delete(id);
      p.cb(new TickbusError(ErrorCode.TIMEOUT, `${p.what} to ${this.url} had no answer within its time limit`), null);
    }
  }
}
