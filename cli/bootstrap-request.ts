// One admin request on a bootstrap endpoint, frame in and frame out, for the CLI's cluster commands:
// the SDK's Admin does not carry replication options or the replica fields of metadata (yet), and the
// CLI should print exactly what the broker answered.
import WebSocket from 'ws';
import { ErrorCode, TickbusError } from '../schemas/errors.js';
import { decodeFrame, encodeFrame, type FrameOf, PROTOCOL_VERSION } from '../schemas/frames.js';

type AdminRequest = FrameOf<'Metadata' | 'CreateTopic' | 'DescribeTopic' | 'DeleteTopic'>;

export async function bootstrapRequest(url: string, frame: AdminRequest, timeoutMs = 30_000): Promise<FrameOf<'MetadataResult'>> {
  const ws = new WebSocket(url);
  ws.binaryType = 'nodebuffer';
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new TickbusError(ErrorCode.TIMEOUT, `${url} did not answer ${frame.type} within ${timeoutMs} ms`)), timeoutMs);
      const done = (fn: () => void): void => {
        clearTimeout(timer);
        fn();
      };
      ws.once('error', (err) => done(() => reject(new TickbusError(ErrorCode.CONNECTION_CLOSED, `cannot reach ${url}: ${err.message}`))));
      ws.once('close', (code) => done(() => reject(new TickbusError(ErrorCode.CONNECTION_CLOSED, `${url} closed the connection (${code})`))));
      ws.once('open', () => {
        ws.send(encodeFrame({ type: 'Hello', protocolVersion: PROTOCOL_VERSION, clientId: 'tickbus-cli' }));
        ws.send(encodeFrame({ ...frame, requestId: 1 }));
      });
      ws.on('message', (data: Buffer) => {
        const f = decodeFrame(new Uint8Array(data.buffer, data.byteOffset, data.length));
        if (f.type === 'ErrorReply') done(() => reject(new TickbusError(f.code, f.message, f.topic ? { topic: f.topic } : {})));
        else if (f.type === 'MetadataResult') done(() => resolve(f));
      });
    });
  } finally {
    ws.removeAllListeners('close');
    ws.on('error', () => undefined);
    ws.close();
  }
}
