// Opening a `ws` client the way every WebSocket target needs it: binary as Buffers, no compression,
// a bounded wait for the handshake, and errors as TargetError.
import WebSocket from 'ws';
import { TargetError } from '../errors.js';

/**
 * `attach` runs before the handshake completes: a server may send its first message in the same TCP read
 * as the handshake answer, and `ws` emits it before an `await` on the open would return.
 */
export async function openWebSocket(url: string, attach?: (ws: WebSocket) => void, timeoutMs = 10_000, tls: { ca?: string } = {}): Promise<WebSocket> {
  const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 64 * 1024 * 1024, ...tls });
  ws.binaryType = 'nodebuffer';
  attach?.(ws);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new TargetError(`WebSocket ${url}: no handshake within ${timeoutMs} ms`));
    }, timeoutMs);
    ws.once('open', () => {
      clearTimeout(timer);
      ws.off('error', onError);
      resolve();
    });
    const onError = (err: Error): void => {
      clearTimeout(timer);
      reject(new TargetError(`WebSocket ${url}: ${err.message}`, { cause: err }));
    };
    ws.once('error', onError);
  });
  // Disable Nagle: ws sets noDelay on its socket already; an explicit call documents that we rely on it.
  (ws as unknown as { _socket?: { setNoDelay?: (v: boolean) => void } })._socket?.setNoDelay?.(true);
  return ws;
}

/** Closes and waits (bounded) for the close handshake; terminates when the peer does not answer. */
export function closeWebSocket(ws: WebSocket, timeoutMs = 2_000): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      ws.terminate();
      resolve();
    }, timeoutMs);
    ws.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    if (ws.readyState === WebSocket.OPEN) ws.close();
    else ws.terminate();
  });
}

/** A message as a Uint8Array view without copying (ws hands out Buffer, Buffer[] or ArrayBuffer). */
export function asBytes(data: WebSocket.RawData): Uint8Array {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return new Uint8Array(data);
}
