// The main thread's network edge: HTTP /healthz and /metrics, and the bootstrap WebSocket where
// clients say Hello, read metadata (which owner endpoint serves which partition), administer
// topics and run consumer groups. Records never pass through here.
import type { HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { asTickbusError, ErrorCode, TickbusError } from '../../schemas/errors.js';
import { type Frame, type FrameOf, PROTOCOL_VERSION } from '../../schemas/frames.js';
import type { BrokerConfig, TlsConfig } from '../config.js';
import { CloseCode, Edge, type Session } from '../edge/session.js';
import type { Acl } from '../security/acl.js';
import { Authenticator } from '../security/authenticator.js';
import { EndpointApp } from '../tls/endpoint-app.js';

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
  /**
   * Present only with testHooks: POST /test/owners/:id/hold-restart holds that owner's next restart,
   * POST /test/owners/:id/release-restart lets it go one step and answers where it was (Supervisor.holdRestart).
   */
  ownerRestartHold?: { hold: (ownerId: number) => void; release: (ownerId: number) => string | null };
  /** The ACL in force, read per request (it changes without a restart); absent or null when auth is off. */
  acl?: () => Acl | null;
}

const GROUP_FRAMES = new Set<Frame['type']>(['JoinGroup', 'Heartbeat', 'AssignmentAck', 'LeaveGroup', 'CommitOffsets', 'FetchOffsets']);

export class BootstrapServer {
  /** One app, or more after a TLS reload (endpoint-app.ts). */
  private readonly endpoint: EndpointApp;
  private readonly edge: Edge<BootstrapConn>;
  /** Verifies Hello tokens (and /metrics bearer tokens); null when auth is off. */
  private readonly authenticator: Authenticator | null;
  /** The open connections by id: the group coordinator answers by connection id. */
  private readonly conns = new Map<number, BootstrapConn>();
  port = 0;

  constructor(
    private readonly config: BrokerConfig,
    private readonly handlers: BootstrapHandlers,
  ) {
    this.authenticator = config.auth ? new Authenticator(config.auth) : null;
    this.endpoint = new EndpointApp(config.tls, (app) => {
      this.installHttp(app);
      this.edge.attach(app);
      this.installFallback(app);
    });
    const app = this.endpoint.current;
    this.installHttp(app);
    this.edge = new Edge<BootstrapConn>(app, {
      limits: config,
      connectionLimits: config.limits,
      authenticator: this.authenticator,
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
    this.installFallback(app);
  }

  /** 'wss' with TLS: the scheme of this broker's endpoints in metadata. */
  get scheme(): 'ws' | 'wss' {
    return this.endpoint.scheme;
  }

  private installHttp(app: TemplatedApp): void {
    const handlers = this.handlers;
    app.get('/healthz', (res) => {
      const h = this.handlers.health();
      res.writeStatus(h.ok ? '200 OK' : '503 Service Unavailable').writeHeader('content-type', 'application/json').end(JSON.stringify(h.body));
    });
    app.get('/metrics', (res, req) => {
      let aborted = false;
      res.onAborted(() => {
        aborted = true;
      });
      // auth.metrics 'token': any authenticated principal may read metrics (they name topics and client ids).
      const auth = this.config.auth?.metrics === 'token' ? this.authenticator : null;
      const bearer = /^Bearer (.+)$/i.exec(req.getHeader('authorization'))?.[1];
      (auth ? auth.authenticate(bearer).then(() => this.handlers.metrics()) : this.handlers.metrics()).then(
        (m) => {
          if (!aborted) res.cork(() => res.writeHeader('content-type', m.contentType).end(m.body));
        },
        (err: unknown) => {
          const refused = err instanceof TickbusError && err.code >= 600 && err.code < 700;
          if (!aborted) res.cork(() => res.writeStatus(refused ? '401 Unauthorized' : '500 Internal Server Error').end(refused ? `${err.codeName}: ${err.message}\n` : String(err)));
        },
      );
    });
    const inject = handlers.injectOwnerFault;
    if (inject) {
      app.post('/test/owners/:id/fault', (res, req) => {
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
    const restartHold = handlers.ownerRestartHold;
    if (restartHold) {
      const answer = (res: HttpResponse, fn: () => string): void => {
        try {
          res.end(`${fn()}\n`);
        } catch (err) {
          res.writeStatus('500 Internal Server Error').end(String(err));
        }
      };
      app.post('/test/owners/:id/hold-restart', (res, req) => {
        answer(res, () => {
          restartHold.hold(Number(req.getParameter(0)));
          return 'held';
        });
      });
      app.post('/test/owners/:id/release-restart', (res, req) => {
        answer(res, () => restartHold.release(Number(req.getParameter(0))) ?? 'none');
      });
    }
  }

  private installFallback(app: TemplatedApp): void {
    app.any('/*', (res: HttpResponse) => {
      res.writeStatus('404 Not Found').end('tickbus: GET /healthz, GET /metrics, or a WebSocket\n');
    });
  }

  /** SIGHUP: new connections get the certificate now in the files; open ones keep theirs. */
  reloadTls(tls: TlsConfig): Promise<void> {
    return this.endpoint.reload(tls);
  }

  async listen(host: string, port: number): Promise<number> {
    const ls = await this.endpoint.listen(host, port);
    if (!ls) throw new TickbusError(ErrorCode.INTERNAL, `cannot listen on ${host}:${port}: is another broker running there?`);
    this.port = this.endpoint.port;
    return this.port;
  }

  /** Sends a frame to one bootstrap connection, if it is still open. */
  send(connId: number, frame: Frame): void {
    const conn = this.conns.get(connId);
    if (conn) this.edge.send(conn, frame);
  }

  /** The bootstrap's requests (after the edge has checked the frame and the Hello). */
  private dispatch(conn: BootstrapConn, frame: Frame): void {
    const acl = this.handlers.acl?.() ?? null;
    if (acl) authorizeBootstrap(acl, conn.principal, frame);
    switch (frame.type) {
      case 'Metadata':
      case 'CreateTopic':
      case 'DescribeTopic':
      case 'DeleteTopic': {
        const requestId = frame.requestId;
        const listAll = frame.type === 'Metadata' && frame.topics.length === 0;
        this.handlers.admin(frame).then(
          (answer) => {
            // Metadata of every topic lists only those the caller may see (Kafka's rule): names are information too.
            const a = acl && listAll && answer.type === 'MetadataResult' ? { ...answer, topics: answer.topics.filter((t) => mayDescribe(acl, conn.principal, t.name)) } : answer;
            this.edge.send(conn, a);
          },
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
    this.authenticator?.close();
    this.endpoint.stopListening();
    await this.edge.closeAll(err, CloseCode.GOING_AWAY, graceMs);
    // Sockets no handler tracks (HTTP in progress), and the apps retired by TLS reloads.
    this.endpoint.closeAll();
  }
}

/** A topic is visible (metadata, describe) to whoever may produce to it, consume it or describe it. */
function mayDescribe(acl: Acl, principal: string, topic: string): boolean {
  return acl.allows(principal, 'admin-describe', topic) || acl.allows(principal, 'consume', topic) || acl.allows(principal, 'produce', topic);
}

/**
 * Throws NOT_AUTHORIZED when the ACL does not allow a bootstrap request. Checked before the topic is
 * looked up, so a refusal says nothing about whether the topic exists.
 */
function authorizeBootstrap(acl: Acl, principal: string, frame: Frame): void {
  const seeOrRefuse = (topic: string): void => {
    if (!mayDescribe(acl, principal, topic)) acl.require(principal, 'admin-describe', topic);
  };
  switch (frame.type) {
    case 'Metadata':
      for (const t of frame.topics) seeOrRefuse(t);
      return;
    case 'DescribeTopic':
      return seeOrRefuse(frame.name);
    case 'CreateTopic':
      return acl.require(principal, 'admin-create', frame.name);
    case 'DeleteTopic':
      return acl.require(principal, 'admin-delete', frame.name);
    case 'JoinGroup':
    case 'CommitOffsets':
    case 'FetchOffsets':
      // A group reads its topic: joining needs both rights, so a group cannot be a way around consume.
      acl.require(principal, 'group-join', frame.group);
      return acl.require(principal, 'consume', frame.topic);
    case 'Heartbeat':
    case 'AssignmentAck':
    case 'LeaveGroup':
      return acl.require(principal, 'group-join', frame.group);
    default:
      return;
  }
}
