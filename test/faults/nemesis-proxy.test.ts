import { createHash } from 'node:crypto';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../helpers/until.js';
import { NemesisProxy } from './nemesis-proxy.js';

// A real echo server on 127.0.0.1 behind the proxy; every server, proxy and socket a test opens is closed after it.
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Echo {
  port: number;
  connections: number;
  received: number;
  sockets: Set<net.Socket>;
}

async function echoServer(opts: { read?: boolean } = {}): Promise<Echo> {
  const e: Echo = { port: 0, connections: 0, received: 0, sockets: new Set() };
  const server = net.createServer({ pauseOnConnect: opts.read === false }, (s) => {
    e.connections++;
    e.sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => e.sockets.delete(s));
    s.on('data', (d) => {
      e.received += d.length;
      s.write(d);
    });
    if (opts.read === false) s.pause();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  e.port = (server.address() as net.AddressInfo).port;
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const s of e.sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return e;
}

async function proxyTo(echo: Echo, opts: Partial<Parameters<typeof NemesisProxy.start>[0]> = {}): Promise<NemesisProxy> {
  const p = await NemesisProxy.start({ targetPort: echo.port, ...opts });
  cleanups.push(() => p.close());
  return p;
}

interface Client {
  socket: net.Socket;
  data: Buffer[];
  text(): string;
  bytes(): number;
  closed: boolean;
  error: NodeJS.ErrnoException | null;
}

/** `mayBeRefused`: a reset may beat the connect event (the proxy resets right after accept); resolve either way. */
async function connect(port: number, mayBeRefused = false): Promise<Client> {
  const socket = net.connect({ host: '127.0.0.1', port });
  const c: Client = {
    socket,
    data: [],
    text: () => Buffer.concat(c.data).toString(),
    bytes: () => c.data.reduce((n, d) => n + d.length, 0),
    closed: false,
    error: null,
  };
  socket.on('data', (d) => c.data.push(d));
  socket.on('error', (err) => (c.error = err));
  socket.on('close', () => (c.closed = true));
  cleanups.push(() => void socket.destroy());
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', (err) => (mayBeRefused ? resolve() : reject(err)));
  });
  return c;
}

describe('nemesis proxy', () => {
  it('forwards both ways, in order, intact', async () => {
    const echo = await echoServer();
    const proxy = await proxyTo(echo);
    const c = await connect(proxy.port);
    const payload = Buffer.alloc(4 * 1024 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31 + (i >> 11)) & 0xff;
    c.socket.write(payload);
    await until(() => c.bytes() === payload.length, 'the 4 MiB echo');
    expect(createHash('sha256').update(Buffer.concat(c.data)).digest('hex')).toBe(createHash('sha256').update(payload).digest('hex'));
    expect(proxy.stats).toMatchObject({ accepted: 1, dialled: 1, bytesForwarded: 2 * payload.length });
  });

  it("cut('reset') resets open connections and refuses new ones until heal()", async () => {
    const echo = await echoServer();
    const proxy = await proxyTo(echo);
    const c = await connect(proxy.port);
    c.socket.write('ping');
    await until(() => c.text() === 'ping', 'echo before the cut');

    proxy.cut('reset');
    await until(() => c.closed, 'the open connection to close');
    expect(c.error?.code).toBe('ECONNRESET');
    const refused = await connect(proxy.port, true);
    await until(() => refused.closed, 'a new connection to be refused');
    expect(proxy.stats.refused).toBe(1);
    expect(proxy.stats.dialled).toBe(1);

    proxy.heal();
    const again = await connect(proxy.port);
    again.socket.write('pong');
    await until(() => again.text() === 'pong', 'echo after heal');
  });

  it("cut('blackhole') moves no bytes and dials nothing, then delivers everything on heal()", async () => {
    const echo = await echoServer();
    const proxy = await proxyTo(echo);
    const c = await connect(proxy.port);
    c.socket.write('a');
    await until(() => c.text() === 'a', 'echo before the cut');

    proxy.cut('blackhole');
    c.socket.write('bcd');
    // The proxy took the bytes (they left the sender) and, in the same handler, would have forwarded them.
    await until(() => proxy.stats.bytesReceived === 5, 'the proxy to take the bytes');
    expect(proxy.stats.bytesForwarded).toBe(2);
    const held = await connect(proxy.port);
    held.socket.write('xyz');
    await until(() => proxy.stats.accepted === 2, 'the proxy to accept a second connection');
    expect(proxy.stats.dialled).toBe(1);
    expect(held.closed).toBe(false);

    proxy.heal();
    await until(() => c.text() === 'abcd', 'the held bytes after heal');
    await until(() => held.text() === 'xyz', 'the held connection to be dialled and echo');
    expect(echo.connections).toBe(2);
    expect(c.closed).toBe(false);
  });

  it("blackholed connections past maxHeldConnections are reset", async () => {
    const echo = await echoServer();
    const proxy = await proxyTo(echo, { maxHeldConnections: 1 });
    proxy.cut('blackhole');
    const first = await connect(proxy.port);
    const second = await connect(proxy.port, true);
    await until(() => second.closed, 'the second connection to be refused');
    expect(first.closed).toBe(false);
    expect(proxy.stats).toMatchObject({ accepted: 1, refused: 1, dialled: 0 });
  });

  it('delay(ms) holds every chunk that long each way and keeps order', async () => {
    const echo = await echoServer();
    const proxy = await proxyTo(echo);
    const c = await connect(proxy.port);
    proxy.delay(200);
    const t0 = performance.now();
    c.socket.write('x');
    await until(() => c.text() === 'x', 'the delayed echo');
    const rtt = performance.now() - t0;
    // Two hops of 200 ms, timed with Date.now() (1 ms granularity) on the way.
    expect(rtt).toBeGreaterThanOrEqual(398);

    let sent = '';
    for (let i = 0; i < 200; i++) {
      const s = `${i},`;
      sent += s;
      c.socket.write(s);
    }
    await until(() => c.text() === 'x' + sent, 'the 200 delayed chunks, in order');

    proxy.delay(0);
    const t1 = performance.now();
    c.socket.write('y');
    await until(() => c.text().endsWith('y'), 'the undelayed echo');
    // Far below one delayed hop, with room for a loaded machine.
    expect(performance.now() - t1).toBeLessThan(200);
    expect(() => proxy.delay(-1)).toThrow(RangeError);
  });

  it("drop(p, 'reset') kills the connection at a dropped chunk", async () => {
    const echo = await echoServer();
    const proxy = await proxyTo(echo);
    const c = await connect(proxy.port);
    proxy.drop(1);
    c.socket.write('gone');
    await until(() => c.closed, 'the connection to be reset');
    expect(proxy.stats).toMatchObject({ chunksDropped: 1, bytesForwarded: 0, resets: 1 });
    expect(echo.received).toBe(0);
    expect(() => proxy.drop(1.5)).toThrow(RangeError);
  });

  it("drop(p, 'discard') loses chunks and the stream goes on: the echo of the next chunk is the barrier", async () => {
    const echo = await echoServer();
    const draws = [0.1, 0.9, 0.9];
    const proxy = await proxyTo(echo, { random: () => draws.shift() ?? 0.9 });
    const c = await connect(proxy.port);
    proxy.drop(0.5, 'discard');
    c.socket.write('lost');
    await until(() => proxy.stats.chunksDropped === 1, 'the drop');
    c.socket.write('kept');
    await until(() => c.text().length >= 4, 'the echo of the next chunk');
    expect(c.text()).toBe('kept');
    expect(c.closed).toBe(false);
  });

  it('keeps its memory bounded when the target stops reading, and loses nothing once it reads again', async () => {
    const echo = await echoServer({ read: false });
    const max = 64 * 1024;
    const proxy = await proxyTo(echo, { maxBufferedBytes: max });
    const c = await connect(proxy.port);
    const total = 64 * 1024 * 1024;
    const chunk = Buffer.alloc(256 * 1024, 7);
    let written = 0;
    // Keep the client writing (honouring its own backpressure) until the proxy stops reading it; bounded by size.
    while (proxy.pausedSenders() === 0 && written < total) {
      written += chunk.length;
      if (!c.socket.write(chunk)) {
        const drained = new Promise<void>((r) => c.socket.once('drain', r));
        await Promise.race([drained, until(() => proxy.pausedSenders() > 0, 'drain or the proxy to pause')]);
      }
    }
    expect(proxy.pausedSenders()).toBe(1);
    // Its queue plus what the upstream socket buffers: the bound, one chunk over it, and one socket's worth.
    expect(proxy.bufferedBytes()).toBeLessThan(max + 2 * 64 * 1024 + 1024 * 1024);

    for (const s of echo.sockets) s.resume();
    await until(() => echo.received === written, `all ${written} bytes at the target`, 30_000);
  });

  it('close() ends every connection and stops listening', async () => {
    const echo = await echoServer();
    const proxy = await proxyTo(echo);
    const c = await connect(proxy.port);
    const port = proxy.port;
    await proxy.close();
    await until(() => c.closed, 'the connection to close');
    await expect(connect(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('rejects bad options', async () => {
    await expect(NemesisProxy.start({ targetPort: 0 })).rejects.toThrow(RangeError);
    await expect(NemesisProxy.start({ targetPort: 80, maxBufferedBytes: 0 })).rejects.toThrow(RangeError);
    const echo = await echoServer();
    const proxy = await proxyTo(echo);
    expect(() => proxy.cut('nope' as 'reset')).toThrow(TypeError);
  });
});
