// A client transport whose sockets a test can cut, like a network that drops connections mid-stream.
import { type Socket, type SocketHandlers, type Transport, webSocketTransport } from '../../client/internal.js';

export class CuttableTransport implements Transport {
  private readonly live = new Set<Socket>();
  /** How many times cut() was called. */
  cuts = 0;

  /** Only sockets opened to `onlyUrl` can be cut; every socket when it is omitted. */
  constructor(private readonly onlyUrl?: string) {}

  async open(url: string, handlers: SocketHandlers, timeoutMs: number): Promise<Socket> {
    let s: Socket | null = null;
    const sock = await webSocketTransport.open(
      url,
      {
        onMessage: (bytes) => handlers.onMessage(bytes),
        onClose: (code, reason) => {
          if (s) this.live.delete(s);
          handlers.onClose(code, reason);
        },
      },
      timeoutMs,
    );
    s = sock;
    if (this.onlyUrl === undefined || url === this.onlyUrl) this.live.add(sock);
    return sock;
  }

  /** Closes every open socket it may cut; returns how many. */
  cut(): number {
    this.cuts++;
    const n = this.live.size;
    for (const s of [...this.live]) s.close(4000, 'cut by the test');
    return n;
  }
}
