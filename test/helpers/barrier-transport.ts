// "Nothing more arrived" as a fact instead of a sleep: a transport that can put a barrier through every socket
// it opened. It sends a Ping and waits for the Pong. A broker answers a Ping in order on that socket (the real
// edge on the thread that writes the socket's deliveries; the fake broker one hop later, like any frame), so
// once every Pong is back, every frame the broker sent on a socket before it read the Ping has reached the
// SDK, and every frame the SDK sent before the Ping has reached the broker. The Pongs it asked for never reach
// the SDK. Wraps any Transport: the fake broker, the real WebSocket one, a CuttableTransport.
import type { Socket, SocketHandlers, Transport } from '../../client/internal.js';
import { decodeFrame, encodeFrame } from '../../schemas/frames.js';

interface Tracked {
  socket: Socket | null;
  /** A first message came back: the SDK's Hello went out before anything we send now. */
  answered: boolean;
  waiting: Map<number, { resolve: () => void; reject: (err: Error) => void }>;
}

// A Pong is a few dozen bytes; anything longer is passed on without decoding.
const MAX_PONG_BYTES = 64;

export class BarrierTransport implements Transport {
  private readonly live = new Set<Tracked>();
  private nonce = 0x7e57_0000;
  /** Barriers completed, for tests that check they really ran. */
  barriers = 0;

  constructor(private readonly inner: Transport) {}

  async open(url: string, handlers: SocketHandlers, timeoutMs: number): Promise<Socket> {
    const t: Tracked = { socket: null, answered: false, waiting: new Map() };
    t.socket = await this.inner.open(
      url,
      {
        onMessage: (bytes) => {
          t.answered = true;
          if (t.waiting.size > 0 && bytes.length <= MAX_PONG_BYTES) {
            let f: ReturnType<typeof decodeFrame> | null = null;
            try {
              f = decodeFrame(bytes);
            } catch {
              // not a frame we can read: the SDK's to judge
            }
            if (f?.type === 'Pong') {
              const w = t.waiting.get(f.nonce);
              if (w) {
                t.waiting.delete(f.nonce);
                w.resolve();
                return;
              }
            }
          }
          handlers.onMessage(bytes);
        },
        onClose: (code, reason) => {
          this.live.delete(t);
          for (const w of t.waiting.values()) w.reject(new Error(`${url} closed (${code}) before the barrier's Pong came back`));
          t.waiting.clear();
          handlers.onClose(code, reason);
        },
      },
      timeoutMs,
    );
    this.live.add(t);
    return t.socket;
  }

  private ping(t: Tracked, socket: Socket): Promise<void> {
    const nonce = ++this.nonce;
    const pong = new Promise<void>((resolve, reject) => t.waiting.set(nonce, { resolve, reject }));
    socket.send(encodeFrame({ type: 'Ping', nonce }));
    return pong;
  }

  /**
   * Resolves once every open socket that has had an answer returned the Pong of a Ping sent now.
   * Rejects after `ms`, or when a socket closes first (a barrier that did not pass proves nothing).
   */
  async barrier(ms = 10_000): Promise<void> {
    const pongs: Promise<void>[] = [];
    for (const t of this.live) if (t.answered && t.socket) pongs.push(this.ping(t, t.socket));
    if (pongs.length === 0) throw new Error('barrier: no open socket to put a Ping through');
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`barrier: no Pong within ${ms} ms`)), ms);
    });
    try {
      await Promise.race([Promise.all(pongs), timeout]);
      this.barriers++;
    } finally {
      clearTimeout(timer);
    }
  }
}
