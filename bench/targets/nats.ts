// Target `nats`: nats-server (Debian package) driven with the `nats` npm client.
// live: core NATS pub/sub (no acks, no storage). durable: JetStream, file storage; publish waits for the
// PubAck, subscribers read through an ordered consumer. fsync: nats-server ≥ 2.10 is started with
// `sync_interval: always` (fsync before every ack); Debian 12's 2.9.10 has no such option and syncs on its own
// timer (every 2 min), so its JetStream acks come before the data is on disk. The report says which ran.
// The `nats` package is an optional peer dependency: loaded on first use (peer-library.ts), types only here.
import fs from 'node:fs';
import path from 'node:path';
import type { JetStreamClient, NatsConnection } from 'nats';
import { TargetError } from '../errors.js';
import { findBinary } from '../servers/binaries.js';
import { makeTempDir, startChildServer } from '../servers/child-server.js';
import { freePort } from '../servers/free-port.js';
import { binaryVersion } from '../servers/version-of.js';
import { loadPeerLibrary } from './peer-library.js';
import type { Endpoint, Publisher, PublisherOptions, RunningServer, Sink, StartOptions, Subscriber, SubscriberOptions, Target, TargetClient } from './target.js';

const INSTALL_HINT = "install it with 'apt-get install nats-server' (or set NATS_SERVER=/path/to/nats-server)";

const importNats = () => import('nats');
let lib: ReturnType<typeof importNats> | undefined;
function nats(): ReturnType<typeof importNats> {
  return (lib ??= loadPeerLibrary('nats', 'nats', importNats));
}

async function open(url: string): Promise<NatsConnection> {
  const { connect } = await nats();
  try {
    // noEcho off, no reconnects: a benchmark connection that drops is a failed run, not something to hide.
    return await connect({ servers: url, reconnect: false, pingInterval: 60_000, maxPingOut: 10 });
  } catch (err) {
    throw new TargetError(`nats: cannot connect to ${url}: ${(err as Error).message}`, { cause: err });
  }
}

async function closeConn(nc: NatsConnection): Promise<void> {
  await nc.close().catch(() => undefined);
}

const client: TargetClient = {
  async connectPublisher(ep: Endpoint, opts: PublisherOptions): Promise<Publisher> {
    const nc = await open(ep.url);
    const fail = (err: unknown): void => opts.onError?.(err instanceof Error ? err : new Error(String(err)));
    void nc.closed().then((err) => err && fail(err));
    if (ep.mode === 'live') {
      return {
        acknowledges: false,
        // nats.js keeps a reference to the payload until its microtask flush: copy the reused buffer.
        publish: (payload) => nc.publish(ep.channel, payload.slice()),
        backlogBytes: () => 0,
        close: () => closeConn(nc),
      };
    }
    const js: JetStreamClient = nc.jetstream();
    return {
      acknowledges: true,
      publish: (payload, seq) => {
        js.publish(ep.channel, payload.slice()).then(() => opts.onAck?.(seq), fail);
      },
      backlogBytes: () => 0,
      close: async () => {
        await nc.flush().catch(() => undefined);
        await closeConn(nc);
      },
    };
  },

  async connectSubscriber(ep: Endpoint, opts: SubscriberOptions, sink: Sink): Promise<Subscriber> {
    const nc = await open(ep.url);
    if (ep.mode === 'live') {
      nc.subscribe(ep.channel, { callback: (err, msg) => err === null && sink(msg.data) });
      await nc.flush(); // the server has processed SUB once the PONG is back
      return { close: () => closeConn(nc) };
    }
    // JetStream: start right after the stream's current last message (or at its start), so nothing published
    // after this call resolves can be missed, however long the consumer takes to be created.
    const jsm = await nc.jetstreamManager();
    const info = await jsm.streams.info(ep.channel);
    const startSeq = opts.from === 'earliest' ? 1 : info.state.last_seq + 1;
    const { DeliverPolicy } = await nats();
    const consumer = await nc.jetstream().consumers.get(ep.channel, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: startSeq });
    const messages = await consumer.consume({ max_messages: opts.bulk ? 10_000 : 1_000, callback: (m) => sink(m.data) });
    return {
      close: async () => {
        await messages.close().catch(() => undefined);
        await closeConn(nc);
      },
    };
  },
};

export const natsTarget: Target = {
  name: 'nats',
  unsupported: () => null,
  describe: (mode) => (mode === 'live' ? 'NATS core pub/sub' : `JetStream, file storage, ${jetStreamSyncNote}`),
  client,
  async checkPeer() {
    await nats();
    findBinary('nats-server', 'NATS_SERVER', INSTALL_HINT);
  },
  async start(opts: StartOptions): Promise<RunningServer> {
    const { StorageType } = await nats();
    const binary = findBinary('nats-server', 'NATS_SERVER', INSTALL_HINT);
    const version = binaryVersion(binary);
    const dir = makeTempDir('tickbus-bench-nats-');
    const port = await freePort();
    const args = ['-a', '127.0.0.1', '-p', String(port)];
    if (opts.mode === 'durable') {
      const conf = path.join(dir, 'nats.conf');
      const store = path.join(dir, 'js');
      const syncAlways = supportsSyncAlways(version);
      jetStreamSyncNote = syncAlways ? 'sync_interval always (fsync before ack)' : `no fsync before ack (${version} has no sync_interval; syncs every 2 min)`;
      fs.writeFileSync(conf, `jetstream {\n  store_dir: ${JSON.stringify(store)}\n${syncAlways ? '  sync_interval: always\n' : ''}}\n`);
      args.push('-c', conf);
    }
    const server = await startChildServer({
      name: 'nats-server',
      command: binary,
      args,
      tempDir: dir,
      ready: (out) => (out.includes('Server is ready') ? true : null),
    });
    const url = `nats://127.0.0.1:${port}`;
    let admin: NatsConnection | null = null;
    const adminConn = async (): Promise<NatsConnection> => (admin ??= await open(url));
    return {
      version,
      pids: [server.pid],
      prepare: async (spec) => {
        if (spec.mode === 'durable') {
          const jsm = await (await adminConn()).jetstreamManager();
          await jsm.streams.add({ name: spec.name, subjects: [spec.name], storage: StorageType.File, num_replicas: 1 });
        }
        return { target: 'nats', mode: spec.mode, url, channel: spec.name, partitions: 1, extra: {} };
      },
      preload: async (ep, count, fill, onProgress) => {
        // Core publishes into the stream's subject (JetStream stores them; no per-message ack round trip),
        // flushed every chunk so the server keeps up; then wait until the stream holds them all.
        const nc = await open(url);
        try {
          const CHUNK = 5_000;
          for (let i = 0; i < count; i += CHUNK) {
            const end = Math.min(count, i + CHUNK);
            for (let s = i; s < end; s++) nc.publish(ep.channel, fill(s).slice());
            await nc.flush();
            onProgress?.(end);
          }
          const jsm = await nc.jetstreamManager();
          const deadline = Date.now() + 120_000;
          for (;;) {
            const info = await jsm.streams.info(ep.channel);
            if (info.state.messages >= count) return;
            if (Date.now() > deadline) throw new TargetError(`nats: stream holds ${info.state.messages} of ${count} preloaded messages after 120 s`);
            await new Promise((r) => setTimeout(r, 100));
          }
        } finally {
          await closeConn(nc);
        }
      },
      release: async (ep) => {
        if (ep.mode !== 'durable') return;
        const jsm = await (await adminConn()).jetstreamManager();
        await jsm.streams.delete(ep.channel).catch(() => undefined);
      },
      stop: async () => {
        if (admin) await closeConn(admin);
        await server.stop();
      },
    };
  },
};

let jetStreamSyncNote = 'sync policy of the server';

/** sync_interval (and its `always` value) arrived in nats-server 2.10. */
function supportsSyncAlways(version: string): boolean {
  const m = /v?(\d+)\.(\d+)\./.exec(version);
  if (!m) return false;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  return major > 2 || (major === 2 && minor >= 10);
}
