// The bench's own WebSocket client (RFC 6455) over a plain TCP or TLS socket, for the targets that speak
// WebSocket (tickbus's wire protocol, the uws-relay control).
//
// Why not `ws`: its receiver is a Writable stream that pays for events, buffer lists and per-message
// bookkeeping; one thread receiving with it topped out near 150-200k deliveries/s (5-7 µs a message). This
// parser takes each socket read as it comes and hands every whole frame in it to the target, a view and no
// copy. nats.js and ioredis, the clients of the other targets, read their protocols off a raw socket in the
// same way: this puts the WebSocket targets on the same footing. The SDK target keeps `ws` (it measures the SDK).
//
// Scope: a client for servers we start. Frames from the server must be unmasked; fragmented messages are
// reassembled; pings are answered; a close frame is answered and ends the socket. No extensions (no
// compression is offered), no subprotocols.
import crypto from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { TargetError } from '../errors.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const MAX_PAYLOAD = 64 * 1024 * 1024;
const OP_CONT = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

export interface RawWebSocketHandlers {
  /** One message; `data` is valid only during the call. */
  onMessage(data: Uint8Array, binary: boolean): void;
  /** The connection ended (after a close handshake, a reset or a protocol error). Called once. */
  onClose?(reason: string): void;
}

export interface RawWebSocketOptions {
  timeoutMs?: number;
  /** PEM CA to trust for wss://. */
  ca?: string;
}

export class RawWebSocket {
  private pending: Buffer | null = null;
  private fragments: Buffer[] = [];
  private fragmentOpcode = 0;
  private fragmentBytes = 0;
  private closed = false;
  private reported = false;
  private readonly ended: Promise<void>;
  private markEnded!: () => void;

  private constructor(
    private readonly socket: net.Socket,
    private readonly handlers: RawWebSocketHandlers,
  ) {
    this.ended = new Promise((resolve) => (this.markEnded = resolve));
  }

  /**
   * Connects and completes the opening handshake. A message the server sends in the same read as its
   * handshake answer is handed to `onMessage` before this resolves.
   */
  static async open(url: string, handlers: RawWebSocketHandlers, options: RawWebSocketOptions = {}): Promise<RawWebSocket> {
    const u = new URL(url);
    if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new TargetError(`WebSocket ${url}: not a ws:// or wss:// URL`);
    const secure = u.protocol === 'wss:';
    const host = u.hostname.replace(/^\[|\]$/g, '');
    const port = Number(u.port || (secure ? 443 : 80));
    const timeoutMs = options.timeoutMs ?? 10_000;
    const socket = secure
      ? tls.connect({ host, port, ...(options.ca === undefined ? {} : { ca: options.ca }), servername: net.isIP(host) ? undefined : host })
      : net.connect({ host, port });
    socket.setNoDelay(true);
    const key = crypto.randomBytes(16).toString('base64');
    const expectAccept = crypto.createHash('sha1').update(key + GUID).digest('base64');
    const conn = new RawWebSocket(socket, handlers);
    await new Promise<void>((resolve, reject) => {
      let head: Buffer = Buffer.alloc(0);
      const fail = (why: string, cause?: unknown): void => {
        clearTimeout(timer);
        socket.off('data', onHead);
        socket.destroy();
        reject(new TargetError(`WebSocket ${url}: ${why}`, cause === undefined ? undefined : { cause }));
      };
      const timer = setTimeout(() => fail(`no handshake within ${timeoutMs} ms`), timeoutMs);
      const onHead = (chunk: Buffer): void => {
        head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) {
          if (head.length > 16 * 1024) fail('handshake answer longer than 16 KiB');
          return;
        }
        const lines = head.subarray(0, end).toString('latin1').split('\r\n');
        const status = /^HTTP\/1\.1 (\d{3})/.exec(lines[0] ?? '')?.[1];
        if (status !== '101') return fail(`server answered '${lines[0] ?? ''}' to the upgrade`);
        const accept = lines.find((l) => /^sec-websocket-accept:/i.test(l))?.split(':')[1]?.trim();
        if (accept !== expectAccept) return fail('wrong Sec-WebSocket-Accept in the handshake answer');
        clearTimeout(timer);
        socket.off('data', onHead);
        socket.off('error', onError);
        socket.off('close', onClose);
        conn.attach();
        resolve();
        const rest = head.subarray(end + 4);
        if (rest.length > 0) conn.receive(rest);
      };
      const onError = (err: Error): void => fail(err.message, err);
      const onClose = (): void => fail('connection closed during the handshake');
      socket.on('data', onHead);
      socket.once('error', onError);
      socket.once('close', onClose);
      socket.once(secure ? 'secureConnect' : 'connect', () => {
        socket.write(
          `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
      });
    });
    return conn;
  }

  /** Bytes handed to the socket and not yet written to the kernel. */
  get bufferedAmount(): number {
    return this.socket.writableLength;
  }

  /** Sends one binary message (masked, as a client must). Returns false once the connection is closed. */
  send(data: Uint8Array): boolean {
    if (this.closed) return false;
    this.socket.write(maskedFrame(OP_BINARY, data));
    return true;
  }

  /** Starts the close handshake and waits (bounded) for the socket to end; destroys it if the server does not answer. */
  async close(timeoutMs = 2_000): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.socket.write(maskedFrame(OP_CLOSE, Uint8Array.of(0x03, 0xe8))); // 1000: normal closure
      this.socket.end();
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.ended, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    this.socket.destroy();
  }

  private attach(): void {
    this.socket.on('data', (chunk: Buffer) => this.receive(chunk));
    this.socket.on('error', () => undefined); // 'close' follows and reports
    this.socket.once('close', () => {
      this.closed = true;
      this.markEnded();
      this.report('connection closed');
    });
  }

  /** Parses every whole frame in `chunk` (after what was left of the previous one); keeps the tail. */
  private receive(chunk: Buffer): void {
    let b = chunk;
    if (this.pending !== null) {
      b = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    let at = 0;
    while (b.length - at >= 2) {
      const b0 = b[at]!;
      const b1 = b[at + 1]!;
      if ((b1 & 0x80) !== 0) return void this.protocolError('the server sent a masked frame');
      if ((b0 & 0x70) !== 0) return void this.protocolError('reserved bits set (no extension was negotiated)');
      let len = b1 & 0x7f;
      let p = at + 2;
      if (len === 126) {
        if (b.length - p < 2) break;
        len = b.readUInt16BE(p);
        p += 2;
      } else if (len === 127) {
        if (b.length - p < 8) break;
        if (b.readUInt32BE(p) !== 0) return void this.protocolError('frame longer than 4 GiB');
        len = b.readUInt32BE(p + 4);
        p += 8;
      }
      if (len > MAX_PAYLOAD) return void this.protocolError(`frame of ${len} bytes is over the ${MAX_PAYLOAD}-byte limit`);
      if (b.length - p < len) break;
      const payload = b.subarray(p, p + len);
      at = p + len;
      if (!this.frame(b0 & 0x80, b0 & 0x0f, payload)) return;
    }
    if (at < b.length) this.pending = b.subarray(at);
  }

  /** Handles one frame; false when the connection is over. */
  private frame(fin: number, opcode: number, payload: Buffer): boolean {
    switch (opcode) {
      case OP_BINARY:
      case OP_TEXT:
        if (this.fragmentOpcode !== 0) return this.protocolError('a new message started inside a fragmented one');
        if (fin) {
          this.handlers.onMessage(payload, opcode === OP_BINARY);
          return true;
        }
        this.fragmentOpcode = opcode;
        return this.addFragment(payload);
      case OP_CONT: {
        if (this.fragmentOpcode === 0) return this.protocolError('a continuation frame with no message to continue');
        if (!this.addFragment(payload)) return false;
        if (!fin) return true;
        const whole = Buffer.concat(this.fragments);
        const binary = this.fragmentOpcode === OP_BINARY;
        this.fragments = [];
        this.fragmentOpcode = 0;
        this.fragmentBytes = 0;
        this.handlers.onMessage(whole, binary);
        return true;
      }
      case OP_PING:
        if (!this.closed) this.socket.write(maskedFrame(OP_PONG, payload));
        return true;
      case OP_PONG:
        return true;
      case OP_CLOSE:
        if (!this.closed) {
          this.closed = true;
          this.socket.write(maskedFrame(OP_CLOSE, payload.subarray(0, 2)));
          this.socket.end();
        }
        return false;
      default:
        return this.protocolError(`unknown opcode ${opcode}`);
    }
  }

  private addFragment(payload: Buffer): boolean {
    this.fragmentBytes += payload.length;
    if (this.fragmentBytes > MAX_PAYLOAD) return this.protocolError(`message over the ${MAX_PAYLOAD}-byte limit`);
    this.fragments.push(Buffer.from(payload)); // the chunk's memory is not ours past this read
    return true;
  }

  private protocolError(why: string): false {
    this.closed = true;
    this.socket.destroy();
    this.report(`protocol error: ${why}`);
    return false;
  }

  private report(reason: string): void {
    if (this.reported) return;
    this.reported = true;
    this.handlers.onClose?.(reason);
  }
}

// Masks come from a pool of random bytes refilled every 1,024 frames: one call into the CSPRNG per frame
// would cost more than masking a 100-byte payload.
const maskPool = Buffer.alloc(4096);
let maskAt = maskPool.length;

function maskInto(out: Buffer, at: number): void {
  if (maskAt === maskPool.length) {
    crypto.randomFillSync(maskPool);
    maskAt = 0;
  }
  maskPool.copy(out, at, maskAt, maskAt + 4);
  maskAt += 4;
}

/** A client frame: FIN, the opcode, the length, a random mask and the masked payload, in one buffer. */
function maskedFrame(opcode: number, data: Uint8Array): Buffer {
  const n = data.length;
  const lenBytes = n < 126 ? 0 : n < 65_536 ? 2 : 8;
  const head = 2 + lenBytes + 4;
  const out = Buffer.allocUnsafe(head + n);
  out[0] = 0x80 | opcode;
  if (lenBytes === 0) out[1] = 0x80 | n;
  else if (lenBytes === 2) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeUInt32BE(0, 2);
    out.writeUInt32BE(n, 6);
  }
  const m = head - 4;
  maskInto(out, m);
  for (let i = 0; i < n; i++) out[head + i] = data[i]! ^ out[m + (i & 3)]!;
  return out;
}
