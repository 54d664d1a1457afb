// The broker's WebSocket edge, one module for every endpoint (partition owners and bootstrap): what a
// connection must get right before any request is served, and how it is failed when it does not.
//   binary frames only → size limit → decodeFrame → Hello handshake → the endpoint's dispatch()
// Each message is handled in one synchronous run: uWS detaches the ArrayBuffer when the handler
// returns, so nothing here (or in dispatch) may await before the frame is consumed.
// Endpoints differ only in which frames they dispatch and what state a session carries.
import type { TemplatedApp, WebSocket } from 'uWebSockets.js';
import { asTickbusError, ErrorCode, TickbusError } from '../../schemas/errors.js';
import { decodeFrame, encodeFrameView, errorFrame, type Frame, type FrameOf, PROTOCOL_VERSION } from '../../schemas/frames.js';
import { monotonicMs } from '../clock.js';
import { Admission, type AdmissionLimits } from '../limits/admission.js';
import { logLine } from '../logger.js';
import type { Authenticated, Authenticator } from '../security/authenticator.js';
import { DeferredInput } from '../tls/deferred-input.js';
import { isTlsApp } from '../tls/endpoint-app.js';
import { uws } from '../uws.js';

/** WebSocket close codes the broker uses (RFC 6455 §7.4.1), in one place. */
export const CloseCode = {
  /** The endpoint is going away: broker shutdown. */
  GOING_AWAY: 1001,
  /** The peer broke the protocol (text frame, bad frame, no Hello, slow consumer). */
  POLICY: 1008,
  /** A frame larger than maxPayloadLength. */
  TOO_BIG: 1009,
  /** The endpoint restarts (an owner after a fault): reconnect and resume. */
  RESTART: 1012,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** The principal of every connection when authentication is off. */
export const ANONYMOUS_PRINCIPAL = 'anonymous';

/** What every connection carries; endpoints extend it with their own state. */
export interface Session {
  id: number;
  /** Hello received and accepted: requests may follow. */
  hello: boolean;
  open: boolean;
  /** The client's self-chosen id from Hello (for logs and metric labels; not an identity). */
  clientId: string;
  /**
   * Who is calling, as authenticated by Hello: the name ACLs and quotas are keyed by. 'anonymous' when
   * the broker runs without authentication (loopback or --insecure).
   */
  principal: string;
  ws: WebSocket<unknown> | null;
}

export interface EdgeLimits {
  maxPayloadLength: number;
  maxBackpressure: number;
  idleTimeoutSec: number;
}

export interface EdgeOptions<S extends Session> {
  limits: EdgeLimits;
  /** Pending handshakes and connections per IP and per principal on this endpoint (config.limits). */
  connectionLimits: AdmissionLimits;
  /** Fields that identify this endpoint in log lines, e.g. { owner: 0 } or { endpoint: 'bootstrap' }. */
  logFields: Record<string, unknown>;
  /** The HelloOk this endpoint answers with. */
  helloOk: FrameOf<'HelloOk'>;
  /** Makes the session for a new connection, with the endpoint's own fields (the base ones filled). */
  newSession(base: Session): S;
  /**
   * Serves one request after Hello, synchronously. A thrown error fails that request alone (an
   * ErrorReply with its request id); the connection goes on.
   */
  dispatch(session: S, frame: Frame): void;
  /**
   * Present when the broker requires authentication: Hello must carry a token it accepts within
   * helloTimeoutMs, and the connection is closed when that token expires.
   */
  authenticator?: Authenticator | null;
  /** A connection was closed for a bad frame (for counters). */
  onBadFrame?(session: S): void;
  onOpen?(session: S): void;
  onDrain?(session: S): void;
  onClose?(session: S): void;
}

/** Frames (and their bytes) a client may send after Hello and before HelloOk; they wait for the token check. */
const MAX_QUEUED_BEFORE_HELLO_OK = 64;
const MAX_QUEUED_BYTES_BEFORE_HELLO_OK = 256 * 1024;
const MAX_TIMER_MS = 2 ** 31 - 1;

interface QueuedFrames {
  frames: Uint8Array[];
  bytes: number;
}

export class Edge<S extends Session> {
  /** Open connections. */
  readonly sessions = new Set<S>();
  private nextId = 1;
  private readonly admission: Admission;
  /** Sessions whose Hello is being verified (async), with the frames that came meanwhile. */
  private readonly verifying = new Map<S, QueuedFrames>();
  /** Per session: the Hello deadline until it is verified, then the credential's expiry. */
  private readonly authTimers = new Map<S, NodeJS.Timeout>();
  /** Frames of TLS connections, served after uSockets' read callback (why: tls/deferred-input.ts). */
  private readonly tlsInput = new DeferredInput<S>((s, message, isBinary) => this.onMessage(s, message, isBinary));
  /** Sessions the broker itself ended (reject, closeAll): any other close is logged when abnormal. */
  private readonly endedByBroker = new WeakSet<S>();

  constructor(
    app: TemplatedApp,
    private readonly opts: EdgeOptions<S>,
  ) {
    this.admission = new Admission(opts.connectionLimits);
    this.attach(app);
  }

  /**
   * Serves this edge's WebSocket route on `app`. More than one app when a TLS reload moved the port to a
   * new app: the connections of every app are this edge's sessions.
   */
  attach(app: TemplatedApp): void {
    const { limits } = this.opts;
    const opts = this.opts;
    const tls = isTlsApp(app);
    app.ws<S>('/*', {
      // permessage-deflate stays off (uWS's default, stated here): a compression bomb inflates past every
      // frame limit, and compressing costs latency on the live path.
      compression: uws.DISABLED,
      // uWS closes larger messages itself without a word; up to twice the limit we read the size and
      // answer FRAME_TOO_LARGE, so a client learns why.
      maxPayloadLength: limits.maxPayloadLength * 2,
      maxBackpressure: limits.maxBackpressure,
      idleTimeout: limits.idleTimeoutSec,
      sendPingsAutomatically: true,
      // Backpressure is ours to handle (slow consumers go to catch-up reads): uWS must not close for it.
      closeOnBackpressureLimit: 0,
      upgrade: (res, req, context) => {
        const s = opts.newSession({ id: this.nextId++, hello: false, open: true, clientId: '', principal: ANONYMOUS_PRINCIPAL, ws: null });
        res.upgrade(s, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
      },
      open: (ws) => {
        const s = ws.getUserData();
        s.ws = ws;
        this.sessions.add(s);
        opts.onOpen?.(s);
        if (opts.authenticator) this.armHelloTimeout(s, opts.authenticator.helloTimeoutMs);
        const refused = this.admission.opened(s, Buffer.from(ws.getRemoteAddressAsText()).toString());
        if (refused) this.reject(s, refused, CloseCode.POLICY);
      },
      message: (ws, message, isBinary) => {
        if (tls) this.tlsInput.push(ws.getUserData(), message, isBinary);
        else this.onMessage(ws.getUserData(), message, isBinary);
      },
      drain: (ws) => opts.onDrain?.(ws.getUserData()),
      close: (ws, code, message) => {
        const s = ws.getUserData();
        if (tls) {
          // What the client sent before closing is served first, as without deferral; the socket cannot
          // be written any more (uWS throws on a closed WebSocket), so answers are dropped.
          s.ws = null;
          this.tlsInput.flush();
        }
        // 1006 is uWS's "closed without a close frame": the peer vanished, or uWS/uSockets cut the socket
        // (e.g. a TLS record that failed its MAC). Nothing else reports it.
        if (code === 1006 && !this.endedByBroker.has(s)) {
          logLine('connection dropped', { ...this.opts.logFields, conn: s.id, code, reason: Buffer.from(message).toString() || 'no close frame', tls });
        }
        s.open = false;
        this.sessions.delete(s);
        this.admission.closed(s);
        this.verifying.delete(s);
        this.clearAuthTimer(s);
        opts.onClose?.(s);
        s.ws = null;
      },
    });
  }

  private onMessage(s: S, message: ArrayBuffer, isBinary: boolean): void {
    if (!isBinary) {
      this.rejectBadFrame(s, new TickbusError(ErrorCode.MALFORMED_FRAME, 'text messages are not part of the protocol: send binary FlatBuffers frames'), CloseCode.POLICY);
      return;
    }
    const max = this.opts.limits.maxPayloadLength;
    if (message.byteLength > max) {
      this.rejectBadFrame(s, new TickbusError(ErrorCode.FRAME_TOO_LARGE, `frame of ${message.byteLength} bytes exceeds maxPayloadLength ${max}`), CloseCode.TOO_BIG);
      return;
    }
    // Only while some Hello is being verified: no Map lookup per frame otherwise (the live path).
    const queue = this.verifying.size > 0 ? this.verifying.get(s) : undefined;
    if (queue) {
      this.queueWhileVerifying(s, queue, message);
      return;
    }
    let frame: Frame;
    try {
      frame = decodeFrame(new Uint8Array(message));
    } catch (err) {
      this.rejectBadFrame(s, asTickbusError(err, ErrorCode.MALFORMED_FRAME), CloseCode.POLICY);
      return;
    }
    if (!s.hello) {
      this.onHello(s, frame);
      return;
    }
    this.serve(s, frame);
  }

  /** One request after Hello: Ping is answered here, the rest goes to the endpoint. */
  private serve(s: S, frame: Frame): void {
    try {
      switch (frame.type) {
        case 'Ping':
          s.ws?.send(encodeFrameView({ type: 'Pong', nonce: frame.nonce }), true, false);
          return;
        case 'Hello':
          throw new TickbusError(ErrorCode.INVALID_REQUEST, 'Hello was already received on this connection');
        default:
          this.opts.dispatch(s, frame);
      }
    } catch (err) {
      // A request that fails (bad topic, bad batch, bad offset) fails alone; the connection goes on.
      const e = asTickbusError(err);
      if (e.code === ErrorCode.INTERNAL) logLine('request failed', { ...this.opts.logFields, conn: s.id, frame: frame.type, error: e.message });
      this.sendError(s, e, 'requestId' in frame ? frame.requestId : 0);
    }
  }

  private onHello(s: S, frame: Frame): void {
    const auth = this.opts.authenticator;
    if (frame.type !== 'Hello') {
      const err = auth
        ? new TickbusError(ErrorCode.AUTHENTICATION_REQUIRED, `the first frame must be Hello with a token, got ${frame.type}`)
        : new TickbusError(ErrorCode.HELLO_REQUIRED, `the first frame must be Hello, got ${frame.type}`);
      this.rejectBadFrame(s, err, CloseCode.POLICY);
      return;
    }
    if (frame.protocolVersion !== PROTOCOL_VERSION) {
      this.rejectBadFrame(
        s,
        new TickbusError(ErrorCode.UNSUPPORTED_PROTOCOL_VERSION, `protocol version ${frame.protocolVersion} is not supported; this broker speaks ${PROTOCOL_VERSION}`),
        CloseCode.POLICY,
      );
      return;
    }
    if (!auth) {
      this.acceptHello(s, frame.clientId);
      return;
    }
    // Verifying a JWT is async (jose): the Hello is decoded already (the token is a string copied out of
    // the frame), and frames that come before the answer are copied and served after it, in order.
    const queue: QueuedFrames = { frames: [], bytes: 0 };
    this.verifying.set(s, queue);
    const clientId = frame.clientId;
    auth.authenticate(frame.token).then(
      (who) => this.onAuthenticated(s, queue, clientId, who),
      (err: unknown) => {
        if (this.verifying.get(s) !== queue) return;
        this.verifying.delete(s);
        this.reject(s, asTickbusError(err, ErrorCode.AUTHENTICATION_FAILED), CloseCode.POLICY);
      },
    );
  }

  private onAuthenticated(s: S, queue: QueuedFrames, clientId: string, who: Authenticated): void {
    if (this.verifying.get(s) !== queue || !s.open) return;
    this.verifying.delete(s);
    this.clearAuthTimer(s);
    s.principal = who.principal;
    if (!this.acceptHello(s, clientId)) return;
    if (who.expiresAtMs !== null) this.armExpiry(s, who.expiresAtMs);
    for (const bytes of queue.frames) {
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- a frame handled in an earlier pass may have closed the session
      if (!s.open) return;
      let frame: Frame;
      try {
        frame = decodeFrame(bytes);
      } catch (err) {
        this.rejectBadFrame(s, asTickbusError(err, ErrorCode.MALFORMED_FRAME), CloseCode.POLICY);
        return;
      }
      this.serve(s, frame);
    }
  }

  /** Hello accepted (and authenticated, when required): admission limits, then HelloOk. */
  private acceptHello(s: S, clientId: string): boolean {
    const refused = this.admission.helloAccepted(s, s.principal);
    if (refused) {
      this.reject(s, refused, CloseCode.POLICY);
      return false;
    }
    s.hello = true;
    s.clientId = clientId;
    s.ws?.send(encodeFrameView(this.opts.helloOk), true, false);
    return true;
  }

  /**
   * Frames sent before HelloOk (pipelined after Hello) wait for the verification, copied: uWS detaches
   * the buffer when this handler returns. Bounded, because an unauthenticated peer must not make the
   * broker hold memory: a client should wait for HelloOk anyway.
   */
  private queueWhileVerifying(s: S, queue: QueuedFrames, message: ArrayBuffer): void {
    if (queue.frames.length >= MAX_QUEUED_BEFORE_HELLO_OK || queue.bytes + message.byteLength > MAX_QUEUED_BYTES_BEFORE_HELLO_OK) {
      this.verifying.delete(s);
      this.rejectBadFrame(
        s,
        new TickbusError(ErrorCode.AUTHENTICATION_REQUIRED, `more than ${MAX_QUEUED_BEFORE_HELLO_OK} frames or ${MAX_QUEUED_BYTES_BEFORE_HELLO_OK} bytes before HelloOk: wait for HelloOk`),
        CloseCode.POLICY,
      );
      return;
    }
    queue.frames.push(new Uint8Array(message.slice(0)));
    queue.bytes += message.byteLength;
  }

  private armHelloTimeout(s: S, ms: number): void {
    const t = setTimeout(() => {
      this.authTimers.delete(s);
      if (!s.open || s.hello) return;
      this.verifying.delete(s);
      this.reject(s, new TickbusError(ErrorCode.AUTHENTICATION_REQUIRED, `no authenticated Hello within ${ms} ms`), CloseCode.POLICY);
    }, ms);
    t.unref();
    this.authTimers.set(s, t);
  }

  /** A connection lives no longer than its credential: at expiry it is told TOKEN_EXPIRED and closed. */
  private armExpiry(s: S, expiresAtMs: number): void {
    // setTimeout holds at most 2^31-1 ms (24.8 days): a longer wait is re-armed in steps.
    const wait = Math.min(Math.max(0, expiresAtMs - Date.now()), MAX_TIMER_MS);
    const t = setTimeout(() => {
      this.authTimers.delete(s);
      if (!s.open) return;
      if (Date.now() < expiresAtMs) {
        this.armExpiry(s, expiresAtMs);
        return;
      }
      this.reject(s, new TickbusError(ErrorCode.TOKEN_EXPIRED, `the token of principal '${s.principal}' expired: reconnect with a new one`), CloseCode.POLICY);
    }, wait);
    t.unref();
    this.authTimers.set(s, t);
  }

  private clearAuthTimer(s: S): void {
    const t = this.authTimers.get(s);
    if (t) clearTimeout(t);
    this.authTimers.delete(s);
  }

  /** Sends a frame to one connection, if it is still open. */
  send(s: S, frame: Frame): void {
    if (s.open) s.ws?.send(encodeFrameView(frame), true, false);
  }

  sendError(s: S, err: TickbusError, requestId: number): void {
    if (s.open) s.ws?.send(encodeFrameView(errorFrame(err, requestId)), true, false);
  }

  /** Answers with a typed error and closes: continuing after a protocol violation is not safe. */
  reject(s: S, err: TickbusError, closeCode: CloseCode): void {
    logLine('connection rejected', { ...this.opts.logFields, conn: s.id, code: err.codeName, reason: err.message });
    this.sendError(s, err, 0);
    this.endedByBroker.add(s);
    s.ws?.end(closeCode, err.codeName);
  }

  private rejectBadFrame(s: S, err: TickbusError, closeCode: CloseCode): void {
    this.opts.onBadFrame?.(s);
    this.reject(s, err, closeCode);
  }

  /**
   * Closes every connection with `err` and `closeCode`, waits up to graceMs for their close handshakes,
   * then closes what is left. The listen socket is the endpoint's to close first.
   */
  async closeAll(err: TickbusError, closeCode: CloseCode, graceMs: number): Promise<void> {
    for (const s of this.sessions) {
      this.sendError(s, err, 0);
      this.endedByBroker.add(s);
      s.ws?.end(closeCode, err.codeName);
    }
    const deadline = monotonicMs() + graceMs;
    while (this.sessions.size > 0 && monotonicMs() < deadline) await new Promise((r) => setTimeout(r, 10));
    for (const s of [...this.sessions]) {
      this.endedByBroker.add(s);
      s.ws?.close();
    }
  }
}
