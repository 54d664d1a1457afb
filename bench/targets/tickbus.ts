// Target `tickbus`: a broker process (`node dist/cli/main.js broker`, port 0, own temp data dir),
// or a running deployment given with --broker. Driven over the raw wire protocol: one Produce frame per
// message (acks none / leader / durable), live subscribers with Subscribe(latest), the catch-up reader with
// Subscribe(earliest). Deliver frames are walked in place to hand each record's value to the sink.
// The server side (startTickbusServer) is shared with `tickbus-sdk` (tickbus-sdk.ts), which drives the same broker through client/.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { crc32c } from '../../schemas/crc32c.js';
import type { FrameOf } from '../../schemas/frames.js';
import { BATCH_HEADER_SIZE, batchBaseOffset, batchLength, batchRecordCount, encodeBatch, Off, readI32, readU32, writeU32 } from '../../schemas/record-batch.js';
import { ServerStartError, TargetError, withTimeout } from '../errors.js';
import { repoRoot } from '../harness/entry-path.js';
import { firstJsonLine, makeTempDir, startChildServer } from '../servers/child-server.js';
import { ownVersion } from '../servers/version-of.js';
import type { Acks, Endpoint, Publisher, PublisherOptions, RunningServer, Sink, StartOptions, Subscriber, SubscriberOptions, Target, TargetClient, TargetName } from './target.js';
import { WireConnection, type WireSecurity } from './tickbus-wire.js';

/** The CA (tickbus-tls) and token (tickbus-auth) the broker was started with, carried to worker threads in the endpoint. */
function securityOf(ep: Endpoint): WireSecurity {
  const { ca, token } = ep.extra;
  return { ...(typeof ca === 'string' && { ca }), ...(typeof token === 'string' && { token }) };
}

function ownerUrls(ep: Endpoint): string[] {
  const e = ep.extra.endpoints;
  if (!Array.isArray(e)) throw new TargetError(`tickbus endpoint for '${ep.channel}' carries no owner endpoints`);
  return e;
}

/**
 * One record batch reused for every message: the payload is copied into the value and the record CRC redone
 * (crc32c over ~100 bytes), instead of encodeBatch's allocations per message.
 */
class BatchTemplate {
  readonly bytes: Uint8Array;
  private readonly valueAt: number;

  constructor(size: number) {
    this.bytes = encodeBatch([{ value: new Uint8Array(size) }]);
    // header | u32 bodyLength | i32 tsDelta | i32 keyLength (-1) | i32 valueLength | value...
    this.valueAt = BATCH_HEADER_SIZE + 4 + 4 + 4 + 4;
  }

  fill(payload: Uint8Array): Uint8Array {
    this.bytes.set(payload, this.valueAt);
    writeU32(this.bytes, Off.crc, crc32c(this.bytes, Off.magic, this.bytes.length));
    return this.bytes;
  }
}

const client: TargetClient = {
  async connectPublisher(ep: Endpoint, opts: PublisherOptions): Promise<Publisher> {
    const urls = ownerUrls(ep);
    const url = urls[opts.partition % urls.length]!;
    const conn = await WireConnection.open(url, 'tickbus-bench-producer', securityOf(ep));
    const acks: Acks = opts.acks;
    conn.onFrame = (f) => {
      if (f.type === 'ProduceAck') opts.onAck?.(f.requestId - 1);
      else if (f.type === 'ErrorReply') opts.onError?.(new TargetError(`tickbus produce: ${f.message} (code ${f.code})`));
    };
    conn.onClose = (reason) => opts.onError?.(new TargetError(`tickbus producer connection ${reason}`));
    let template: BatchTemplate | null = null;
    const frame: FrameOf<'Produce'> = { type: 'Produce', requestId: 0, topic: ep.channel, partition: opts.partition % ep.partitions, acks, batch: new Uint8Array(0) };
    return {
      acknowledges: acks !== 'none',
      publish: (payload, seq) => {
        if (template?.bytes.length !== BATCH_HEADER_SIZE + 4 + 4 + 4 + 4 + payload.length + 2) template = new BatchTemplate(payload.length);
        frame.requestId = seq + 1;
        frame.batch = template.fill(payload);
        conn.send(frame);
      },
      backlogBytes: () => conn.backlogBytes(),
      close: async () => {
        conn.onClose = () => undefined;
        await conn.close();
      },
    };
  },

  async connectSubscriber(ep: Endpoint, opts: SubscriberOptions, sink: Sink): Promise<Subscriber> {
    const urls = ownerUrls(ep);
    const partitions = opts.partitions ?? Array.from({ length: ep.partitions }, (_, i) => i);
    // One connection per owner endpoint, subscribing to the partitions it serves.
    const byUrl = new Map<string, number[]>();
    for (const p of partitions) {
      const u = urls[p]!;
      byUrl.set(u, [...(byUrl.get(u) ?? []), p]);
    }
    const conns: WireConnection[] = [];
    try {
      for (const [url, parts] of byUrl) {
        const conn = await WireConnection.open(url, 'tickbus-bench-subscriber', securityOf(ep));
        conns.push(conn);
        // Next offset expected per partition: a catch-up Deliver may start with a batch below it.
        const next = new Map<number, number>();
        conn.onFrame = (f) => {
          if (f.type === 'Deliver') deliver(f, next, sink);
          else if (f.type === 'SubscribeOk') next.set(f.partition, f.startOffset);
        };
        const oks = new Set<number>();
        const subscribed = new Promise<void>((resolve, reject) => {
          const prev = conn.onFrame;
          conn.onFrame = (f) => {
            prev(f);
            if (f.type === 'SubscribeOk') {
              oks.add(f.partition);
              if (oks.size === parts.length) resolve();
            } else if (f.type === 'ErrorReply') reject(new TargetError(`tickbus subscribe: ${f.message} (code ${f.code})`));
          };
        });
        // One Subscribe answers with one SubscribeOk per partition, so it is sent without a request waiter
        // (which takes one answer) and its answers are counted in onFrame.
        conn.send({
          type: 'Subscribe',
          requestId: 0x7fff_0000 + conns.length,
          topic: ep.channel,
          starts: parts.map((partition) => (opts.from === 'earliest' ? { partition, kind: 'earliest' as const } : { partition, kind: 'latest' as const })),
          creditBytes: 0,
        });
        await withTimeout(subscribed, 10_000, `tickbus Subscribe to '${ep.channel}' (SubscribeOk for ${parts.length} partitions)`);
      }
    } catch (err) {
      await Promise.allSettled(conns.map((c) => c.close()));
      throw err;
    }
    return { close: async () => { await Promise.allSettled(conns.map((c) => c.close())); } };
  },
};

/** Hands each record value at or past the expected offset to the sink; no objects per record. */
function deliver(f: FrameOf<'Deliver'>, next: Map<number, number>, sink: Sink): void {
  const b = f.batches;
  let expect = next.get(f.partition) ?? 0;
  let at = 0;
  while (at + BATCH_HEADER_SIZE <= b.length) {
    const len = batchLength(b, at);
    const base = batchBaseOffset(b, at);
    const count = batchRecordCount(b, at);
    let p = at + BATCH_HEADER_SIZE;
    for (let i = 0; i < count; i++) {
      const body = readU32(b, p);
      if (base + i >= expect) {
        let q = p + 8; // bodyLength, timestampDelta
        const kl = readI32(b, q);
        q += 4 + (kl > 0 ? kl : 0);
        const vl = readI32(b, q);
        q += 4;
        if (vl >= 0) sink(b.subarray(q, q + vl));
        expect = base + i + 1;
      }
      p += 4 + body;
    }
    at += len;
  }
  next.set(f.partition, expect);
}

export const tickbusTarget: Target = {
  name: 'tickbus',
  unsupported: () => null,
  describe: (mode, acks) => (mode === 'live' ? `raw wire protocol, acks ${acks}` : `raw wire protocol, acks ${acks} (group commit fdatasync)`),
  client,
  start: (opts) => startTickbusServer(opts, 'tickbus'),
};

/** The same broker and client as `tickbus`, every socket over TLS (wss://): the cost of TLS on the live path. */
export const tickbusTlsTarget: Target = {
  name: 'tickbus-tls',
  unsupported: () => null,
  describe: (mode, acks) => `raw wire protocol over wss:// (TLS), acks ${acks}${mode === 'live' ? '' : ' (group commit fdatasync)'}`,
  client,
  start: (opts) => startTickbusServer(opts, 'tickbus-tls'),
};

/** The same broker and client as `tickbus` with authentication on: a token in Hello, an ACL check per request. */
export const tickbusAuthTarget: Target = {
  name: 'tickbus-auth',
  unsupported: () => null,
  describe: (mode, acks) => `raw wire protocol, token + ACLs, acks ${acks}${mode === 'live' ? '' : ' (group commit fdatasync)'}`,
  client,
  start: (opts) => startTickbusServer(opts, 'tickbus-auth'),
};

/**
 * The server side of every tickbus target (`tickbus`, `tickbus-sdk`): starts a broker process, or uses the
 * running one at --broker. `target` is written into the endpoints it prepares, so worker threads pick the
 * right client half.
 */
export async function startTickbusServer(opts: StartOptions, target: TickbusTargetName): Promise<RunningServer> {
  const version = tickbusVersion();
  if (opts.brokerUrl) {
    if (target === 'tickbus-tls' || target === 'tickbus-auth') throw new TargetError(`${target} starts its own broker (with its own certificate or token); it cannot use --broker`);
    return connectedBroker(target, opts.brokerUrl, `${version} (running broker at ${opts.brokerUrl})`, [], async () => undefined, {});
  }
  const cli = path.join(repoRoot(), 'dist', 'cli', 'main.js');
  if (!fs.existsSync(cli)) throw new ServerStartError(`${cli} is missing: run 'npm run build' first`);
  const dir = makeTempDir('tickbus-bench-broker-');
  const { args, security, note } = securedBroker(target, dir);
  const server = await startChildServer<{ url: string }>({
    name: 'tickbus broker',
    command: process.execPath,
    // Every bench client comes from 127.0.0.1: fanout 1→1,000 alone opens 1,000+ connections to one owner,
    // past the per-address default (1,000) that protects a real broker.
    args: [cli, 'broker', '--port', '0', '--owner-base-port', '0', '--data', dir, '--max-conns-per-ip', '100000', ...args],
    tempDir: dir,
    ready: (out) => firstJsonLine<{ url: string }>(out),
  });
  return connectedBroker(target, server.info.url, version + note, [server.pid], () => server.stop(), security);
}

/**
 * What makes tickbus-tls and tickbus-auth differ from tickbus, and nothing else: a certificate from a CA
 * made here (EC P-256, as a deployment would use) or a static token with an ACL that allows the bench
 * principal everything. The cost measured is then TLS on every socket, or the ACL check on every request.
 */
function securedBroker(target: TickbusTargetName, dir: string): { args: string[]; security: WireSecurity; note: string } {
  if (target === 'tickbus-tls') {
    const ssl = path.join(dir, 'tls');
    fs.mkdirSync(ssl);
    const run = (args: string[]): void => void execFileSync('openssl', args, { cwd: ssl, stdio: ['ignore', 'ignore', 'pipe'] });
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    run(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=tickbus-bench-ca']);
    run(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
    fs.writeFileSync(path.join(ssl, 'ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
    run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', '1', '-out', 'server.crt', '-days', '1', '-extfile', 'ext']);
    return {
      args: ['--tls-cert', path.join(ssl, 'server.crt'), '--tls-key', path.join(ssl, 'server.key')],
      security: { ca: fs.readFileSync(path.join(ssl, 'ca.crt'), 'utf8') },
      note: ' (TLS 1.3, EC P-256)',
    };
  }
  if (target === 'tickbus-auth') {
    const token = 'bench-' + Math.random().toString(36).slice(2);
    const tokens = path.join(dir, 'bench-tokens.json');
    fs.writeFileSync(tokens, JSON.stringify({ tokens: [{ principal: 'bench', token }] }));
    const ops = ['produce', 'consume', 'admin-create', 'admin-delete', 'admin-describe'];
    fs.writeFileSync(path.join(dir, 'acls.json'), JSON.stringify({ acls: ops.map((operation) => ({ principal: 'bench', operation, resourceType: 'topic', name: '', pattern: 'prefix', effect: 'allow' })) }));
    return { args: ['--tokens-file', tokens], security: { token }, note: ' (static token, ACLs)' };
  }
  return { args: [], security: {}, note: '' };
}

export type TickbusTargetName = Extract<TargetName, 'tickbus' | 'tickbus-sdk' | 'tickbus-tls' | 'tickbus-auth'>;

async function connectedBroker(
  target: TickbusTargetName,
  bootstrapUrl: string,
  version: string,
  pids: number[],
  stop: () => Promise<void>,
  security: WireSecurity,
): Promise<RunningServer> {
  let admin: WireConnection | null = null;
  const adminConn = async (): Promise<WireConnection> => (admin ??= await WireConnection.open(bootstrapUrl, 'tickbus-bench-admin', security));
  return {
    version,
    pids,
    prepare: async (spec) => {
      const r = await (await adminConn()).request({ type: 'CreateTopic', requestId: 0, name: spec.name, partitions: spec.partitions, config: null }, 'MetadataResult');
      if (r.type !== 'MetadataResult' || !r.topics[0]) throw new TargetError(`tickbus: CreateTopic '${spec.name}' answered ${r.type}`);
      const endpoints = [...r.topics[0].partitions].sort((a, b) => a.partition - b.partition).map((p) => p.endpoint);
      return { target, mode: spec.mode, url: bootstrapUrl, channel: spec.name, partitions: spec.partitions, extra: { endpoints, ...security } };
    },
    preload: async (ep, count, fill, onProgress) => {
      // Batches of 1,000 records, 8 produce requests in flight on one connection.
      const conn = await WireConnection.open(ownerUrls(ep)[0]!, 'tickbus-bench-preload', securityOf(ep));
      try {
        const BATCH = 1_000;
        const inflight = new Set<Promise<unknown>>();
        for (let i = 0; i < count; i += BATCH) {
          const end = Math.min(count, i + BATCH);
          const records = [];
          for (let s = i; s < end; s++) records.push({ value: fill(s).slice() });
          const p = conn.request({ type: 'Produce', requestId: 0, topic: ep.channel, partition: 0, acks: 'leader', batch: encodeBatch(records) }, 'ProduceAck');
          inflight.add(p);
          void p.finally(() => inflight.delete(p)).catch(() => undefined);
          if (inflight.size >= 8) await Promise.race(inflight);
          onProgress?.(end);
        }
        await Promise.all(inflight);
      } finally {
        await conn.close();
      }
    },
    release: async (ep) => {
      await (await adminConn()).request({ type: 'DeleteTopic', requestId: 0, name: ep.channel }, 'MetadataResult').catch(() => undefined);
    },
    stop: async () => {
      if (admin) await admin.close();
      await stop();
    },
  };
}

function tickbusVersion(): string {
  return `tickbus ${ownVersion()}`;
}
