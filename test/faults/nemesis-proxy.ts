// A TCP proxy the fault harness puts between two parts of the cluster (a broker and etcd, one owner and
// another) so it can break the network between them: cut it, delay it, or drop from it. This kernel has no
// `tc netem`, so the harness makes its network faults here, in user space, on 127.0.0.1.
//
// Each direction of each connection is a queue of chunks with a due time. Memory is bounded: past
// `maxBufferedBytes` queued in one direction the proxy stops reading that side, so TCP backpressure reaches the
// sender (as a slow link would) instead of the proxy buffering without end.
import * as net from 'node:net';

export type CutMode =
  /** Reset every connection and every new one: what a crashed peer or a firewall REJECT looks like. */
  | 'reset'
  /**
   * Keep connections open but move no bytes either way, and hold new ones unanswered: what a partition (a
   * firewall DROP) looks like. Nothing is lost, as TCP loses nothing: on heal the held bytes flow on.
   */
  | 'blackhole';

export type DropMode =
  /** A dropped chunk resets its connection: a byte stream cannot lose bytes and go on, so the link dies. */
  | 'reset'
  /** The chunk silently vanishes and the stream goes on: a corrupting middlebox; the frame checks must catch it. */
  | 'discard';

export interface NemesisProxyOptions {
  targetHost?: string;
  targetPort: number;
  /** Queued bytes per direction of one connection before the proxy stops reading from the sender. */
  maxBufferedBytes?: number;
  /** Connections held open (not forwarded) while blackholed; more are reset. */
  maxHeldConnections?: number;
  /** For drop(); a seeded one makes a run replayable. */
  random?: () => number;
}

export interface ProxyStats {
  accepted: number;
  /** Connections the proxy dialled to the target (held ones are not, until heal). */
  dialled: number;
  refused: number;
  open: number;
  bytesReceived: number;
  bytesForwarded: number;
  chunksDropped: number;
  resets: number;
}

interface Queued {
  chunk: Buffer;
  due: number;
}

/** One direction of one connection: reads `from`, writes `to`, in order, after the proxy's delay. */
class Flow {
  private readonly queue: Queued[] = [];
  private head = 0;
  private queued = 0;
  private timer: NodeJS.Timeout | null = null;
  private waitingDrain = false;
  private ended = false;
  /** The sender's FIN was passed on after everything queued before it. */
  forwardedEnd = false;

  constructor(
    private readonly proxy: NemesisProxy,
    private readonly link: Link,
    private readonly from: net.Socket,
    private readonly to: net.Socket,
  ) {
    from.on('data', (chunk: Buffer) => this.onData(chunk));
    from.on('end', () => {
      this.ended = true;
      this.pump();
    });
  }

  /** Bytes this flow holds: its queue plus what the receiving socket has not yet flushed. */
  get buffered(): number {
    return this.queued + this.to.writableLength;
  }

  get senderPaused(): boolean {
    return this.from.isPaused();
  }

  private onData(chunk: Buffer): void {
    const p = this.proxy;
    p.stats.bytesReceived += chunk.length;
    if (p.dropProbability > 0 && p.random() < p.dropProbability) {
      p.stats.chunksDropped++;
      if (p.dropMode === 'reset') this.link.reset();
      return;
    }
    this.queue.push({ chunk, due: Date.now() + p.delayMs });
    this.queued += chunk.length;
    if (this.queued >= p.maxBufferedBytes) this.from.pause();
    this.pump();
  }

  /** Writes what is due, unless blackholed or the reader is full; resumes the sender when the queue has room. */
  pump(): void {
    if (this.link.closed) return;
    // Blackholed: keep taking bytes (up to the bound) as a network takes packets into the void, but deliver none.
    if (this.proxy.blackholed) return;
    const now = Date.now();
    while (this.head < this.queue.length && !this.waitingDrain) {
      const q = this.queue[this.head]!;
      if (q.due > now) {
        this.arm(q.due - now);
        break;
      }
      this.queue[this.head++] = undefined as unknown as Queued;
      this.queued -= q.chunk.length;
      this.proxy.stats.bytesForwarded += q.chunk.length;
      if (!this.to.write(q.chunk)) {
        this.waitingDrain = true;
        this.to.once('drain', () => {
          this.waitingDrain = false;
          this.pump();
        });
      }
    }
    // Compact the consumed prefix rather than shift() chunk by chunk.
    if (this.head > 1024 || this.head === this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    if (this.queued < this.proxy.maxBufferedBytes && !this.waitingDrain) this.from.resume();
    if (this.ended && this.queue.length === 0 && !this.forwardedEnd) {
      this.forwardedEnd = true;
      this.to.end();
      this.link.flowEnded();
    }
  }

  private arm(ms: number): void {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.pump();
    }, ms);
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.queue.length = 0;
    this.head = 0;
    this.queued = 0;
  }
}

/** One accepted connection and its upstream, or a held one waiting for heal(). */
class Link {
  closed = false;
  private upstream: net.Socket | null = null;
  private flows: Flow[] = [];

  constructor(
    private readonly proxy: NemesisProxy,
    readonly client: net.Socket,
  ) {
    client.on('error', () => this.close());
    // The client can take no more bytes once closed: nothing left to deliver.
    client.on('close', () => this.close());
  }

  /** Both directions have passed their FIN on: the conversation is over. */
  flowEnded(): void {
    if (this.flows.every((f) => f.forwardedEnd)) this.close();
  }

  /** Dials the target and starts both flows. */
  connect(): void {
    if (this.closed || this.upstream !== null) return;
    const up = net.connect({ host: this.proxy.targetHost, port: this.proxy.targetPort, allowHalfOpen: true });
    this.upstream = up;
    this.proxy.stats.dialled++;
    up.setNoDelay(true);
    this.client.setNoDelay(true);
    up.on('error', () => this.close());
    // A clean close of the upstream still leaves its queued bytes (under delay) to deliver: the flow towards
    // the client closes the link once its FIN has gone out.
    up.on('close', (hadError) => {
      if (hadError || this.flows[1]?.forwardedEnd !== false) this.close();
    });
    this.flows = [new Flow(this.proxy, this, this.client, up), new Flow(this.proxy, this, up, this.client)];
    this.client.resume();
  }

  get held(): boolean {
    return this.upstream === null;
  }

  pump(): void {
    for (const f of this.flows) f.pump();
  }

  get buffered(): number {
    let n = 0;
    for (const f of this.flows) n += f.buffered;
    return n;
  }

  get pausedSenders(): number {
    return this.flows.filter((f) => f.senderPaused).length;
  }

  /** RST both sides. */
  reset(): void {
    if (this.closed) return;
    this.proxy.stats.resets++;
    if (!this.client.destroyed) this.client.resetAndDestroy();
    if (this.upstream !== null && !this.upstream.destroyed) this.upstream.resetAndDestroy();
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const f of this.flows) f.stop();
    this.client.destroy();
    this.upstream?.destroy();
    this.proxy.forget(this);
  }
}

export class NemesisProxy {
  readonly targetHost: string;
  readonly targetPort: number;
  readonly maxBufferedBytes: number;
  readonly maxHeldConnections: number;
  readonly random: () => number;
  readonly stats: ProxyStats = { accepted: 0, dialled: 0, refused: 0, open: 0, bytesReceived: 0, bytesForwarded: 0, chunksDropped: 0, resets: 0 };
  delayMs = 0;
  dropProbability = 0;
  dropMode: DropMode = 'reset';
  private cutMode: CutMode | null = null;
  private readonly links = new Set<Link>();
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly server: net.Server,
    opts: NemesisProxyOptions,
  ) {
    this.targetHost = opts.targetHost ?? '127.0.0.1';
    this.targetPort = opts.targetPort;
    this.maxBufferedBytes = opts.maxBufferedBytes ?? 1024 * 1024;
    this.maxHeldConnections = opts.maxHeldConnections ?? 256;
    this.random = opts.random ?? Math.random;
  }

  /** Listens on 127.0.0.1, port 0, forwarding to the target. */
  static async start(opts: NemesisProxyOptions): Promise<NemesisProxy> {
    if (!Number.isInteger(opts.targetPort) || opts.targetPort < 1 || opts.targetPort > 65535) throw new RangeError(`targetPort must be 1..65535, got ${opts.targetPort}`);
    if (opts.maxBufferedBytes !== undefined && !(Number.isInteger(opts.maxBufferedBytes) && opts.maxBufferedBytes >= 1)) {
      throw new RangeError(`maxBufferedBytes must be a positive integer, got ${opts.maxBufferedBytes}`);
    }
    if (opts.maxHeldConnections !== undefined && !(Number.isInteger(opts.maxHeldConnections) && opts.maxHeldConnections >= 0)) {
      throw new RangeError(`maxHeldConnections must be an integer >= 0, got ${opts.maxHeldConnections}`);
    }
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
    const proxy = new NemesisProxy(server, opts);
    server.on('connection', (s) => proxy.onConnection(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return proxy;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** host:port to hand to whoever should go through the proxy. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get blackholed(): boolean {
    return this.cutMode === 'blackhole';
  }

  get mode(): 'open' | CutMode {
    return this.cutMode ?? 'open';
  }

  private onConnection(socket: net.Socket): void {
    if (this.closing !== null || this.cutMode === 'reset' || (this.cutMode === 'blackhole' && this.heldCount() >= this.maxHeldConnections)) {
      this.stats.refused++;
      socket.on('error', () => undefined);
      socket.resetAndDestroy();
      return;
    }
    this.stats.accepted++;
    const link = new Link(this, socket);
    this.links.add(link);
    this.stats.open = this.links.size;
    // Held (not dialled, not read) until heal(): the client sees a connection that never answers.
    if (this.cutMode !== 'blackhole') link.connect();
  }

  private heldCount(): number {
    let n = 0;
    for (const l of this.links) if (l.held) n++;
    return n;
  }

  /** Bytes held in the proxy across every connection (queues and unflushed socket writes). */
  bufferedBytes(): number {
    let n = 0;
    for (const l of this.links) n += l.buffered;
    return n;
  }

  /** Flows whose sender the proxy stopped reading because its queue is full. */
  pausedSenders(): number {
    let n = 0;
    for (const l of this.links) n += l.pausedSenders;
    return n;
  }

  /** Called by a link when it closes. */
  forget(link: Link): void {
    this.links.delete(link);
    this.stats.open = this.links.size;
  }

  /** Breaks the link: 'reset' closes every connection and refuses new ones; 'blackhole' freezes them. */
  cut(mode: CutMode = 'reset'): void {
    // Callers may be untyped (the soak CLI parses modes from its arguments).
    if (!(['reset', 'blackhole'] as unknown[]).includes(mode)) throw new TypeError(`cut mode must be 'reset' or 'blackhole', got ${JSON.stringify(mode)}`);
    this.cutMode = mode;
    if (mode === 'reset') for (const l of [...this.links]) l.reset();
    else for (const l of this.links) l.pump();
  }

  /** Restores forwarding: held connections are dialled, frozen ones flow again. */
  heal(): void {
    this.cutMode = null;
    for (const l of [...this.links]) {
      if (l.held) l.connect();
      else l.pump();
    }
  }

  /** Delivers every chunk `ms` after it arrived (order kept); 0 turns it off. */
  delay(ms: number): void {
    if (!(Number.isFinite(ms) && ms >= 0 && ms <= 600_000)) throw new RangeError(`delay must be 0..600000 ms, got ${ms}`);
    this.delayMs = ms;
  }

  /** Drops each chunk with this probability; 0 turns it off. */
  drop(probability: number, mode: DropMode = 'reset'): void {
    if (!(probability >= 0 && probability <= 1)) throw new RangeError(`drop probability must be in [0, 1], got ${probability}`);
    if (!(['reset', 'discard'] as unknown[]).includes(mode)) throw new TypeError(`drop mode must be 'reset' or 'discard', got ${JSON.stringify(mode)}`);
    this.dropProbability = probability;
    this.dropMode = mode;
  }

  /** Stops listening and destroys every connection. */
  async close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      for (const l of [...this.links]) l.close();
      this.server.close(() => resolve());
    });
    return this.closing;
  }
}
