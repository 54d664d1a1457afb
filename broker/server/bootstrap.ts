// The main thread's network edge: HTTP /healthz and /metrics, and the bootstrap WebSocket where
// clients say Hello, read metadata (which owner endpoint serves which partition), administer
// topics and run consumer groups. Records never pass through here.
import type { HttpResponse, TemplatedApp, us_listen_socket, WebSocket } from 'uWebSockets.js';
import { asTickbusError, ErrorCode, TickbusError } from '../../schemas/errors.js';
import { decodeFrame, encodeFrameView, errorFrame, type Frame, type FrameOf, PROTOCOL_VERSION } from '../../schemas/frames.js';
import type { BrokerConfig } from '../config.js';
import { logLine } from '../logger.js';
import { listenExclusive, uws } from '../uws.js';

export interface BootstrapConn {
  id: number;
  hello: boolean;
  open: boolean;
  ws: WebSocket<BootstrapConn> | null;
}

/** What the bootstrap endpoint asks of the rest of the broker. */
export interface BootstrapHandlers {
  /** Answers an admin or metadata request (MetadataResult) or throws a TickbusError. */
  admin(frame: FrameOf<'Metadata' | 'CreateTopic' | 'DescribeTopic' | 'DeleteTopic'>): Promise<Frame>;
  /** Consumer-group frames go to the coordinator, which answers through send(). */
  group(connId: number, frame: Frame): void;
  connectionClosed(connId: number): void;
  health(): { ok: boolean; body: unknown };
  metrics(): Promise<{ contentType: string; body: string }>;
  /** Present only with testHooks: POST /test/owners/:id/fault makes that owner throw. */
  injectOwnerFault?: (ownerId: number) => Promise<void>;
}

const GROUP_FRAMES = new Set<Frame['type']>(['JoinGroup', 'Heartbeat', 'AssignmentAck', 'LeaveGroup', 'CommitOffsets', 'FetchOffsets']);
const CLOSE_POLICY = 1008;
const CLOSE_TOO_BIG = 1009;

export class BootstrapServer {
  private readonly app: TemplatedApp;
  private listenSocket: us_listen_socket | null = null;
  private readonly conns = new Map<number, BootstrapConn>();
  private nextConnId = 1;
  port = 0;

  constructor(
    private readonly config: BrokerConfig,
    private readonly handlers: BootstrapHandlers,
  ) {
    this.app = uws.App();
    this.app.get('/healthz', (res) => {
      const h = this.handlers.health();
      res.writeStatus(h.ok ? '200 OK' : '503 Service Unavailable').writeHeader('content-type', 'application/json').end(JSON.stringify(h.body));
    });
    this.app.get('/metrics', (res) => {
      let aborted = false;
      res.onAborted(() => {
        aborted = true;
      });
      this.handlers.metrics().then(
        (m) => {
          if (!aborted) res.cork(() => res.writeHeader('content-type', m.contentType).end(m.body));
        },
        (err: unknown) => {
          if (!aborted) res.cork(() => res.writeStatus('500 Internal Server Error').end(String(err)));
        },
      );
    });
    const inject = handlers.injectOwnerFault;
    if (inject) {
      this.app.post('/test/owners/:id/fault', (res, req) => {
        let aborted = false;
        res.onAborted(() => {
          aborted = true;
        });
        inject(Number(req.getParameter(0))).then(
          () => !aborted && res.cork(() => res.end('ok\n')),
          (err: unknown) => !aborted && res.cork(() => res.writeStatus('500 Internal Server Error').end(String(err))),
        );
      });
    }
    this.app.ws<BootstrapConn>('/*', {
      maxPayloadLength: config.maxPayloadLength * 2,
      maxBackpressure: config.maxBackpressure,
      idleTimeout: config.idleTimeoutSec,
      sendPingsAutomatically: true,
      upgrade: (res, req, context) => {
        const conn: BootstrapConn = { id: this.nextConnId++, hello: false, open: true, ws: null };
        res.upgrade(conn, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
      },
      open: (ws) => {
        const conn = ws.getUserData();
        conn.ws = ws;
        this.conns.set(conn.id, conn);
      },
      message: (ws, message, isBinary) => this.onMessage(ws.getUserData(), message, isBinary),
      close: (ws) => {
        const conn = ws.getUserData();
        conn.open = false;
        conn.ws = null;
        this.conns.delete(conn.id);
        this.handlers.connectionClosed(conn.id);
      },
    });
    this.app.any('/*', (res: HttpResponse) => {
      res.writeStatus('404 Not Found').end('tickbus: GET /healthz, GET /metrics, or a WebSocket\n');
    });
  }

  async listen(host: string, port: number): Promise<number> {
    const ls = await listenExclusive(this.app, host, port);
    if (!ls) throw new TickbusError(ErrorCode.INTERNAL, `cannot listen on ${host}:${port}: is another broker running there?`);
    this.listenSocket = ls;
    this.port = uws.us_socket_local_port(ls);
    return this.port;
  }

  /** Sends a frame to one bootstrap connection, if it is still open. */
  send(connId: number, frame: Frame): void {
    const conn = this.conns.get(connId);
    if (conn?.open) conn.ws?.send(encodeFrameView(frame), true, false);
  }

  private onMessage(conn: BootstrapConn, message: ArrayBuffer, isBinary: boolean): void {
    if (!isBinary) return this.reject(conn, new TickbusError(ErrorCode.MALFORMED_FRAME, 'text messages are not part of the protocol: send binary FlatBuffers frames'), CLOSE_POLICY);
    if (message.byteLength > this.config.maxPayloadLength) {
      return this.reject(
        conn,
        new TickbusError(ErrorCode.FRAME_TOO_LARGE, `frame of ${message.byteLength} bytes exceeds maxPayloadLength ${this.config.maxPayloadLength}`),
        CLOSE_TOO_BIG,
      );
    }
    let frame: Frame;
    try {
      frame = decodeFrame(new Uint8Array(message));
    } catch (err) {
      return this.reject(conn, asTickbusError(err, ErrorCode.MALFORMED_FRAME), CLOSE_POLICY);
    }
    if (!conn.hello) {
      if (frame.type !== 'Hello') return this.reject(conn, new TickbusError(ErrorCode.HELLO_REQUIRED, `the first frame must be Hello, got ${frame.type}`), CLOSE_POLICY);
      if (frame.protocolVersion !== PROTOCOL_VERSION) {
        return this.reject(
          conn,
          new TickbusError(ErrorCode.UNSUPPORTED_PROTOCOL_VERSION, `protocol version ${frame.protocolVersion} is not supported; this broker speaks ${PROTOCOL_VERSION}`),
          CLOSE_POLICY,
        );
      }
      conn.hello = true;
      this.send(conn.id, { type: 'HelloOk', protocolVersion: PROTOCOL_VERSION, brokerId: this.config.brokerId, ownerId: -1 });
      return;
    }
    const requestId = 'requestId' in frame ? frame.requestId : 0;
    try {
      switch (frame.type) {
        case 'Metadata':
        case 'CreateTopic':
        case 'DescribeTopic':
        case 'DeleteTopic':
          this.handlers.admin(frame).then(
            (answer) => this.send(conn.id, answer),
            (err: unknown) => this.sendError(conn, asTickbusError(err), requestId),
          );
          return;
        case 'Ping':
          this.send(conn.id, { type: 'Pong', nonce: frame.nonce });
          return;
        default:
          if (GROUP_FRAMES.has(frame.type)) {
            this.handlers.group(conn.id, frame);
            return;
          }
          throw new TickbusError(
            frame.type === 'Produce' || frame.type === 'Subscribe' || frame.type === 'Fetch' ? ErrorCode.NOT_OWNER : ErrorCode.INVALID_REQUEST,
            `${frame.type} is not served by the bootstrap endpoint: send it to the partition's owner endpoint from metadata`,
          );
      }
    } catch (err) {
      this.sendError(conn, asTickbusError(err), requestId);
    }
  }

  private sendError(conn: BootstrapConn, err: TickbusError, requestId: number): void {
    if (conn.open) conn.ws?.send(encodeFrameView(errorFrame(err, requestId)), true, false);
  }

  private reject(conn: BootstrapConn, err: TickbusError, closeCode: number): void {
    logLine('connection rejected', { endpoint: 'bootstrap', conn: conn.id, code: err.codeName, reason: err.message });
    this.sendError(conn, err, 0);
    conn.ws?.end(closeCode, err.codeName);
  }

  /** Stops accepting, closes every connection with `err`, waits up to graceMs for them to go. */
  async close(err: TickbusError, graceMs = 500): Promise<void> {
    if (this.listenSocket) {
      uws.us_listen_socket_close(this.listenSocket);
      this.listenSocket = null;
    }
    for (const conn of this.conns.values()) {
      this.sendError(conn, err, 0);
      conn.ws?.end(1001, err.codeName);
    }
    const deadline = Date.now() + graceMs;
    while (this.conns.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    for (const conn of [...this.conns.values()]) conn.ws?.close();
  }
}
