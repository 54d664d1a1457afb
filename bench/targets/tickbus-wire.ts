// A minimal raw-protocol connection to a tickbus endpoint for the bench: Hello, request/answer by request id,
// and a hook for every other frame. The SDK adds recovery, batching and flow control the bench must not
// measure; this is the lowest-overhead honest path (one Produce frame per message, one Deliver per batch).
import { decodeFrame, encodeFrameView, type Frame, PROTOCOL_VERSION } from '../../schemas/frames.js';
import { TargetError, withTimeout } from '../errors.js';
import { RawWebSocket } from './raw-websocket.js';

export interface WireSecurity {
  /** PEM CA to trust for wss://. */
  ca?: string;
  /** Credential sent in Hello. */
  token?: string;
}

export class WireConnection {
  private nextRequestId = 0x4000_0000; // above any seq-derived id the publisher uses
  private readonly pending = new Map<number, { resolve: (f: Frame) => void; reject: (e: Error) => void }>();
  /** Frames that answer no pending request (Deliver, ProduceAck of publishes, ErrorReply). */
  onFrame: (f: Frame) => void = () => undefined;
  onClose: (reason: string) => void = () => undefined;

  private ws!: RawWebSocket;

  private constructor() {
    // open() builds a connection: it must complete the handshake and Hello first.
  }

  /** `security`: the CA of a wss:// broker, the token for one with authentication (the tickbus-tls/-auth targets). */
  static async open(url: string, clientId: string, security: WireSecurity = {}): Promise<WireConnection> {
    const conn = new WireConnection();
    conn.ws = await RawWebSocket.open(
      url,
      { onMessage: (data) => conn.receive(data), onClose: (reason) => conn.closed(reason) },
      security.ca === undefined ? {} : { ca: security.ca },
    );
    const hello = { type: 'Hello', protocolVersion: PROTOCOL_VERSION, clientId, ...(security.token === undefined ? {} : { token: security.token }) } as const;
    const ok = await conn.request(hello, 'HelloOk');
    if (ok.type !== 'HelloOk') throw new TargetError(`tickbus ${url}: unexpected answer to Hello: ${ok.type}`);
    return conn;
  }

  private receive(data: Uint8Array): void {
    const f = decodeFrame(data);
    const id = 'requestId' in f ? f.requestId : 0;
    const p = id !== 0 ? this.pending.get(id) : undefined;
    // Hello has no request id: its answer (HelloOk, or an ErrorReply with id 0) goes to the Hello waiter.
    const hello = this.pending.get(-1);
    if (p) {
      this.pending.delete(id);
      if (f.type === 'ErrorReply') p.reject(new TargetError(`tickbus: ${f.message} (code ${f.code})`));
      else p.resolve(f);
    } else if (hello && (f.type === 'HelloOk' || (f.type === 'ErrorReply' && f.requestId === 0))) {
      this.pending.delete(-1);
      if (f.type === 'ErrorReply') hello.reject(new TargetError(`tickbus: ${f.message} (code ${f.code})`));
      else hello.resolve(f);
    } else {
      this.onFrame(f);
    }
  }

  private closed(reason: string): void {
    for (const p of this.pending.values()) p.reject(new TargetError(`tickbus: connection ${reason} while waiting for an answer`));
    this.pending.clear();
    this.onClose(reason);
  }

  /** Sends a request and waits (10 s at most) for the frame answering it. */
  request(f: Frame, expect: Frame['type']): Promise<Frame> {
    const id = f.type === 'Hello' ? -1 : ++this.nextRequestId;
    const frame = 'requestId' in f ? ({ ...f, requestId: id } as Frame) : f;
    const answer = new Promise<Frame>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.send(frame);
    return withTimeout(answer, 10_000, `tickbus ${f.type} → ${expect}`).finally(() => this.pending.delete(id));
  }

  /** Encodes into the shared builder and sends; the bytes are copied while masking, before this returns. */
  send(f: Frame): void {
    this.ws.send(encodeFrameView(f));
  }

  /** Bytes sent but not yet written to the socket. */
  backlogBytes(): number {
    return this.ws.bufferedAmount;
  }

  close(): Promise<void> {
    return this.ws.close();
  }
}
