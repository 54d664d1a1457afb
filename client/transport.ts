// One WebSocket behind a small interface, so the protocol code never touches a platform API.
// Browsers (and any runtime with a global WebSocket) use globalThis.WebSocket. Node 20 has none:
// there the `ws` package is loaded with a dynamic import, only then, so a browser bundle never
// reaches it (esbuild marks it external). No 'node:*' import and no Buffer on this path.
import { ErrorCode, TickbusError } from './errors.js';

/** An open socket: one binary message per frame. */
export interface Socket {
  send(bytes: Uint8Array): void;
  /** Closes; onClose fires later with the code. */
  close(code?: number, reason?: string): void;
  /** Bytes queued for sending and not yet handed to the network. */
  readonly bufferedAmount: number;
}

export interface SocketHandlers {
  /** One binary message. The bytes may be kept (the SDK hands out views into them). */
  onMessage(bytes: Uint8Array): void;
  /** Called once, after open succeeded, when the socket is closed for any reason. */
  onClose(code: number, reason: string): void;
}

export interface Transport {
  /** Opens a socket; rejects with a retryable TickbusError (CONNECTION_CLOSED or TIMEOUT) when it cannot. */
  open(url: string, handlers: SocketHandlers, timeoutMs: number): Promise<Socket>;
}

/** The subset of the WHATWG WebSocket the SDK uses; the `ws` package implements it too. */
interface WebSocketLike {
  binaryType: string;
  readonly bufferedAmount: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: { message?: string }) => void) | null;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
}
type WebSocketCtor = new (url: string, opts?: unknown) => WebSocketLike;

let nodeWs: Promise<WebSocketCtor> | null = null;

/**
 * TLS settings for wss:// in Node (the `ws` package hands them to tls.connect). Browsers trust what the
 * browser trusts and take no settings: a private CA is installed in the browser or the OS there.
 */
export interface TlsOptions {
  /** PEM CA certificate(s) to trust instead of Node's bundled roots (a private CA). */
  ca?: string | Uint8Array | (string | Uint8Array)[];
  /** Server name to check the certificate against when it differs from the URL's host. */
  servername?: string;
}

async function webSocketClass(needsNode: boolean): Promise<{ ctor: WebSocketCtor; isWs: boolean }> {
  const native = (globalThis as { WebSocket?: unknown }).WebSocket;
  if (typeof native === 'function' && !needsNode) return { ctor: native as WebSocketCtor, isWs: false };
  nodeWs ??= import('ws').then((m) => (m.default ?? m) as unknown as WebSocketCtor);
  try {
    return { ctor: await nodeWs, isWs: true };
  } catch (err) {
    const why = needsNode
      ? "the 'tls' option needs Node's 'ws' package; in a browser, install the CA in the browser or OS instead"
      : "this runtime has no global WebSocket and Node's 'ws' package could not be loaded: install 'ws'";
    throw new TickbusError(ErrorCode.CONNECTION_CLOSED, `${why} (${err instanceof Error ? err.message : String(err)})`, { cause: err, retryable: false });
  }
}

function toBytes(data: unknown): Uint8Array | null {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  // `ws` with binaryType 'nodebuffer' hands a Buffer (a Uint8Array): take a plain view of the same memory.
  if (data instanceof Uint8Array) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return null; // text frames are not part of the protocol
}

/** The platform's WebSocket; with `tls`, the `ws` package (Node) with those TLS settings. */
export function createWebSocketTransport(tls: TlsOptions | null = null): Transport {
  return {
    open: (url, handlers, timeoutMs) => openWebSocket(url, handlers, timeoutMs, tls),
  };
}

export const webSocketTransport: Transport = createWebSocketTransport();

async function openWebSocket(url: string, handlers: SocketHandlers, timeoutMs: number, tls: TlsOptions | null): Promise<Socket> {
  const { ctor, isWs } = await webSocketClass(tls !== null);
  return new Promise<Socket>((resolve, reject) => {
    let ws: WebSocketLike;
    try {
      // ws: no permessage-deflate (the broker does not compress; latency first), no payload limit surprise.
      ws = isWs ? new ctor(url, { perMessageDeflate: false, ...tls }) : new ctor(url);
    } catch (err) {
      reject(new TickbusError(ErrorCode.CONNECTION_CLOSED, `cannot open ${url}: ${String(err)}`, { cause: err }));
      return;
    }
    // 'nodebuffer' in Node avoids the copy `ws` makes to produce an exact ArrayBuffer.
    ws.binaryType = isWs ? 'nodebuffer' : 'arraybuffer';
    let opened = false;
    let lastError = '';
    const timer = setTimeout(() => {
      if (opened) return;
      ws.onclose = null;
      ws.close();
      reject(new TickbusError(ErrorCode.TIMEOUT, `connecting to ${url} took longer than ${timeoutMs} ms`));
    }, timeoutMs);
    ws.onerror = (ev) => {
      // Browsers give no reason; `ws` gives a message (ECONNREFUSED...). onclose follows either way.
      lastError = ev.message ?? '';
    };
    ws.onopen = () => {
      opened = true;
      clearTimeout(timer);
      ws.onmessage = (ev) => {
        const bytes = toBytes(ev.data);
        if (bytes) handlers.onMessage(bytes);
        else ws.close(1003, 'text messages are not part of the protocol');
      };
      resolve({
        send: (bytes) => ws.send(bytes),
        close: (code, reason) => ws.close(code, reason),
        get bufferedAmount() {
          return ws.bufferedAmount;
        },
      });
    };
    ws.onclose = (ev) => {
      if (opened) {
        handlers.onClose(ev.code, ev.reason);
        return;
      }
      clearTimeout(timer);
      const why = lastError || `closed with code ${ev.code}`;
      reject(new TickbusError(ErrorCode.CONNECTION_CLOSED, `cannot connect to ${url}: ${why}`));
    };
  });
}
