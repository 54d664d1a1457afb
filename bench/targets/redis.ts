// Target `redis`: redis-server (Debian package) driven with ioredis.
// live: PUBLISH / SUBSCRIBE. durable: a Stream per run, XADD (the reply is the ack) read with XREAD BLOCK;
// the server runs with `appendonly yes` + `appendfsync always`, so Redis fsyncs the AOF before it replies
// (one fsync per event-loop turn covers every write of that turn: Redis's own group commit).
// Replay reads the Stream with XREAD COUNT: Redis serves it from memory (the AOF is only for recovery).
// The `ioredis` package is an optional peer dependency: loaded on first use (peer-library.ts), types only here.
import type { Redis } from 'ioredis';
import { TargetError } from '../errors.js';
import { findBinary } from '../servers/binaries.js';
import { makeTempDir, startChildServer } from '../servers/child-server.js';
import { freePort } from '../servers/free-port.js';
import { binaryVersion } from '../servers/version-of.js';
import { loadPeerLibrary } from './peer-library.js';
import type { Endpoint, Publisher, PublisherOptions, RunningServer, Sink, StartOptions, Subscriber, SubscriberOptions, Target, TargetClient } from './target.js';

const INSTALL_HINT = "install it with 'apt-get install redis-server' (or set REDIS_SERVER=/path/to/redis-server)";
const FIELD = 'd';

// The import's own type: ioredis is CommonJS, and `typeof import('ioredis')` is not what import() returns.
const importIoredis = () => import('ioredis');
let lib: ReturnType<typeof importIoredis> | undefined;
function ioredis(): ReturnType<typeof importIoredis> {
  return (lib ??= loadPeerLibrary('redis', 'ioredis', importIoredis));
}

async function open(url: string): Promise<Redis> {
  const { Redis } = await ioredis();
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  r.on('error', () => undefined); // surfaced through the failing command instead
  try {
    await r.connect();
  } catch (err) {
    r.disconnect();
    throw new TargetError(`redis: cannot connect to ${url}: ${(err as Error).message}`, { cause: err });
  }
  return r;
}

async function quit(r: Redis): Promise<void> {
  await r.quit().catch(() => r.disconnect());
}

type StreamReply = [Buffer, [Buffer, Buffer[]][]][] | null;

const client: TargetClient = {
  async connectPublisher(ep: Endpoint, opts: PublisherOptions): Promise<Publisher> {
    const r = await open(ep.url);
    const fail = (err: unknown): void => opts.onError?.(err instanceof Error ? err : new Error(String(err)));
    // ioredis may hold the argument until the socket takes it: copy the reused payload buffer.
    if (ep.mode === 'live') {
      return {
        acknowledges: false,
        publish: (payload) => {
          r.publish(ep.channel, Buffer.from(payload)).catch(fail);
        },
        backlogBytes: () => 0,
        close: () => quit(r),
      };
    }
    return {
      acknowledges: true,
      publish: (payload, seq) => {
        r.xadd(ep.channel, '*', FIELD, Buffer.from(payload)).then(() => opts.onAck?.(seq), fail);
      },
      backlogBytes: () => 0,
      close: () => quit(r),
    };
  },

  async connectSubscriber(ep: Endpoint, opts: SubscriberOptions, sink: Sink): Promise<Subscriber> {
    const r = await open(ep.url);
    if (ep.mode === 'live') {
      r.on('messageBuffer', (_channel: Buffer, message: Buffer) => sink(message));
      await r.subscribe(ep.channel); // resolves on the server's subscribe reply: registered
      return { close: () => quit(r) };
    }
    // Stream: start after the current last entry (or at the start), then XREAD BLOCK in a loop.
    let lastId = '0-0';
    if (opts.from === 'latest') {
      const last = (await r.xrevrange(ep.channel, '+', '-', 'COUNT', 1)) as [string, string[]][];
      if (last[0]) lastId = last[0][0];
    }
    let stopped = false as boolean; // set by close(), while the loop runs
    const count = opts.bulk ? 10_000 : 1_000;
    const loop = (async () => {
      while (!stopped) {
        const reply: StreamReply = await r.xreadBuffer('COUNT', count, 'BLOCK', 1000, 'STREAMS', ep.channel, lastId);
        if (!reply) continue; // a BLOCK that times out answers null
        for (const [, entries] of reply) {
          for (const [id, fields] of entries) {
            const value = fields[1];
            if (value) sink(value);
            lastId = id.toString('latin1');
          }
        }
      }
    })().catch(() => undefined); // the connection closing ends the loop
    return {
      close: async () => {
        stopped = true;
        r.disconnect();
        await loop;
      },
    };
  },
};

export const redisTarget: Target = {
  name: 'redis',
  unsupported: () => null,
  describe: (mode) => (mode === 'live' ? 'Redis PUBLISH/SUBSCRIBE' : 'Redis Streams XADD/XREAD, appendonly yes, appendfsync always'),
  client,
  async checkPeer() {
    await ioredis();
    findBinary('redis-server', 'REDIS_SERVER', INSTALL_HINT);
  },
  async start(opts: StartOptions): Promise<RunningServer> {
    await ioredis(); // fail before starting a server no client could reach
    const binary = findBinary('redis-server', 'REDIS_SERVER', INSTALL_HINT);
    const dir = makeTempDir('tickbus-bench-redis-');
    const port = await freePort();
    const durable = opts.mode === 'durable';
    const server = await startChildServer({
      name: 'redis-server',
      command: binary,
      args: [
        '--port', String(port),
        '--bind', '127.0.0.1',
        '--dir', dir,
        '--save', '',
        '--appendonly', durable ? 'yes' : 'no',
        '--appendfsync', 'always',
        '--protected-mode', 'no',
        // A 1M-entry stream per replay run: allow it (the default output buffer limits are for pub/sub only).
        '--client-output-buffer-limit', 'pubsub 0 0 0',
      ],
      tempDir: dir,
      ready: (out) => (out.includes('Ready to accept connections') ? true : null),
    });
    const url = `redis://127.0.0.1:${port}`;
    let admin: Redis | null = null;
    const adminConn = async (): Promise<Redis> => (admin ??= await open(url));
    return {
      version: binaryVersion(binary),
      pids: [server.pid],
      prepare: async (spec) => ({ target: 'redis', mode: spec.mode, url, channel: spec.name, partitions: 1, extra: {} }),
      preload: async (ep, count, fill, onProgress) => {
        const r = await open(url);
        try {
          const CHUNK = 5_000;
          for (let i = 0; i < count; i += CHUNK) {
            const end = Math.min(count, i + CHUNK);
            const p = r.pipeline();
            for (let s = i; s < end; s++) p.xadd(ep.channel, '*', FIELD, Buffer.from(fill(s)));
            await p.exec();
            onProgress?.(end);
          }
        } finally {
          await quit(r);
        }
      },
      release: async (ep) => {
        if (ep.mode === 'durable') await (await adminConn()).del(ep.channel);
      },
      stop: async () => {
        if (admin) await quit(admin);
        await server.stop();
      },
    };
  },
};
