// The bench's own WebSocket client against real servers: `ws`'s server for the protocol's ordinary paths
// (every length encoding, fragments, pings, both close directions), a hand-written TCP server for the answers
// a client must refuse. The tickbus and uws-relay targets run over it end to end in quick.test.ts.
import crypto from 'node:crypto';
import net from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { RawWebSocket } from '../../bench/targets/raw-websocket.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function wsServer(onConnection: (ws: WebSocket) => void): Promise<string> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  server.on('connection', onConnection);
  await new Promise<void>((resolve) => server.once('listening', resolve));
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        for (const c of server.clients) c.terminate();
        server.close(() => resolve());
      }),
  );
  return `ws://127.0.0.1:${(server.address() as net.AddressInfo).port}/path?q=1`;
}

/** A TCP server that answers every connection with `reply(requestHead)` and keeps the socket open. */
async function rawServer(reply: (head: string) => Buffer | null): Promise<string> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    let head = '';
    s.on('data', (d) => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      const out = reply(head);
      if (out) s.write(out);
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return `ws://127.0.0.1:${(server.address() as net.AddressInfo).port}/`;
}

/** The RFC 6455 accept value for the request's key, computed here independently of the client under test. */
function acceptFor(head: string): string {
  const key = /sec-websocket-key: (\S+)/i.exec(head)![1]!;
  return crypto.createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
}

function upgradeAnswer(head: string, extra: Buffer = Buffer.alloc(0)): Buffer {
  const h = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(head)}\r\n\r\n`;
  return Buffer.concat([Buffer.from(h, 'latin1'), extra]);
}

describe('RawWebSocket', () => {
  it('sends and receives binary messages of every length encoding unchanged (7-bit, 16-bit, 64-bit lengths)', async () => {
    const url = await wsServer((ws) => ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary })));
    const got: Uint8Array[] = [];
    let wake: (() => void) | null = null;
    const ws = await RawWebSocket.open(url, {
      onMessage: (d) => {
        got.push(Uint8Array.from(d)); // valid only during the call
        wake?.();
      },
    });
    closers.push(() => ws.close());
    const echo = async (bytes: Uint8Array): Promise<Uint8Array> => {
      const before = got.length;
      const arrived = new Promise<void>((resolve) => (wake = resolve));
      expect(ws.send(bytes)).toBe(true);
      if (got.length === before) await arrived;
      return got[before]!;
    };
    for (const n of [0, 1, 125, 126, 127, 65_535, 65_536, 200_000]) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 31 + n) & 0xff);
      expect(Buffer.from(await echo(bytes)).equals(Buffer.from(bytes)), `${n} bytes`).toBe(true);
    }
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 70_000 }), async (bytes) => {
        expect(Buffer.from(await echo(bytes)).equals(Buffer.from(bytes))).toBe(true);
      }),
      { numRuns: 40 },
    );
  });

  it('hands over, in order and whole, messages that arrive split across reads and packed into one read', async () => {
    const sizes = [3, 140, 70_000, 0, 126, 9];
    const url = await wsServer((ws) => {
      // Sent back to back: TCP coalesces and splits them as it likes; the client must reassemble each frame.
      for (const n of sizes) ws.send(Buffer.alloc(n, n & 0xff));
    });
    const got: number[][] = [];
    const all = new Promise<void>((resolve) => {
      void RawWebSocket.open(url, {
        onMessage: (d) => {
          got.push([d.length, d.length > 0 ? d[0]! : -1, d.every((b) => b === (d.length & 0xff)) ? 1 : 0]);
          if (got.length === sizes.length) resolve();
        },
      }).then((ws) => closers.push(() => ws.close()));
    });
    await all;
    expect(got).toEqual(sizes.map((n) => [n, n > 0 ? n & 0xff : -1, 1]));
  });

  it('reassembles a fragmented message and tells text from binary', async () => {
    const url = await wsServer((ws) => {
      ws.send(Buffer.from('abc'), { binary: true, fin: false });
      ws.send(Buffer.from('def'), { binary: true, fin: false });
      ws.send(Buffer.from('g'), { binary: true, fin: true });
      ws.send('text', { binary: false });
    });
    const got: [string, boolean][] = [];
    await new Promise<void>((resolve) => {
      void RawWebSocket.open(url, {
        onMessage: (d, binary) => {
          got.push([Buffer.from(d).toString(), binary]);
          if (got.length === 2) resolve();
        },
      }).then((ws) => closers.push(() => ws.close()));
    });
    expect(got).toEqual([
      ['abcdefg', true],
      ['text', false],
    ]);
  });

  it('delivers a message the server sends in the same read as its handshake answer, before open() resolves', async () => {
    const url = await rawServer((head) => upgradeAnswer(head, Buffer.from([0x82, 0x02, 0x0a, 0x0b])));
    const got: number[][] = [];
    const ws = await RawWebSocket.open(url, { onMessage: (d) => got.push([...d]) });
    closers.push(() => ws.close(200));
    expect(got).toEqual([[0x0a, 0x0b]]);
  });

  it('answers a ping with a pong carrying the same payload', async () => {
    let pong!: (data: Buffer) => void;
    const ponged = new Promise<Buffer>((resolve) => (pong = resolve));
    const url = await wsServer((ws) => {
      ws.on('pong', (data) => pong(data));
      ws.ping(Buffer.from('hello'));
    });
    const ws = await RawWebSocket.open(url, { onMessage: () => undefined });
    closers.push(() => ws.close());
    expect((await ponged).toString()).toBe('hello');
  });

  it('closes with code 1000 when asked, and reports a close the server starts exactly once', async () => {
    let closedWith!: (code: number) => void;
    const serverSaw = new Promise<number>((resolve) => (closedWith = resolve));
    const url = await wsServer((ws) => ws.on('close', (code) => closedWith(code)));
    const ws = await RawWebSocket.open(url, { onMessage: () => undefined });
    await ws.close();
    expect(await serverSaw).toBe(1000);
    expect(ws.send(new Uint8Array(1))).toBe(false);

    const reasons: string[] = [];
    const url2 = await wsServer((s) => s.close(1001));
    const ended = new Promise<void>((resolve) => {
      void RawWebSocket.open(url2, {
        onMessage: () => undefined,
        onClose: (r) => {
          reasons.push(r);
          resolve();
        },
      }).then((w) => closers.push(() => w.close()));
    });
    await ended;
    expect(reasons).toEqual(['connection closed']);
  });

  it('refuses a wrong accept value, a status other than 101, and a server that never answers', async () => {
    const wrongAccept = await rawServer(() => Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAA\r\n\r\n'));
    await expect(RawWebSocket.open(wrongAccept, { onMessage: () => undefined })).rejects.toMatchObject({ code: 'BENCH_TARGET', message: expect.stringContaining('Sec-WebSocket-Accept') });
    const notFound = await rawServer(() => Buffer.from('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n'));
    await expect(RawWebSocket.open(notFound, { onMessage: () => undefined })).rejects.toMatchObject({ code: 'BENCH_TARGET', message: expect.stringContaining('404') });
    const silent = await rawServer(() => null);
    await expect(RawWebSocket.open(silent, { onMessage: () => undefined }, { timeoutMs: 200 })).rejects.toMatchObject({ code: 'BENCH_TARGET', message: expect.stringContaining('no handshake within 200 ms') });
    await expect(RawWebSocket.open('http://127.0.0.1:1/', { onMessage: () => undefined })).rejects.toMatchObject({ code: 'BENCH_TARGET' });
  });

  it('drops the connection on a masked frame from the server (a protocol error) and says why', async () => {
    const masked = Buffer.from([0x82, 0x81, 1, 2, 3, 4, 0x55]);
    const url = await rawServer((head) => upgradeAnswer(head, masked));
    const reasons: string[] = [];
    const got: unknown[] = [];
    let done!: () => void;
    const closed = new Promise<void>((resolve) => (done = resolve));
    const ws = await RawWebSocket.open(url, {
      onMessage: (d) => got.push(d),
      onClose: (r) => {
        reasons.push(r);
        done();
      },
    });
    closers.push(() => ws.close(200));
    await closed;
    expect(got).toEqual([]);
    expect(reasons).toEqual(['protocol error: the server sent a masked frame']);
  });
});
