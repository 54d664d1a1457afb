// The main thread's network edge: HTTP /healthz and /metrics, and the bootstrap WebSocket where
// clients say Hello, read metadata (which owner endpoint serves which partition), administer
// topics and run consumer groups. Records never pass through here.
import type { HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { asTickbusError, ErrorCode, TickbusError } from '../../schemas/errors.js';
import { type Frame, type FrameOf, PROTOCOL_VERSION } from '../../schemas/frames.js';
import type { BrokerConfig } from '../config.js';
import { CloseCode, Edge, type Session } from '../edge/session.js';
import { listenExclusive, uws } from '../uws.js';

export type BootstrapConn = Session;

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

export class BootstrapServer {
  private readonly app: TemplatedApp;
  private listenSocket: us_listen_socket | null = null;
  private readonly edge: Edge<BootstrapConn>;
  /** The open connections by id: the group coordinator answers by connection id. */
  private readonly conns = new Map<number, BootstrapConn>();
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
    this.edge = new Edge<BootstrapConn>(this.app, {
      limits: config,
      logFields: { endpoint: 'bootstrap' },
      helloOk: { type: 'HelloOk', protocolVersion: PROTOCOL_VERSION, brokerId: config.brokerId, ownerId: -1 },
      newSession: (base) => base,
      dispatch: (conn, frame) => this.dispatch(conn, frame),
      onOpen: (conn) => this.conns.set(conn.id, conn),
      onClose: (conn) => {
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
    if (conn) this.edge.send(conn, frame);
  }

  /** The bootstrap's requests (after the edge has checked the frame and the Hello). */
  private dispatch(conn: BootstrapConn, frame: Frame): void {
    switch (frame.type) {
      case 'Metadata':
      case 'CreateTopic':
      case 'DescribeTopic':
      case 'DeleteTopic': {
        const requestId = frame.requestId;
        this.handlers.admin(frame).then(
          (answer) => this.edge.send(conn, answer),
          (err: unknown) => this.edge.sendError(conn, asTickbusError(err), requestId),
        );
        return;
      }
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
  }

  /** Stops accepting, closes every connection with `err`, waits up to graceMs for them to go. */
  async close(err: TickbusError, graceMs = 500): Promise<void> {
    if (this.listenSocket) {
      uws.us_listen_socket_close(this.listenSocket);
      this.listenSocket = null;
    }
    await this.edge.closeAll(err, CloseCode.GOING_AWAY, graceMs);
  }
}
