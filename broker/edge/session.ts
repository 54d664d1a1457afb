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
import { logLine } from '../logger.js';

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
  /** A connection was closed for a bad frame (for counters). */
  onBadFrame?(session: S): void;
  onOpen?(session: S): void;
  onDrain?(session: S): void;
  onClose?(session: S): void;
}

export class Edge<S extends Session> {
  /** Open connections. */
  readonly sessions = new Set<S>();
  private nextId = 1;

  constructor(
    app: TemplatedApp,
    private readonly opts: EdgeOptions<S>,
  ) {
    const { limits } = opts;
    app.ws<S>('/*', {
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
      },
      message: (ws, message, isBinary) => this.onMessage(ws.getUserData(), message, isBinary),
      drain: (ws) => opts.onDrain?.(ws.getUserData()),
      close: (ws) => {
        const s = ws.getUserData();
        s.open = false;
        this.sessions.delete(s);
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
    if (frame.type !== 'Hello') {
      this.rejectBadFrame(s, new TickbusError(ErrorCode.HELLO_REQUIRED, `the first frame must be Hello, got ${frame.type}`), CloseCode.POLICY);
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
    s.hello = true;
    s.clientId = frame.clientId;
    s.ws?.send(encodeFrameView(this.opts.helloOk), true, false);
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
      s.ws?.end(closeCode, err.codeName);
    }
    const deadline = monotonicMs() + graceMs;
    while (this.sessions.size > 0 && monotonicMs() < deadline) await new Promise((r) => setTimeout(r, 10));
    for (const s of [...this.sessions]) s.ws?.close();
  }
}
