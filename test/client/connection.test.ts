// The SDK's WebSocket transport and protocol session against a tiny scripted server (ws on port 0):
// real sockets, no broker.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { Connection, webSocketTransport } from '../../client/internal.js';
import { connect, ErrorCode, TickbusError } from '../../client/index.js';
import { decodeFrame, encodeFrame, errorFrame, type Frame, PROTOCOL_VERSION } from '../../schemas/frames.js';

type Script = (f: Frame, reply: (f: Frame) => void, ws: WebSocket) => void;

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.allSettled(closers.splice(0).map((c) => c()));
});

async function server(script: Script): Promise<{ url: string; frames: Frame[]; sockets: Set<WebSocket> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => wss.once('listening', r));
  const frames: Frame[] = [];
  const sockets = new Set<WebSocket>();
  wss.on('connection', (ws) => {
    sockets.add(ws);
    ws.on('close', () => sockets.delete(ws));
    ws.on('message', (data: Buffer, isBinary) => {
      if (!isBinary) return;
      const f = decodeFrame(new Uint8Array(data.buffer, data.byteOffset, data.length).slice());
      frames.push(f);
      const reply = (r: Frame): void => ws.send(encodeFrame(r));
      if (f.type === 'Hello') reply({ type: 'HelloOk', protocolVersion: PROTOCOL_VERSION, brokerId: 'scripted', ownerId: -1 });
      else script(f, reply, ws);
    });
  });
  const port = (wss.address() as net.AddressInfo).port;
  closers.push(
    () =>
      new Promise<void>((r) => {
        for (const s of wss.clients) s.terminate();
        wss.close(() => r());
      }),
  );
  return { url: `ws://127.0.0.1:${port}`, frames, sockets };
}

const opts = { transport: webSocketTransport, clientId: 'conn-test', connectTimeoutMs: 2000, requestTimeoutMs: 2000 };

describe('connection over a real WebSocket', () => {
  it('says Hello first, matches answers to request ids and hands out binary frames as Uint8Array views', async () => {
    const s = await server((f, reply) => {
      if (f.type === 'Metadata') {
        reply({ type: 'Deliver', topic: 't', partition: 0, highWatermark: 1, live: true, batches: new Uint8Array([1, 2, 3]) });
        reply({ type: 'MetadataResult', requestId: f.requestId, topics: [] });
      }
    });
    const pushed: Frame[] = [];
    const c = await Connection.open(s.url, opts, { onFrame: (f) => pushed.push(f) });
    expect(c.brokerId).toBe('scripted');
    const [a, b] = await Promise.all([c.call({ type: 'Metadata', requestId: 0, topics: ['x'] }), c.call({ type: 'Metadata', requestId: 0, topics: ['y'] })]);
    expect(s.frames[0]).toMatchObject({ type: 'Hello', protocolVersion: PROTOCOL_VERSION, clientId: 'conn-test' });
    const ids = s.frames.slice(1).map((f) => (f as { requestId: number }).requestId);
    expect(ids.every((id) => id > 0)).toBe(true);
    expect(new Set(ids).size).toBe(2);
    expect([a, b].map((f) => (f as { requestId: number }).requestId)).toEqual(ids);
    expect(pushed).toHaveLength(2);
    expect(pushed[0]).toMatchObject({ type: 'Deliver' });
    expect([...(pushed[0] as { batches: Uint8Array }).batches]).toEqual([1, 2, 3]);
    c.close();
  });

  it('rebuilds an ErrorReply into the TickbusError it carries', async () => {
    const s = await server((f, reply) => {
      if (f.type === 'DescribeTopic') reply(errorFrame(new TickbusError(ErrorCode.UNKNOWN_TOPIC, "topic 'q' does not exist", { topic: 'q' }), f.requestId));
    });
    const c = await Connection.open(s.url, opts);
    const err = await c.call({ type: 'DescribeTopic', requestId: 0, name: 'q' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TickbusError);
    expect(err).toMatchObject({ code: ErrorCode.UNKNOWN_TOPIC, topic: 'q', retryable: false, message: "topic 'q' does not exist" });
    c.close();
  });

  it('fails pending requests with CONNECTION_CLOSED when the server goes away, giving its pushed reason', async () => {
    const s = await server((f, reply, ws) => {
      if (f.type === 'Metadata') {
        reply(errorFrame(new TickbusError(ErrorCode.SHUTTING_DOWN, 'broker is stopping')));
        ws.close(1001);
      }
    });
    let closedWith: TickbusError | null = null;
    const c = await Connection.open(s.url, opts, { onClose: (e) => (closedWith = e) });
    const err = await c.call({ type: 'Metadata', requestId: 0, topics: [] }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.CONNECTION_CLOSED, retryable: true });
    expect((err as Error).message).toMatch(/SHUTTING_DOWN: broker is stopping/);
    expect(closedWith).toBe(err);
    expect(c.closed).toBe(true);
  });

  it('times out a request that gets no answer', async () => {
    const s = await server(() => undefined);
    const c = await Connection.open(s.url, { ...opts, requestTimeoutMs: 50 });
    const t0 = Date.now();
    await expect(c.call({ type: 'Metadata', requestId: 0, topics: [] })).rejects.toMatchObject({ code: ErrorCode.TIMEOUT, retryable: true });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(45);
    c.close();
  });

  it('refuses a server that answers Hello with an error', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((r) => wss.once('listening', r));
    closers.push(() => new Promise<void>((r) => wss.close(() => r())));
    wss.on('connection', (ws) => {
      ws.on('message', () => {
        ws.send(encodeFrame(errorFrame(new TickbusError(ErrorCode.UNSUPPORTED_PROTOCOL_VERSION, 'this broker speaks 2'))));
        ws.close(1008);
      });
    });
    const url = `ws://127.0.0.1:${(wss.address() as net.AddressInfo).port}`;
    await expect(Connection.open(url, opts)).rejects.toMatchObject({ code: ErrorCode.UNSUPPORTED_PROTOCOL_VERSION, retryable: false });
  });

  it('reports a refused connection as retryable CONNECTION_CLOSED, and a silent one as TIMEOUT', async () => {
    // A port nobody listens on: bind, note it, close.
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const freePort = (probe.address() as net.AddressInfo).port;
    await new Promise((r) => probe.close(r));
    await expect(Connection.open(`ws://127.0.0.1:${freePort}`, opts)).rejects.toMatchObject({ code: ErrorCode.CONNECTION_CLOSED, retryable: true });

    // A TCP server that never answers the WebSocket handshake.
    const silent = net.createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => silent.close(() => r())));
    const held: net.Socket[] = [];
    silent.on('connection', (sock) => held.push(sock));
    closers.push(async () => held.forEach((s) => s.destroy()));
    const port = (silent.address() as net.AddressInfo).port;
    await expect(Connection.open(`ws://127.0.0.1:${port}`, { ...opts, connectTimeoutMs: 100 })).rejects.toMatchObject({ code: ErrorCode.TIMEOUT });
    await expect(connect({ brokers: [`ws://127.0.0.1:${freePort}`], connectTimeoutMs: 200 })).rejects.toMatchObject({ code: ErrorCode.CONNECTION_CLOSED });
  });

  it('closes the session on a text message (not part of the protocol)', async () => {
    const s = await server((f, _reply, ws) => {
      if (f.type === 'Metadata') ws.send('hello in text');
    });
    const c = await Connection.open(s.url, opts);
    await expect(c.call({ type: 'Metadata', requestId: 0, topics: [] })).rejects.toMatchObject({ code: ErrorCode.CONNECTION_CLOSED });
  });

  it('tries the next broker when the first does not answer', async () => {
    const s = await server((f, reply) => {
      if (f.type === 'Metadata') reply({ type: 'MetadataResult', requestId: f.requestId, topics: [] });
    });
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const dead = `ws://127.0.0.1:${(probe.address() as net.AddressInfo).port}`;
    await new Promise((r) => probe.close(r));
    const bus = await connect({ brokers: [dead, s.url] });
    expect(await bus.admin.listTopics()).toEqual([]);
    await bus.close();
  });
});
